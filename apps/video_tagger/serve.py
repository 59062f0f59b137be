"""The exported graphs: one video in, a tag and class probabilities for every frame out.

    serving_default  frames uint8 [time, height, width, 3]           -> tags string [time], probabilities
    jpeg_frames      frames string [time] (one JPEG or PNG per frame) -> tags, probabilities
    stream           frames (one chunk of a video) and state float32 [n] ([] starts a new video; else the
                     `state` of the previous answer) -> tags, probabilities, state float32 [n]

Limits (anything else is refused with an InvalidArgument naming the limit): 1..max_frames frames per
request (MAX_FRAMES = 2000 for the small CNN; MAX_FRAMES_INCEPTION = 256 for InceptionV3, about 0.1 s of
CPU a frame), sides MIN_SIDE..MAX_SIDE pixels, at most MAX_PIXELS pixels in all. For jpeg_frames the sides
and pixels are those each file's header declares, checked before anything is decoded, and each file may
have at most MAX_FRAME_BYTES bytes (MAX_REQUEST_BYTES in all). Frames are resized and scaled in the graph
(shared.modeling.vision, as in training) and encoded CHUNK frames at a time, the last chunk as short as the
video leaves it (nothing is padded: one frame costs one frame), so memory stays bounded whatever the length.

`stream` tags a live video chunk by chunk while TF Serving stays stateless. The state is everything the
causal model carries from one frame to the next: the last frame's pixels (the motion input is each frame's
difference from the frame before; motion_cnn and difference_cnn) and every recurrent layer's state. The
client keeps it and sends it back with the next chunk, so any replica can answer any chunk, and the tags of
a video fed chunk by chunk are the causal model's tags of the whole video (a test holds them to it). Only
models that never look ahead have it: `--temporal causal` and the per-frame `none`.

`example_requests` gives the REST requests the rest of the project sends: the demo (apps/run_all.py), and
the export's bare-TF check and TF Serving warm-up records (train.py).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from apps.video_tagger.data import generate_videos
from apps.video_tagger.encoder import with_motion
from shared.modeling.cells import CELLS, state_count
from shared.modeling.limits import refuse_first
from shared.modeling.vision import declared_image_size, decode_batch, preprocess_pixels
from shared.runtime.serving import ExampleRequest, b64

MAX_FRAMES = 2000
MAX_FRAMES_INCEPTION = 256
MIN_SIDE, MAX_SIDE = 16, 1024
MAX_PIXELS = MAX_FRAMES * 256 * 256
MAX_FRAME_BYTES = 4 * 2 ** 20
MAX_REQUEST_BYTES = 64 * 2 ** 20
CHUNK = 32
CHECK_FRAMES = 6  # frames of a test video sent to the export in the bare-TF check
DEMO_FRAMES = 12  # frames of the generated demo video (apps/run_all.py)


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


def recurrent_layers(tagger, config) -> list:
    """The tagger's recurrent layers in order (none for the per-frame baseline)."""
    return [tagger.get_layer(f"{config.cell}_{i}") for i in range(config.layers)] if config.temporal == "causal" else []


def build_stream_layers(tagger, config) -> list:
    """Copies of the trained recurrent layers that also take and return their state (same weights)."""
    copies = []
    for layer in recurrent_layers(tagger, config):
        copy = CELLS[config.cell].from_config({**layer.get_config(), "return_state": True,
                                               "name": f"{layer.name}_stream"})
        copy(keras.ops.zeros((1, 1, layer.get_weights()[0].shape[0])))  # builds it: then the weights can be copied
        copy.set_weights(layer.get_weights())
        copies.append(copy)
    return copies


def state_sizes(config, stream_layers) -> list[int]:
    """Sizes of the parts of the state: the previous frame's pixels (with a motion input), then each
    layer's: its units times its state count (an LSTM carries h and c)."""
    pixels = [config.size * config.size * 3] if config.motion else []
    return pixels + [layer.units * state_count(layer) for layer in stream_layers]


def make_stream_function(frame_encoder, tagger, stream_layers, class_names, config, max_frames=MAX_FRAMES):
    """The `stream` function: (frames of one chunk, state) -> {"tags", "probabilities", "state"}."""
    names, feature_dim, size = tf.constant(class_names), frame_encoder.output_shape[-1], config.size
    sizes = state_sizes(config, stream_layers)
    total = sum(sizes)
    encode = frame_encoding(frame_encoder, config.motion)

    def stream(frames, state):
        frames = check_frames(frames, max_frames)
        check = refuse_first([
            (tf.not_equal(tf.rank(state), 1), "state must be float32 [n]: [] for a new video"),
            (tf.logical_and(tf.not_equal(tf.size(state), 0), tf.not_equal(tf.size(state), total)),
             f"state must be [] (a new video) or the {total} numbers the previous answer returned")])
        with tf.control_dependencies([check]):
            fresh = tf.equal(tf.size(state), 0)
            state = tf.cond(fresh, lambda: tf.zeros([total]), lambda: tf.reshape(state, [total]))
        parts = tf.split(state, sizes) if sizes else []
        pixels_of = lambda start, end: preprocess_pixels(frames[start:end], size)  # noqa: E731
        previous = pixels_of(0, 1)[0]  # a new video: the first frame has no motion (as in training)
        if config.motion:
            previous = tf.cond(fresh, lambda: previous, lambda: tf.reshape(parts.pop(0), [size, size, 3]))
        features, last = encode_in_chunks(pixels_of, tf.shape(frames)[0], encode, previous, feature_dim)
        x, new_state = features[None], [tf.reshape(last, [-1])] if config.motion else []
        if config.temporal == "none":
            x = tagger.get_layer("per_frame_hidden")(x)
        for layer, part in zip(stream_layers, parts):
            carried = tf.split(part[None], state_count(layer), axis=-1)  # LSTM: [h, c]; GRU, RNN: [h]
            x, *states = layer(x, initial_state=carried, training=False)
            new_state += [tf.reshape(s, [-1]) for s in states]
        result = answer(tagger.get_layer("logits")(x)[0], names)
        result["state"] = tf.concat(new_state, 0) if new_state else tf.zeros([0])
        return result

    return stream


def stream_signature():
    """Any rank and length, so a wrong one gets the function's own message."""
    return [tf.TensorSpec(None, tf.uint8, name="frames"), tf.TensorSpec(None, tf.float32, name="state")]


def export_endpoints(config, frame_encoder, tagger, class_names) -> tuple[dict, list]:
    """({signature name: (function, input signature)}, the objects whose variables the export keeps)."""
    common = dict(image_size=config.size, motion=config.motion, max_frames=config.max_request_frames)
    endpoints = {
        "serving_default": (make_serving_function(frame_encoder, tagger, class_names, **common),
                            serving_signature()),
        "jpeg_frames": (make_serving_function(frame_encoder, tagger, class_names, encoded=True, **common),
                        jpeg_signature())}
    track = [frame_encoder, tagger]
    if config.temporal != "bidirectional":
        stream_layers = build_stream_layers(tagger, config)
        endpoints["stream"] = (make_stream_function(frame_encoder, tagger, stream_layers, class_names, config,
                                                    config.max_request_frames), stream_signature())
        track += stream_layers
    return endpoints, track


def jpeg_files(frames: np.ndarray, quality: int = 90) -> list[bytes]:
    """uint8 frames [time, h, w, 3] -> one JPEG file per frame (what a client sends to jpeg_frames)."""
    return [tf.io.encode_jpeg(frame, quality=quality).numpy() for frame in frames]


def example_requests(check_frames: np.ndarray | None = None, stream: bool = False) -> list[ExampleRequest]:
    """TF Serving REST requests, each with what its video shows.

    Without `check_frames`: the demo, serving_default on the first DEMO_FRAMES frames of generated video 0
    (apps/run_all.py prints its tags beside the true ones). With `check_frames` (train.py: the first
    CHECK_FRAMES frames of a test video): the export's bare-TF check and TF Serving warm-up, the same frames
    to every signature, serving_default first (and `stream`, a new video's first chunk, where exported).
    """
    if check_frames is None:
        video = generate_videos(1, seed=0)
        truth = " ".join(video.class_names[label - 1] for label in video.labels[0][:DEMO_FRAMES])
        # One video per request: its frames are the signature's single input, sent in the columnar form.
        return [ExampleRequest({"inputs": {"frames": video.inputs[0][:DEMO_FRAMES].tolist()}},
                               [f"generated video, truly: {truth}"])]
    seen = f"{len(check_frames)} frames of a test video"
    requests = [ExampleRequest({"inputs": {"frames": check_frames.tolist()}}, [f"{seen}, as uint8 pixels"]),
                ExampleRequest({"signature_name": "jpeg_frames",
                                "inputs": {"frames": [b64(f) for f in jpeg_files(check_frames)]}},
                               [f"{seen}, as JPEG files"])]
    if stream:
        requests.append(ExampleRequest({"signature_name": "stream",
                                        "inputs": {"frames": check_frames.tolist(), "state": []}},
                                       [f"{seen}, as the first chunk of a stream"]))
    return requests
