"""The frame encoders: what the tagger sees of each frame (`--encoder`).

    inception  InceptionV3, globally average-pooled: 2048 numbers saying WHAT is in the frame. Right for
               real actions (UCF101: a horse, a pool, a bow). Pooling throws away WHERE things are. It stays
               frozen: its features are computed once (`encode_frames`) and cached (cache.py).
    small_cnn  three strided convolutions, then flatten: keeps WHERE things are, trained end to end with
               the tagger. Right for the generated videos, whose tags are motion: a change of position.
    motion_cnn      small_cnn that also sees each frame's difference from the frame before (6 channels):
                    how fast things move shows in one input, where walking, jogging and running differ (KTH).
    difference_cnn  small_cnn on the difference alone (3 channels): what moves, without the scene, which
                    differs between KTH's outdoor and indoor recordings.
    --pooled        a 4th convolution, then average and max over the map (translation invariant) instead
                    of flattening it.

The motion input (`with_motion`) is causal, a frame never sees a later one, so the exported `stream`
signature carries the previous frame on from one chunk to the next (serve.py).
"""

from __future__ import annotations

import keras
import numpy as np

from shared.modeling.vision import build_encoder, preprocess_pixels


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


def encode_frames(encoder, size: int):
    """uint8 frames [t, size, size, 3] -> float16 features [t, F], through the serving preprocessing."""
    def encode(frames):
        # 16 frames a call: InceptionV3's activations at 299x299 take ~30 MB a frame (64 a call peaked at GBs).
        out = [encoder(preprocess_pixels(frames[i:i + 16], size), training=False).numpy()
               for i in range(0, len(frames), 16)]
        return np.concatenate(out).astype(np.float16)
    return encode
