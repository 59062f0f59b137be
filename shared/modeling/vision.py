"""Images in, feature vectors out: the encoder the captioner and the video tagger share.

Home of: image bytes -> encoder input (`decode_and_preprocess`, with the decompression-bomb header
checks) and the image encoder (`build_encoder`).

One function turns raw bytes into the encoder's input (`decode_and_preprocess`) and is used in both places
that need it: `apps/captioner/cache.py` when it caches features, and the exported serving graph. The cache
and the server therefore see identical pixels, and a test holds them to it.

Decompression bombs: a file of a few hundred bytes may declare 13376 x 13376 pixels. Before decoding, the
graph reads the declared size from the file's header (JPEG frame header, PNG IHDR, GIF screen and first
image descriptor, BMP info header; core ops only) and refuses more than MAX_PIXELS. Only a GIF's first
frame is decoded (the file is cut after it): the other frames, which the decoder would otherwise expand
all at once, cost nothing. Pixels are resized as uint8 and become float32 only at the output size, and a
batch is decoded one image at a time, so one request holds at most one full-size image.

Encoder weights (`build_encoder(weights=...)`):
    "imagenet"   Keras' ImageNet InceptionV3 (downloaded on first use; needs internet);
    a file path  the same weights from a local .h5 / .weights.h5 file;
    None         random initialisation, to be trained on the task's own data.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

# InceptionV3's native input size; smaller sizes (>= 75) trade accuracy for speed.
INCEPTION_SIZE = 299
# JPEG, PNG, GIF and BMP start with these bytes: anything else is refused before decoding.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")
# The most pixels (width x height, as the header declares them) one image may have: 25 megapixels covers a
# 24-megapixel camera photo (6000 x 4000) and decodes to 75 MB of RGB.
MAX_PIXELS = 25_000_000
# Header walks are bounded: JPEG segments before the frame header, GIF blocks up to the end of frame one
# (20,000 blocks hold up to 5 MB of compressed first frame, far more than a 25-megapixel GIF frame needs).
MAX_JPEG_SEGMENTS = 1000
MAX_GIF_BLOCKS = 20_000


def is_image(image_bytes: tf.Tensor) -> tf.Tensor:
    """True where a string holds a JPEG, PNG, GIF or BMP file (judged by its first bytes)."""
    checks = [tf.equal(tf.strings.substr(image_bytes, 0, len(magic)), magic) for magic in _MAGIC]
    return tf.reduce_any(tf.stack(checks), axis=0)


def decode_and_preprocess(image_bytes: tf.Tensor, size: int, max_pixels: int = MAX_PIXELS) -> tf.Tensor:
    """One image file (string scalar) -> float32 [size, size, 3] in [-1, 1] (InceptionV3's scaling).

    Grey and RGBA images become RGB; animated GIFs keep their first frame; any size is resized (bilinear,
    aspect ratio not kept, as the Flickr8k images were squashed). A payload that is not an image, or one
    whose header declares more than `max_pixels` pixels, raises InvalidArgumentError saying so.
    """
    check = tf.debugging.assert_equal(is_image(image_bytes), True,
                                      message="image_bytes is not a JPEG, PNG, GIF or BMP file")
    with tf.control_dependencies([check]):
        image_bytes = checked_image_file(image_bytes, max_pixels)
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False, dtype=tf.uint8)
    return preprocess_pixels(image, size)


def preprocess_pixels(pixels: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 pixels [..., height, width, 3] -> float32 [..., size, size, 3] in [-1, 1].

    Resized as they are (the resize computes in float32 anyway: identical values) and only then scaled,
    so a large image is never held as float32 at full size (4x its uint8 bytes).
    """
    image = tf.cast(tf.image.resize(pixels, [size, size], method="bilinear", antialias=True), tf.float32)
    return image / 127.5 - 1.0  # = keras.applications.inception_v3.preprocess_input


def decode_batch(image_bytes: tf.Tensor, size: int, max_pixels: int = MAX_PIXELS) -> tf.Tensor:
    """string [batch] of image files -> float32 [batch, size, size, 3], decoded one image at a time."""
    return tf.map_fn(lambda one: decode_and_preprocess(one, size, max_pixels), image_bytes,
                     fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32), parallel_iterations=1)


# ------------------------------------------------------------------------------- declared image size
def checked_image_file(image_bytes: tf.Tensor, max_pixels: int = MAX_PIXELS) -> tf.Tensor:
    """An image file (string scalar) -> the bytes to decode, after refusing one that declares too many pixels.

    A GIF comes back cut after its first frame (plus the trailer byte), so only that frame is decoded.
    A header that cannot be read (truncated or damaged file) is refused too: its size is unknown.
    """
    _, height, width, readable, to_decode = _read_header(image_bytes, max_pixels)
    checks = [tf.debugging.assert_equal(readable, True, message=(
        "could not read the image size from its header (truncated or damaged file)")),
        tf.debugging.Assert(height * width <= max_pixels, [
            f"limit: at most {max_pixels:,} pixels ({max_pixels / 1e6:g} megapixels) per image; "
            "its header declares width x height =", width, "x", height])]
    with tf.control_dependencies(checks):
        return tf.identity(to_decode)


def declared_image_size(image_bytes: tf.Tensor) -> tf.Tensor:
    """int64 [height, width] that a JPEG or PNG file's header declares, read WITHOUT decoding the pixels;
    [-1, -1] for any other payload or an unreadable header. For a server that checks a whole request (the
    video tagger's frames) against its limits before it pays for any decode: a few hundred bytes can declare
    a 60,000 x 60,000 image. The same header reader as `checked_image_file`."""
    file_format, height, width, readable, _ = _read_header(image_bytes, MAX_PIXELS)
    jpeg_or_png = tf.logical_and(is_image(image_bytes), file_format <= 1)  # _MAGIC's first two
    return tf.where(tf.logical_and(readable, jpeg_or_png), tf.stack([height, width]),
                    tf.constant([-1, -1], tf.int64))


def _read_header(image_bytes: tf.Tensor, max_pixels: int):
    """(format index in _MAGIC, height, width, header readable, bytes to decode) of one image file, from its
    header alone, with core ops (no pixel is decoded)."""
    data = tf.io.decode_raw(image_bytes, tf.uint8)
    data = tf.concat([data, tf.zeros([16], tf.uint8)], axis=0)  # reads past the end see zeros
    size = tf.size(data, out_type=tf.int64) - 16

    def byte(position):
        return tf.cast(tf.gather(data, tf.clip_by_value(tf.cast(position, tf.int64), 0, size)), tf.int64)

    def number(position, count, big_endian):
        digits = [byte(position + i) for i in range(count)]
        digits = digits if big_endian else digits[::-1]
        value = tf.constant(0, tf.int64)
        for digit in digits:
            value = value * 256 + digit
        return value

    file_format = tf.argmax(tf.cast(tf.stack([tf.equal(tf.strings.substr(image_bytes, 0, len(magic)), magic)
                                              for magic in _MAGIC]), tf.int32), output_type=tf.int32)
    whole = lambda height, width, ok: (height, width, ok, image_bytes)  # noqa: E731
    height, width, readable, to_decode = tf.switch_case(file_format, [
        lambda: whole(*_jpeg_size(byte, number, size)),
        lambda: whole(number(20, 4, True), number(16, 4, True), size >= 24),  # IHDR is the first chunk
        lambda: _gif_first_frame(image_bytes, byte, number, size, max_pixels),
        # BITMAPINFOHEADER: int32 width and height (negative height: rows stored top-down).
        lambda: whole(tf.abs(_signed32(number(22, 4, False))), tf.abs(_signed32(number(18, 4, False))), size >= 26),
    ])
    return file_format, height, width, readable, to_decode


def _signed32(value):
    return tf.where(value >= 2**31, value - 2**32, value)


def _where(condition, yes, no):
    """tf.where for the int64 header numbers, with Python ints allowed on either side."""
    return tf.where(condition, tf.cast(yes, tf.int64), tf.cast(no, tf.int64))


def _jpeg_size(byte, number, size):
    """(height, width, found) from the first frame header (SOFn), walking the segments before it."""
    def step(position, steps, height, width, state):  # state: 0 walking, 1 found, 2 unreadable
        marker = byte(position + 1)
        is_frame = (marker >= 0xC0) & (marker <= 0xCF) & (marker != 0xC4) & (marker != 0xC8) & (marker != 0xCC)
        standalone = tf.equal(marker, 0x01) | ((marker >= 0xD0) & (marker <= 0xD7))
        length = number(position + 2, 2, True)
        broken = tf.not_equal(byte(position), 0xFF) | (marker >= 0xD8) & (marker <= 0xDA) | (
            ~is_frame & ~standalone & (marker != 0xFF) & (length < 2))
        fill = tf.equal(marker, 0xFF)  # fill bytes before a marker
        advance = _where(fill, 1, _where(standalone, 2, 2 + length))
        state = _where(broken, 2, _where(is_frame, 1, 0))
        return (position + _where(state == 0, advance, 0), steps + 1,
                _where(is_frame, number(position + 5, 2, True), height),
                _where(is_frame, number(position + 7, 2, True), width), state)

    zero = tf.constant(0, tf.int64)
    _, _, height, width, state = tf.while_loop(
        lambda position, steps, height, width, state: (state == 0) & (steps < MAX_JPEG_SEGMENTS) & (position < size),
        step, (tf.constant(2, tf.int64), zero, zero, zero, zero))
    return height, width, tf.equal(state, 1)


def _gif_first_frame(image_bytes, byte, number, size, max_pixels):
    """(height, width, readable, the file cut after frame one): the larger of screen and first frame."""
    screen_height, screen_width = number(8, 2, False), number(6, 2, False)
    flags = byte(10)
    start = 13 + _where(flags >= 128, 3 * 2 ** (flags % 8 + 1), 0)  # after the global colour table

    def step(position, steps, phase, frame_height, frame_width):
        """phase 0: at a block; 1: in an extension's sub-blocks; 2: in frame one's; 3: done; 4: unreadable."""
        here = byte(position)
        local_table = _where(byte(position + 9) >= 128, 3 * 2 ** (byte(position + 9) % 8 + 1), 0)
        at_block = tf.equal(phase, 0)
        is_frame = at_block & tf.equal(here, 0x2C)
        next_phase = _where(at_block, _where(tf.equal(here, 0x21), 1, _where(is_frame, 2, 4)),
                              _where(tf.equal(here, 0), _where(phase == 1, 0, 3), phase))
        advance = _where(at_block, _where(is_frame, 11 + local_table, 2), 1 + here)
        return (position + advance, steps + 1, next_phase,
                _where(is_frame, number(position + 7, 2, False), frame_height),
                _where(is_frame, number(position + 5, 2, False), frame_width))

    zero = tf.constant(0, tf.int64)
    end, _, phase, frame_height, frame_width = tf.while_loop(
        lambda position, steps, phase, *_: (phase < 3) & (steps < MAX_GIF_BLOCKS) & (position < size),
        step, (start, zero, zero, zero, zero))
    # Either size may be the larger; refusing the larger area bounds both the canvas and the frame.
    larger = screen_height * screen_width >= frame_height * frame_width
    return (tf.where(larger, screen_height, frame_height), tf.where(larger, screen_width, frame_width),
            tf.equal(phase, 3), tf.strings.substr(image_bytes, 0, tf.cast(end, tf.int32)) + b"\x3b")


def build_encoder(weights: str | None = "imagenet", size: int = INCEPTION_SIZE, pooling: str = "avg",
                  name: str = "inception_v3") -> keras.Model:
    """InceptionV3 without its classifier: [batch, size, size, 3] in [-1, 1] -> features.

    Args:
        weights: "imagenet", a path to a weights file, or None (random; train it yourself).
        size: input height and width (75 or more).
        pooling: "avg" -> [batch, 2048]; None -> the spatial map [batch, h, w, 2048] (for attention).
    """
    if size < 75:
        raise ValueError(f"InceptionV3 needs images of at least 75x75 pixels, got size={size}.")
    if weights not in (None, "imagenet") and not os.path.exists(weights):
        raise FileNotFoundError(
            f"encoder weights file {weights} does not exist. Use --inception-weights imagenet (download, "
            f"internet needed), a local copy of inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5, "
            f"or none to train the encoder here.")
    base = keras.applications.InceptionV3(include_top=False, weights=weights, input_shape=(size, size, 3),
                                          pooling=pooling)
    return keras.Model(base.inputs, base.output, name=name)
