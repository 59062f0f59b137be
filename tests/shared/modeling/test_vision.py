"""shared/modeling/vision.py's declared-size check: image headers read in the graph, bombs refused before decoding."""

import functools
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from shared.modeling.vision import MAX_PIXELS, checked_image_file, decode_and_preprocess, decode_batch, preprocess_pixels

FORMATS = ["JPEG", "PNG", "GIF", "BMP"]


def _file(width, height, file_format, seed=0, **save):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=file_format, **save)
    return buffer.getvalue()


@functools.cache
def _graph(max_pixels):
    """decode_and_preprocess as the export runs it: one traced graph (eager runs the header walk op by op)."""
    return tf.function(lambda data: decode_and_preprocess(data, 75, max_pixels))


def _decoded(data, max_pixels=MAX_PIXELS):
    return _graph(max_pixels)(tf.constant(data))


def _refusal(data, max_pixels=MAX_PIXELS):
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        _decoded(data, max_pixels)
    return error.value.message


@pytest.mark.parametrize("file_format", FORMATS)
def test_an_image_at_the_pixel_limit_is_decoded_and_one_pixel_row_more_is_refused(file_format):
    assert _decoded(_file(40, 25, file_format), 1000).shape == (75, 75, 3)
    message = _refusal(_file(40, 26, file_format), max_pixels=1000)
    assert "limit: at most 1,000 pixels" in message and "[40] [x] [26]" in message


def test_progressive_jpeg_and_grey_png_headers_are_read():
    assert _decoded(_file(40, 25, "JPEG", progressive=True), 1000).shape == (75, 75, 3)
    grey = io.BytesIO()
    Image.new("L", (40, 26)).save(grey, format="PNG")
    assert "at most 1,000 pixels" in _refusal(grey.getvalue(), max_pixels=1000)


def _with_jpeg_size(data, width, height):
    data = bytearray(data)
    frame = data.find(b"\xff\xc0")
    data[frame + 5:frame + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def test_a_tiny_jpeg_declaring_13376_squared_pixels_is_refused_from_its_header():
    bomb = _with_jpeg_size(_file(8, 8, "JPEG"), 13376, 13376)
    assert len(bomb) < 1000 and "[13376] [x] [13376]" in _refusal(bomb)


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\0\0", b"\xff\xd8\xff\xe0\0\x10JFIF", b"GIF89a\x10\0\x10\0",
                                  b"\xff\xd8\xff" + b"\xff" * 5000])
def test_a_header_that_cannot_be_read_is_refused(data):
    assert "could not read the image size" in _refusal(data)


def _animated_gif(frames, width=30, height=20):
    images = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (height, width, 3), dtype=np.uint8))
              for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=40)
    return buffer.getvalue()


def test_only_the_first_frame_of_a_gif_is_decoded():
    animated = _animated_gif(50)
    first_frame = checked_image_file(tf.constant(animated)).numpy()
    assert len(first_frame) < len(animated) / 10 and first_frame.endswith(b"\x3b")
    expected = tf.io.decode_gif(animated)[0]  # what the decoder made of frame one, reading them all
    assert np.array_equal(tf.io.decode_image(first_frame, channels=3, expand_animations=False), expected)


def test_resizing_uint8_pixels_equals_resizing_them_as_float():
    pixels = np.random.default_rng(1).integers(0, 256, (2, 101, 67, 3), dtype=np.uint8)
    before = tf.image.resize(tf.cast(pixels, tf.float32), [75, 75], antialias=True) / 127.5 - 1.0
    np.testing.assert_allclose(preprocess_pixels(pixels, 75), before, atol=1e-6)


def test_a_batch_is_decoded_in_order_one_image_at_a_time():
    files = [_file(20 + i, 30, file_format, seed=i) for i, file_format in enumerate(FORMATS)]
    batch = tf.function(lambda files: decode_batch(files, 75))(tf.constant(files))
    for i, data in enumerate(files):
        np.testing.assert_array_equal(batch[i], _decoded(data))
