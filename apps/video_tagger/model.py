"""The frame tagger: a frame encoder, then a recurrent stack, then a softmax on every frame.

    frames [batch, time, size, size, 3] --frame encoder, per frame--> features [batch, time, F]
        --(bi)GRU/LSTM stack, masked--> [batch, time, units] --Dense--> logits [batch, time, 1 + classes]

Synced many-to-many: one output per input frame, the loss summed over real frames. Videos in a batch are
padded to the longest; `lengths` becomes the mask (shared.modeling.masking.lengths_to_mask), so the recurrent
layers skip padded frames (the backward direction of a bidirectional layer starts at the real last frame)
and padded labels (0) count in neither loss nor accuracy. Logit 0 is the padding class: never a target,
and the exported graph drops it before the softmax.

The frame encoders (`--encoder`: InceptionV3, or a small CNN on frames or on their differences) are in
encoder.py. Temporal models (`--temporal`):
    bidirectional  each frame sees the whole video (offline tagging: the best accuracy);
    causal         each frame sees only the past (streaming: a tag per frame as it arrives);
    none           the per-frame baseline: the same encoder and a Dense layer per frame, no recurrence.
"""

from __future__ import annotations

import keras

from apps.video_tagger.encoder import FrameDifference
from shared.modeling.cells import recurrent_layer
from shared.modeling.masking import lengths_to_mask


@keras.saving.register_keras_serializable(package="video_tagger")
class LengthsToMask(keras.layers.Layer):
    """lengths [batch] -> mask [batch, time] with the time axis of `like` [batch, time, ...]."""

    def call(self, like, lengths):
        return lengths_to_mask(lengths, keras.ops.shape(like)[1])

    def compute_output_shape(self, like_shape, lengths_shape):
        return like_shape[:2]


@keras.saving.register_keras_serializable(package="video_tagger")
class DropMask(keras.layers.Layer):
    """Passes its input on without a Keras mask: the padded labels (0) already keep padding out of the
    loss and the metrics, so the mask must not be applied a second time by Keras' own machinery."""

    def call(self, inputs, mask=None):
        return keras.ops.copy(inputs)  # a new tensor: the input's own carries the mask as an attribute

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package="video_tagger")
class PerFrame(keras.layers.Layer):
    """Applies an image model to every frame: [batch, time, ...] -> [batch * time, ...] -> [batch, time, F].

    One reshape, so the convolutions see one big batch of frames (keras.layers.TimeDistributed does the
    same job, but its output came out with a wrong time axis in graph mode for a dynamic time axis).
    """

    def __init__(self, encoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder

    def call(self, frames, training=None):
        shape = keras.ops.shape(frames)
        flat = keras.ops.reshape(frames, (-1, *frames.shape[2:]))
        features = self.encoder(flat, training=training)
        return keras.ops.reshape(features, (shape[0], shape[1], features.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.encoder.output_shape[-1])

    def get_config(self):
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder)}

    @classmethod
    def from_config(cls, config):
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def build_tagger(config, feature_dim: int, num_classes: int) -> keras.Model:
    """(features [batch, time, F], lengths [batch]) -> logits [batch, time, 1 + num_classes]."""
    features = keras.Input((None, feature_dim), name="inputs")
    lengths = keras.Input((), dtype="int32", name="lengths")
    mask = LengthsToMask(name="mask")(features, lengths)
    x = keras.layers.Dropout(config.dropout, name="feature_dropout")(features)
    if config.temporal == "none":  # the baseline: every frame on its own
        x = keras.layers.Dense(config.units, activation="relu", name="per_frame_hidden")(x)
    for index in range(config.layers if config.temporal != "none" else 0):
        recurrent = recurrent_layer(config.cell, config.units, return_sequences=True,
                                    name=f"{config.cell}_{index}")
        if config.temporal == "bidirectional":
            recurrent = keras.layers.Bidirectional(recurrent, name=f"bidirectional_{index}")
        x = recurrent(x, mask=mask)
    x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    logits = DropMask(name="logits_unmasked")(keras.layers.Dense(1 + num_classes, name="logits")(x))
    return keras.Model([features, lengths], logits, name="tagger")


def build_model(config, num_classes: int, frame_encoder: keras.Model, end_to_end: bool):
    """(training model, tagger). End to end, the model takes frames and trains the encoder too;
    otherwise it takes the frozen encoder's cached features and is the tagger itself."""
    if not end_to_end:
        tagger = build_tagger(config, frame_encoder.output_shape[-1], num_classes)
        return tagger, tagger
    tagger = build_tagger(config, frame_encoder.output_shape[-1], num_classes)
    size = config.image_size
    frames = keras.Input((None, size, size, 3), name="inputs")
    lengths = keras.Input((), dtype="int32", name="lengths")
    encoder_input = FrameDifference(config.motion, name="frame_difference")(frames) if config.motion else frames
    features = PerFrame(frame_encoder, name="frame_encoder")(encoder_input)
    model = keras.Model([frames, lengths], tagger([features, lengths]), name="video_tagger")
    return model, tagger
