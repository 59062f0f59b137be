"""The frame tagger: a frame encoder, then a recurrent stack, then a softmax on every frame.

    frames [batch, time, size, size, 3] --frame encoder, per frame--> features [batch, time, F]
        --(bi)GRU/LSTM stack, masked--> [batch, time, units] --Dense--> logits [batch, time, 1 + classes]

Synced many-to-many: one output per input frame, the loss summed over real frames. Videos in a batch are
padded to the longest; `lengths` becomes the mask (shared.modeling.masking.lengths_to_mask), so the recurrent
layers skip padded frames (the backward direction of a bidirectional layer starts at the real last frame)
and padded labels (0) count in neither loss nor accuracy. Logit 0 is the padding class: never a target,
and the exported graph drops it before the softmax.

Frame encoders (`--encoder`):
    inception  InceptionV3, globally average-pooled: 2048 numbers saying WHAT is in the frame. Right for
               real actions (UCF101: a horse, a pool, a bow). Pooling throws away WHERE things are.
    small_cnn  three strided convolutions, then flatten: keeps WHERE things are, trained end to end with
               the tagger. Right for the generated videos, whose tags are motion: a change of position.
    motion_cnn      small_cnn that also sees each frame's difference from the frame before (6 channels):
                    how fast things move shows in one input, where walking, jogging and running differ (KTH).
    difference_cnn  small_cnn on the difference alone (3 channels): what moves, without the scene, which
                    differs between KTH's outdoor and indoor recordings.
    --pooled        a 4th convolution, then average and max over the map (translation invariant) instead
                    of flattening it.
Temporal models (`--temporal`):
    bidirectional  each frame sees the whole video (offline tagging: the best accuracy);
    causal         each frame sees only the past (streaming: a tag per frame as it arrives);
    none           the per-frame baseline: the same encoder and a Dense layer per frame, no recurrence.
"""

from __future__ import annotations

import keras

from shared.modeling.masking import lengths_to_mask
from shared.modeling.vision import build_encoder
from shared.modeling.cells import CELLS



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


MOTION = {"motion_cnn": "frame_and_difference", "difference_cnn": "difference"}  # encoder -> motion input


def with_motion(pixels, previous, motion: str = "frame_and_difference"):
    """pixels [batch, time, s, s, 3] and the frame before the first, previous [batch, s, s, 3] ->
    [batch, time, s, s, 6]: every frame and its difference from the frame before (or [..., 3]: the
    difference alone). Causal (a frame never sees a later one), so a stream can carry `previous` on."""
    before = keras.ops.concatenate([previous[:, None], pixels[:, :-1]], axis=1)
    if motion == "difference":
        return pixels - before
    return keras.ops.concatenate([pixels, pixels - before], axis=-1)


@keras.saving.register_keras_serializable(package="video_tagger")
class FrameDifference(keras.layers.Layer):
    """[batch, time, s, s, 3] -> `with_motion`'s input; the first frame's difference is 0 (no frame before)."""

    def __init__(self, motion: str = "frame_and_difference", **kwargs):
        super().__init__(**kwargs)
        self.motion = motion

    def call(self, frames):
        return with_motion(frames, frames[:, 0], self.motion)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] * (1 if self.motion == "difference" else 2))

    def get_config(self):
        return {**super().get_config(), "motion": self.motion}


def build_small_cnn(size: int, width: int, feature_dim: int, channels: int = 3, pooled: bool = False) -> keras.Model:
    """[batch, size, size, channels] in [-1, 1] -> [batch, feature_dim], keeping the layout (no pooling);
    `pooled`: one more convolution, then the average and maximum over the map: what moves, wherever it is
    (a few training people cannot show an action at every place and scale of the picture)."""
    pixels = keras.Input((size, size, channels), name="pixels")
    x = pixels
    for index, filters in enumerate((width, 2 * width, 2 * width, 4 * width)[:4 if pooled else 3]):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu",
                                name=f"conv_{index}")(x)
    if pooled:
        x = keras.layers.Concatenate(name="pooled")([keras.layers.GlobalAveragePooling2D(name="average")(x),
                                                     keras.layers.GlobalMaxPooling2D(name="maximum")(x)])
    else:
        x = keras.layers.Flatten(name="flatten")(x)  # where the object is survives, in which unit fires
    features = keras.layers.Dense(feature_dim, activation="relu", name="features")(x)
    return keras.Model(pixels, features, name="small_cnn")


def build_frame_encoder(config) -> keras.Model:
    """The per-frame encoder the config asks for (see the module docstring)."""
    if config.encoder in ("small_cnn", *MOTION):
        channels = 6 if config.motion == "frame_and_difference" else 3
        return build_small_cnn(config.image_size, config.cnn_width, config.feature_dim, channels,
                               pooled=config.pooled)
    weights = None if config.inception_weights == "none" else config.inception_weights
    return build_encoder(weights, config.image_size, pooling="avg")


def build_tagger(config, feature_dim: int, num_classes: int) -> keras.Model:
    """(features [batch, time, F], lengths [batch]) -> logits [batch, time, 1 + num_classes]."""
    features = keras.Input((None, feature_dim), name="inputs")
    lengths = keras.Input((), dtype="int32", name="lengths")
    mask = LengthsToMask(name="mask")(features, lengths)
    x = keras.layers.Dropout(config.dropout, name="feature_dropout")(features)
    if config.temporal == "none":  # the baseline: every frame on its own
        x = keras.layers.Dense(config.units, activation="relu", name="per_frame_hidden")(x)
    for index in range(config.layers if config.temporal != "none" else 0):
        recurrent = CELLS[config.cell](config.units, return_sequences=True, name=f"{config.cell}_{index}")
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
