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
    """`frames` with static shape [None, None, None, 3], or an InvalidArgumentError naming the bound.

    One assertion carries the message of the first bound broken (rank first), so a request breaking
    several bounds is told about the most basic one.
    """
    # Four dimensions whatever the rank (missing ones read as 0), so computing a check never fails.
    shape = tf.concat([tf.shape(frames, out_type=tf.int64), tf.zeros([4], tf.int64)], axis=0)[:4]
    side_min, side_max = tf.reduce_min(shape[1:3]), tf.reduce_max(shape[1:3])
    problems = [
        (tf.not_equal(tf.rank(frames), 4), "frames must be uint8 [time, height, width, 3]: one video per request"),
        (tf.not_equal(shape[3], 3), "frames must have 3 color channels (RGB) on the last axis"),
        (tf.equal(shape[0], 0), "the video has zero frames"),
        (shape[0] > MAX_FRAMES, f"the video has more than {MAX_FRAMES} frames"),
        (side_min < MIN_SIDE, f"frame height and width must be at least {MIN_SIDE}"),
        (side_max > MAX_SIDE, f"frame height and width must be at most {MAX_SIDE}"),
        (shape[0] * shape[1] * shape[2] > MAX_PIXELS, f"the video has more than {MAX_PIXELS} pixels in all"),
    ]
    broken = tf.stack([condition for condition, _ in problems])
    first = tf.argmax(tf.cast(broken, tf.int32))
    message = tf.gather(tf.constant([text for _, text in problems]), first)
    check = tf.debugging.Assert(tf.logical_not(tf.reduce_any(broken)), [message])
    with tf.control_dependencies([check]):
        # A reshape, not tf.ensure_shape: Grappler took ensure_shape's [.., 3] as a promise about the input
        # and folded tf.rank(frames) above to 4, so a 3-D request escaped the rank check.
        return tf.reshape(frames, [shape[0], shape[1], shape[2], 3])


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
