"""Property tests of the captioner export over REST: any bytes in, a caption per image or a clear error.

Real images of any format, mode and size must be captioned; random bytes, text and truncated or corrupted
files must get either a caption or HTTP 400, never a crash. A batch is answered or refused as a whole.
"""

import io

import numpy as np
from hypothesis import strategies as st
from PIL import Image

from tests.serving.strategies import b64, check_any_request, check_property, not_strings

APP = "captioner"
SIGNATURES = ["serving_default", "greedy"]
MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")


@st.composite
def image_files(draw):
    """A real image file: JPEG, PNG, GIF or BMP; grey, RGB, RGBA or palette; 1 to 400 pixels a side."""
    file_format = draw(st.sampled_from(["JPEG", "PNG", "GIF", "BMP"]))
    modes = {"JPEG": ["L", "RGB"], "PNG": ["L", "RGB", "RGBA", "P"], "GIF": ["L", "P"], "BMP": ["L", "RGB", "P"]}
    mode = draw(st.sampled_from(modes[file_format]))
    width, height = draw(st.integers(1, 400)), draw(st.integers(1, 400))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format=file_format)
    return buffer.getvalue()


@st.composite
def damaged_files(draw):
    """A real image cut short, with bytes overwritten, or only its first bytes followed by noise."""
    data = bytearray(draw(image_files()))
    damage = draw(st.sampled_from(["truncate", "overwrite", "header_only"]))
    if damage == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    if damage == "overwrite":
        for _ in range(draw(st.integers(1, 20))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    return bytes(data[:draw(st.integers(2, 40))]) + draw(st.binary(max_size=200))


def test_real_images_get_one_caption_each(served, budget):
    def check(images, signature):
        captions = served.answer({"signature_name": signature, "instances": [b64(image) for image in images]})
        assert captions is not None, "a batch of real images was refused"
        assert len(captions) == len(images) and all(isinstance(caption, str) for caption in captions)

    check_property(budget, check, images=st.lists(image_files(), min_size=1, max_size=3),
                   signature=st.sampled_from(SIGNATURES))


def test_damaged_files_and_random_bytes_get_a_caption_or_an_error(served, budget):
    def check(payloads, signature):
        captions = served.answer({"signature_name": signature, "instances": [b64(data) for data in payloads]})
        if captions is not None:
            assert len(captions) == len(payloads)
        if any(not data.startswith(MAGIC) for data in payloads):  # refused before decoding, by its first bytes
            assert captions is None, "a payload that is not an image file was captioned"

    payloads = st.one_of(damaged_files(), st.binary(max_size=300), st.text(max_size=50).map(str.encode))
    check_property(budget, check, payloads=st.lists(payloads, min_size=1, max_size=3),
                   signature=st.sampled_from(SIGNATURES))


def test_text_and_numbers_instead_of_files_are_refused(served, budget):
    check_property(budget, lambda item: served.error({"instances": [item]}),
                   item=st.one_of(st.text(max_size=30).filter(lambda text: not text.encode().startswith(MAGIC)),
                                  not_strings))


def test_any_request_is_answered_or_refused(served, budget):
    check_any_request(served, budget, SIGNATURES, ["image_bytes"])
