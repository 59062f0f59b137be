"""The `stream` signature: tag a live video chunk by chunk while TF Serving stays stateless.

    frames uint8 [time, height, width, 3]  (one chunk of one video)
    state  float32 [n]                     ([] starts a new video; else the `state` of the previous answer)
        -> tags string [time], probabilities float32 [time, classes], state float32 [n]

The state is everything the causal model carries from one frame to the next: the last frame's pixels (the
motion input is each frame's difference from the frame before; with --motion) and every recurrent layer's
state. The client keeps it and sends it back with the next chunk, so any replica can answer any chunk, and
the tags of a video fed chunk by chunk are the causal model's tags of the whole video (a test holds them to
it). Only models that never look ahead have it: `--temporal causal` and the per-frame `none`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from apps.video_tagger.model import CELLS
from apps.video_tagger.serving import (MAX_FRAMES, answer, check_frames, encode_in_chunks, frame_encoding,
                                       refuse_first)
from shared.modeling.vision import preprocess_pixels


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


def state_sizes(config) -> list[int]:
    """Sizes of the parts of the state: the previous frame's pixels (with --motion), then each layer's."""
    per_layer = config.units * (2 if config.cell == "lstm" else 1)  # an LSTM carries h and c
    pixels = [config.size * config.size * 3] if config.motion else []
    return pixels + [per_layer] * (config.layers if config.temporal == "causal" else 0)


def make_stream_function(frame_encoder, tagger, stream_layers, class_names, config, max_frames=MAX_FRAMES):
    """The `stream` function: (frames of one chunk, state) -> {"tags", "probabilities", "state"}."""
    names, feature_dim, size = tf.constant(class_names), frame_encoder.output_shape[-1], config.size
    sizes = state_sizes(config)
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
            carried = tf.split(part[None], 2, axis=-1) if config.cell == "lstm" else [part[None]]
            x, *states = layer(x, initial_state=carried, training=False)
            new_state += [tf.reshape(s, [-1]) for s in states]
        result = answer(tagger.get_layer("logits")(x)[0], names)
        result["state"] = tf.concat(new_state, 0) if new_state else tf.zeros([0])
        return result

    return stream


def stream_signature():
    """Any rank and length, so a wrong one gets the function's own message."""
    return [tf.TensorSpec(None, tf.uint8, name="frames"), tf.TensorSpec(None, tf.float32, name="state")]
