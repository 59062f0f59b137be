import keras
import numpy as np
import pytest

from shared.modeling.embeddings import TokenEmbedding
from shared.modeling.masking import (
    MaskedGlobalPooling,
    MaskedSparseCategoricalAccuracy,
    ensure_nonempty,
    lengths_to_mask,
    masked_sparse_crossentropy,
)


def test_lengths_to_mask():
    np.testing.assert_array_equal(lengths_to_mask([3, 1, 0], maxlen=4),
                                  [[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])


def test_ensure_nonempty_fills_only_empty_rows():
    ids = np.array([[5, 6, 0], [0, 0, 0]])
    np.testing.assert_array_equal(ensure_nonempty(ids), [[5, 6, 0], [1, 0, 0]])
    assert ensure_nonempty(np.zeros((2, 0), np.int64)).shape == (2, 1)


@pytest.mark.parametrize("mode", MaskedGlobalPooling.MODES)
def test_pooling_ignores_whatever_sits_in_padding(mode):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    mask = lengths_to_mask([3, 5], maxlen=5)
    noisy = x.copy()
    noisy[0, 3:] = 1000.0  # garbage in the padded steps of row 0
    layer = MaskedGlobalPooling(mode)
    np.testing.assert_allclose(layer(x, mask=mask), layer(noisy, mask=mask), rtol=1e-6)
    expected = {"max": x[0, :3].max(0), "mean": x[0, :3].mean(0), "last": x[0, 2]}[mode]
    np.testing.assert_allclose(layer(x, mask=mask)[0], expected, rtol=1e-5)


def test_fully_masked_row_pools_to_zero():
    x = np.ones((1, 3, 2), "float32")
    for mode in MaskedGlobalPooling.MODES:
        np.testing.assert_array_equal(MaskedGlobalPooling(mode)(x, mask=np.zeros((1, 3), bool)), [[0, 0]])


@pytest.mark.parametrize("cell", [keras.layers.GRU, keras.layers.LSTM, keras.layers.SimpleRNN])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_change_rnn_outputs(cell, bidirectional):
    """The same review, padded to 4 or to 9 steps, gets the same encoding: the mask really masks."""
    keras.utils.set_random_seed(1)
    ids = keras.Input((None,), dtype="int64")
    rnn = cell(6, return_sequences=True)
    x = TokenEmbedding(20, 4)(ids)
    x = (keras.layers.Bidirectional(rnn) if bidirectional else rnn)(x)
    outputs = [MaskedGlobalPooling(mode)(x) for mode in MaskedGlobalPooling.MODES]
    model = keras.Model(ids, outputs)
    short = np.array([[3, 7, 9, 0]])
    long = np.array([[3, 7, 9, 0, 0, 0, 0, 0, 0]])
    for a, b in zip(model(short), model(long)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_masked_loss_equals_loss_over_real_steps_only():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(1, 5, 7)).astype("float32")
    targets = np.array([[4, 2, 6, 0, 0]])
    loss = float(masked_sparse_crossentropy()(targets, logits))
    real = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(targets[:, :3], logits[:, :3]))
    assert loss == pytest.approx(real, rel=1e-5)
    # Changing what the model predicts at padded steps changes nothing.
    logits[:, 3:] = rng.normal(size=(1, 2, 7)) * 100
    assert float(masked_sparse_crossentropy()(targets, logits)) == pytest.approx(real, rel=1e-5)


def test_masked_accuracy_skips_padding():
    metric = MaskedSparseCategoricalAccuracy(pad_id=0)
    predictions = np.eye(4, dtype="float32")[[[2, 3, 1, 1]]]  # argmax 2, 3, 1, 1
    metric.update_state(np.array([[2, 1, 0, 0]]), predictions)  # right, wrong, pad, pad
    assert float(metric.result()) == pytest.approx(0.5)
    assert MaskedSparseCategoricalAccuracy.from_config(metric.get_config()).pad_id == 0
