"""The exported graph: one raw video in, a tag and class probabilities for every frame out.

    frames uint8 [time, height, width, 3]  ->  tags string [time], probabilities float32 [time, classes]

Bounds (anything else is refused with a message saying which bound): 1..MAX_FRAMES frames, sides
MIN_SIDE..MAX_SIDE pixels, at most MAX_PIXELS pixels in all (a 2,000-frame video up to 256x256). Frames are
resized and scaled in the graph (shared.vision.preprocess_pixels, as in training) and encoded CHUNK frames
at a time, so memory stays bounded whatever the video's length.
"""

from __future__ import annotations

import tensorflow as tf

from shared.vision import preprocess_pixels

MAX_FRAMES = 2000
MIN_SIDE, MAX_SIDE = 16, 1024
MAX_PIXELS = MAX_FRAMES * 256 * 256
CHUNK = 32


def check_frames(frames: tf.Tensor) -> tf.Tensor:
    """`frames` with static shape [None, None, None, 3], or an InvalidArgumentError naming the bound."""
    rank = tf.debugging.assert_rank(
        frames, 4, message="frames must be uint8 [time, height, width, 3]: one video per request")
    with tf.control_dependencies([rank]):
        shape = tf.shape(frames, out_type=tf.int64)
    checks = [
        tf.debugging.assert_equal(shape[3], tf.constant(3, tf.int64),
                                  message="frames must have 3 color channels (RGB) on the last axis"),
        tf.debugging.assert_greater(shape[0], tf.constant(0, tf.int64), message="the video has zero frames"),
        tf.debugging.assert_less_equal(shape[0], tf.constant(MAX_FRAMES, tf.int64),
                                       message=f"the video has more than {MAX_FRAMES} frames"),
        tf.debugging.assert_greater_equal(tf.reduce_min(shape[1:3]), tf.constant(MIN_SIDE, tf.int64),
                                          message=f"frame height and width must be at least {MIN_SIDE}"),
        tf.debugging.assert_less_equal(tf.reduce_max(shape[1:3]), tf.constant(MAX_SIDE, tf.int64),
                                       message=f"frame height and width must be at most {MAX_SIDE}"),
        tf.debugging.assert_less_equal(shape[0] * shape[1] * shape[2], tf.constant(MAX_PIXELS, tf.int64),
                                       message=f"the video has more than {MAX_PIXELS} pixels in all"),
    ]
    with tf.control_dependencies(checks):
        return tf.ensure_shape(tf.identity(frames), [None, None, None, 3])


def make_serving_function(frame_encoder, tagger, class_names: list[str], image_size: int):
    """The `serving_default` function: uint8 frames -> {"tags", "probabilities"}."""
    names = tf.constant(class_names)
    feature_dim = frame_encoder.output_shape[-1]

    def encode(chunk):
        return frame_encoder(preprocess_pixels(chunk, image_size), training=False)

    def serve(frames):
        frames = check_frames(frames)
        time = tf.shape(frames)[0]
        padded = (time + CHUNK - 1) // CHUNK * CHUNK
        frames = tf.pad(frames, [[0, padded - time], [0, 0], [0, 0], [0, 0]])
        chunks = tf.reshape(frames, tf.concat([[-1, CHUNK], tf.shape(frames)[1:]], axis=0))
        features = tf.map_fn(encode, chunks, fn_output_signature=tf.TensorSpec([CHUNK, feature_dim], tf.float32))
        features = tf.reshape(features, [-1, feature_dim])[:time]
        logits = tagger([features[None], tf.reshape(time, [1])], training=False)[0]
        probabilities = tf.nn.softmax(logits[:, 1:])  # logit 0 is padding: never an answer
        return {"tags": tf.gather(names, tf.argmax(probabilities, axis=-1)), "probabilities": probabilities}

    return serve


def serving_signature():
    """The input signature: any rank, so that a wrong rank gets our message rather than a shape error."""
    return [tf.TensorSpec(None, tf.uint8, name="frames")]
