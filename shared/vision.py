"""Images in, feature vectors out: the encoder the captioner and the video tagger share.

One function turns raw bytes into the encoder's input (`decode_and_preprocess`) and is used in both places
that need it: `prepare.py` when it caches features, and the exported serving graph. The cache and the server
therefore see identical pixels, and a test holds them to it.

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


def is_image(image_bytes: tf.Tensor) -> tf.Tensor:
    """True where a string holds a JPEG, PNG, GIF or BMP file (judged by its first bytes)."""
    checks = [tf.equal(tf.strings.substr(image_bytes, 0, len(magic)), magic) for magic in _MAGIC]
    return tf.reduce_any(tf.stack(checks), axis=0)


def decode_and_preprocess(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """One image file (string scalar) -> float32 [size, size, 3] in [-1, 1] (InceptionV3's scaling).

    Grey and RGBA images become RGB; animated GIFs keep their first frame; any size is resized (bilinear,
    aspect ratio not kept, as the Flickr8k images were squashed). A payload that is not an image raises
    InvalidArgumentError with a message saying so.
    """
    tf.debugging.assert_equal(is_image(image_bytes), True,
                              message="image_bytes is not a JPEG, PNG, GIF or BMP file")
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False, dtype=tf.uint8)
    return preprocess_pixels(image, size)


def preprocess_pixels(pixels: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 pixels [..., height, width, 3] -> float32 [..., size, size, 3] in [-1, 1]."""
    image = tf.image.resize(tf.cast(pixels, tf.float32), [size, size], method="bilinear", antialias=True)
    return image / 127.5 - 1.0  # = keras.applications.inception_v3.preprocess_input


def decode_batch(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """string [batch] of image files -> float32 [batch, size, size, 3]."""
    return tf.map_fn(lambda one: decode_and_preprocess(one, size), image_bytes,
                     fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))


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


def declared_image_size(image_bytes: tf.Tensor) -> tf.Tensor:
    """int64 [height, width] that a JPEG or PNG file's header declares, read WITHOUT decoding the pixels;
    [-1, -1] for any other payload. A server checks this against its limits before it pays for a decode:
    a few hundred bytes can declare a 60,000 x 60,000 image."""
    def png():  # IHDR: width, height as big-endian uint32 at bytes 16..23 (padded so short strings read 0)
        header = tf.io.decode_raw(tf.strings.substr(tf.strings.join([image_bytes, "\0" * 24]), 16, 8), tf.uint8)
        number = tf.reduce_sum(tf.reshape(tf.cast(header, tf.int64), [2, 4]) * [2 ** 24, 2 ** 16, 2 ** 8, 1], 1)
        return tf.stack([number[1], number[0]])

    is_jpeg = tf.equal(tf.strings.substr(image_bytes, 0, 3), _MAGIC[0])
    is_png = tf.equal(tf.strings.substr(image_bytes, 0, 4), _MAGIC[1])
    return tf.cond(is_jpeg, lambda: tf.io.extract_jpeg_shape(image_bytes, output_type=tf.int64)[:2],
                   lambda: tf.cond(is_png, png, lambda: tf.constant([-1, -1], tf.int64)))
