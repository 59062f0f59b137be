"""The exported graphs: one video in, a tag and class probabilities for every frame out.

    serving_default  frames uint8 [time, height, width, 3]           -> tags string [time], probabilities
    jpeg_frames      frames string [time] (one JPEG or PNG per frame) -> tags, probabilities
    stream           (streaming.py) one chunk of a video and the previous answer's state -> tags, ..., state

Limits (anything else is refused with an InvalidArgument naming the limit): 1..max_frames frames per
request (MAX_FRAMES = 2000 for the small CNN; MAX_FRAMES_INCEPTION = 256 for InceptionV3, about 0.1 s of
CPU a frame), sides MIN_SIDE..MAX_SIDE pixels, at most MAX_PIXELS pixels in all. For jpeg_frames the sides
and pixels are those each file's header declares, checked before anything is decoded, and each file may
have at most MAX_FRAME_BYTES bytes (MAX_REQUEST_BYTES in all). Frames are resized and scaled in the graph
(shared.modeling.vision, as in training) and encoded CHUNK frames at a time, the last chunk as short as the video
leaves it (nothing is padded: one frame costs one frame), so memory stays bounded whatever the length.
"""

from __future__ import annotations

import tensorflow as tf

from apps.video_tagger.model import with_motion
from shared.modeling.vision import declared_image_size, decode_batch, preprocess_pixels

MAX_FRAMES = 2000
MAX_FRAMES_INCEPTION = 256
MIN_SIDE, MAX_SIDE = 16, 1024
MAX_PIXELS = MAX_FRAMES * 256 * 256
MAX_FRAME_BYTES = 4 * 2 ** 20
MAX_REQUEST_BYTES = 64 * 2 ** 20
CHUNK = 32


def refuse_first(problems: list[tuple[tf.Tensor, str]]) -> tf.Operation:
    """One assertion that carries the message of the first broken condition (True = broken), so a
    request breaking several limits is told about the most basic one."""
    broken = tf.stack([condition for condition, _ in problems])
    message = tf.gather(tf.constant([text for _, text in problems]), tf.argmax(tf.cast(broken, tf.int32)))
    return tf.debugging.Assert(tf.logical_not(tf.reduce_any(broken)), [message])


def _size_problems(count, heights, widths, max_frames: int, what: str) -> list:
    return [(tf.equal(count, 0), "the video has zero frames"),
            (count > max_frames, f"the video has more than {max_frames} frames (the limit per request)"),
            (tf.reduce_min(tf.minimum(heights, widths)) < MIN_SIDE,
             f"{what} height and width must be at least {MIN_SIDE}"),
            (tf.reduce_max(tf.maximum(heights, widths)) > MAX_SIDE,
             f"{what} height and width must be at most {MAX_SIDE}"),
            (tf.reduce_sum(heights * widths) > MAX_PIXELS, f"the video has more than {MAX_PIXELS} pixels in all")]


def check_frames(frames: tf.Tensor, max_frames: int = MAX_FRAMES) -> tf.Tensor:
    """`frames` with static shape [None, None, None, 3], or an InvalidArgumentError naming the limit."""
    # Four dimensions whatever the rank (missing ones read as 0), so computing a check never fails.
    shape = tf.concat([tf.shape(frames, out_type=tf.int64), tf.zeros([4], tf.int64)], axis=0)[:4]
    check = refuse_first([
        (tf.not_equal(tf.rank(frames), 4), "frames must be uint8 [time, height, width, 3]: one video per request"),
        (tf.not_equal(shape[3], 3), "frames must have 3 color channels (RGB) on the last axis"),
        *_size_problems(shape[0], shape[1:2], shape[2:3], max_frames, "frame")])
    with tf.control_dependencies([check]):
        # A reshape, not tf.ensure_shape: Grappler took ensure_shape's [.., 3] as a promise about the input
        # and folded tf.rank(frames) above to 4, so a 3-D request escaped the rank check.
        return tf.reshape(frames, [shape[0], shape[1], shape[2], 3])


def check_image_frames(frames: tf.Tensor, max_frames: int) -> tf.Tensor:
    """string [time] of JPEG/PNG files, each header within the limits, or an InvalidArgumentError."""
    flat = tf.reshape(frames, [-1])
    lengths = tf.strings.length(flat)
    basic = refuse_first([
        (tf.not_equal(tf.rank(frames), 1), "frames must be a string [time]: one JPEG or PNG file per frame"),
        (tf.equal(tf.size(flat), 0), "the video has zero frames"),
        (tf.size(flat) > max_frames, f"the video has more than {max_frames} frames (the limit per request)"),
        (tf.reduce_max(tf.concat([lengths, [0]], 0)) > MAX_FRAME_BYTES,
         f"a frame file has more than {MAX_FRAME_BYTES} bytes"),
        (tf.reduce_sum(tf.cast(lengths, tf.int64)) > MAX_REQUEST_BYTES,
         f"the frame files have more than {MAX_REQUEST_BYTES} bytes in all")])
    with tf.control_dependencies([basic]):  # headers are read only once the count and sizes are sane
        sizes = tf.map_fn(declared_image_size, flat, fn_output_signature=tf.TensorSpec([2], tf.int64))
    check = refuse_first([
        (tf.reduce_any(sizes < 0), "every frame must be a JPEG or PNG file"),
        *_size_problems(tf.size(flat), sizes[:, 0], sizes[:, 1], max_frames, "declared frame")])
    with tf.control_dependencies([check]):
        return tf.identity(flat)


def encode_in_chunks(pixels_of, time, encode, previous, feature_dim: int):
    """(features [time, F], the last frame's pixels) of frames 0..time-1, CHUNK frames at a time.

    `pixels_of(start, end)` gives float pixels [end - start, s, s, 3]; `encode(pixels, previous)` their
    features, where `previous` is the frame before `pixels` (the motion input needs it).
    """
    def body(start, previous, features):
        end = tf.minimum(start + CHUNK, time)
        pixels = pixels_of(start, end)
        return end, pixels[-1], features.write(start // CHUNK, encode(pixels, previous))

    array = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False,
                           element_shape=tf.TensorShape([None, feature_dim]))
    _, last, array = tf.while_loop(lambda start, *_: start < time, body, [tf.constant(0, time.dtype), previous, array])
    return array.concat(), last


def frame_encoding(frame_encoder, motion: str | None):
    """encode(pixels [n, s, s, 3], previous [s, s, 3]) -> features [n, F], as the trained model saw them."""
    def encode(pixels, previous):
        inputs = with_motion(pixels[None], previous[None], motion)[0] if motion else pixels
        return frame_encoder(inputs, training=False)
    return encode


def answer(logits: tf.Tensor, names: tf.Tensor) -> dict:
    probabilities = tf.nn.softmax(logits[:, 1:])  # logit 0 is padding: never an answer
    return {"tags": tf.gather(names, tf.argmax(probabilities, axis=-1)), "probabilities": probabilities}


def make_serving_function(frame_encoder, tagger, class_names: list[str], image_size: int, motion: str | None = None,
                          max_frames: int = MAX_FRAMES, encoded: bool = False):
    """`serving_default` (uint8 frames) or, with `encoded`, `jpeg_frames` (string [time] of image files)."""
    names, feature_dim = tf.constant(class_names), frame_encoder.output_shape[-1]
    encode = frame_encoding(frame_encoder, motion)

    def serve(frames):
        if encoded:
            frames = check_image_frames(frames, max_frames)
            pixels_of = lambda start, end: decode_batch(frames[start:end], image_size)  # noqa: E731
        else:
            frames = check_frames(frames, max_frames)
            pixels_of = lambda start, end: preprocess_pixels(frames[start:end], image_size)  # noqa: E731
        time = tf.shape(frames)[0]
        features, _ = encode_in_chunks(pixels_of, time, encode, pixels_of(0, 1)[0], feature_dim)
        return answer(tagger([features[None], tf.reshape(time, [1])], training=False)[0], names)

    return serve


def serving_signature():
    """The input signature: any rank, so that a wrong rank gets our message rather than a shape error."""
    return [tf.TensorSpec(None, tf.uint8, name="frames")]


def jpeg_signature():
    return [tf.TensorSpec(None, tf.string, name="frames")]
