"""Masking: padded batches whose padding changes nothing.

Home of: masks from lengths and back (`lengths_to_mask`, `mask_to_lengths`), masked pooling, the
masked loss and accuracy, and the no-empty-row rule (`ensure_nonempty`).

A batch of sequences of different lengths is right-padded with 0 to one length. The mask (True = real
step) tells every layer which steps are padding: recurrent layers carry their state unchanged across masked
steps, pooling skips them, and the loss and the metrics leave them out. Keep padding on the right: the
cuDNN kernels Keras uses for LSTM/GRU on a GPU accept only right-padded masks, and refuse rows with no
valid step at all (`ensure_nonempty` prevents those).

    mask = lengths_to_mask([3, 1], maxlen=4)   # [[T, T, T, F], [T, F, F, F]]
"""

from __future__ import annotations

import keras
from keras import ops


def lengths_to_mask(lengths, maxlen=None):
    """A right-padded boolean mask [batch, maxlen] from sequence lengths [batch]."""
    lengths = ops.convert_to_tensor(lengths, dtype="int32")
    if maxlen is None:
        maxlen = ops.max(lengths)
    return ops.arange(maxlen, dtype="int32")[None, :] < lengths[:, None]


def mask_to_lengths(mask):
    """The number of valid steps per row of a right-padded mask."""
    return ops.sum(ops.cast(mask, "int32"), axis=-1)


def ensure_nonempty(token_ids, filler: int = 1, pad_id: int = 0):
    """Give every row at least one real token: an empty row gets `filler` (the OOV id) at step 0.

    An all-padding row has no defined final state, and the cuDNN kernels refuse it. Rows that already
    have a token are returned unchanged; a batch of width 0 grows to width 1.
    """
    token_ids = ops.convert_to_tensor(token_ids)
    width = ops.shape(token_ids)[1]
    token_ids = ops.pad(token_ids, [[0, 0], [0, ops.maximum(1 - width, 0)]], constant_values=pad_id)
    empty = ops.all(ops.equal(token_ids, pad_id), axis=1)
    first = ops.where(empty, ops.cast(filler, token_ids.dtype), token_ids[:, 0])
    return ops.concatenate([first[:, None], token_ids[:, 1:]], axis=1)


@keras.saving.register_keras_serializable(package="shared")
class MaskedGlobalPooling(keras.layers.Layer):
    """Pools a masked sequence [batch, time, features] into one vector per row, skipping padding.

    Keras' own GlobalMaxPooling1D ignores masks (padding would win the max), and a recurrent layer with
    `return_sequences=True` repeats its last output on masked steps, so the pooling must read the mask.

    Args:
        mode: "max" (strongest evidence anywhere in the sequence), "mean" (average over real steps) or
            "last" (the output at the last real step: the classic many-to-one read-out).
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype, ...).

    Masking: consumes the incoming mask; the output (one vector per row) carries none. A row with no real
    step pools to zeros.

    Example:
    >>> x = keras.ops.convert_to_tensor([[[1.0], [5.0], [9.0]]])
    >>> mask = keras.ops.convert_to_tensor([[True, True, False]])
    >>> MaskedGlobalPooling("max")(x, mask=mask)   # 5.0: the padded 9.0 is skipped
    """

    MODES = ("max", "mean", "last")

    def __init__(self, mode: str = "max", **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}.")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        valid = ops.cast(mask, inputs.dtype)[:, :, None]
        if self.mode == "mean":
            return ops.sum(inputs * valid, axis=1) / ops.maximum(ops.sum(valid, axis=1), 1.0)
        if self.mode == "max":
            lowest = ops.convert_to_tensor(-3.0e38, inputs.dtype)
            pooled = ops.max(ops.where(valid > 0, inputs, lowest), axis=1)
            return ops.where(ops.sum(valid, axis=1) > 0, pooled, ops.zeros_like(pooled))
        lengths = mask_to_lengths(mask)
        last = ops.take_along_axis(inputs, ops.maximum(lengths - 1, 0)[:, None, None], axis=1)[:, 0]
        return ops.where(lengths[:, None] > 0, last, ops.zeros_like(last))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def masked_sparse_crossentropy(pad_id: int = 0, from_logits: bool = True) -> keras.losses.Loss:
    """Cross-entropy averaged over the real (non-`pad_id`) target positions only.

    Keras' `ignore_class` does exactly this (padding adds nothing to the sum, nor to the count it is
    divided by), so this names the idea and fixes the suite's conventions rather than re-implementing it.
    """
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=from_logits, ignore_class=pad_id, name="masked_crossentropy")


@keras.saving.register_keras_serializable(package="shared")
class MaskedSparseCategoricalAccuracy(keras.metrics.SparseCategoricalAccuracy):
    """Token accuracy over the real (non-`pad_id`) target positions only.

    Args:
        pad_id: the target id that marks padding (never counted, right or wrong).
        name, dtype: standard metric arguments.

    Example:
    >>> metric = MaskedSparseCategoricalAccuracy(pad_id=0)
    >>> metric.update_state([[2, 0]], [[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])
    >>> float(metric.result())   # 1.0: the padded step, predicted "0", does not count
    """

    def __init__(self, pad_id: int = 0, name: str = "masked_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.pad_id = pad_id

    def update_state(self, y_true, y_pred, sample_weight=None):
        valid = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        if sample_weight is not None:
            valid = valid * ops.cast(sample_weight, "float32")
        return super().update_state(y_true, y_pred, sample_weight=valid)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}
