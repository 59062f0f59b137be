"""The cell table and teacher forcing: the one home every app uses for each."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from shared.modeling.cells import CELLS, recurrent_layer, state_count
from shared.modeling.teacher_forcing import shift_for_teacher_forcing


@pytest.mark.parametrize("cell, states", [("rnn", 1), ("gru", 1), ("lstm", 2)])
def test_every_cell_builds_and_counts_its_states(cell, states):
    layer = recurrent_layer(cell, 4, return_sequences=True, return_state=True)
    outputs = layer(keras.ops.zeros((2, 3, 5)))
    assert len(outputs) == 1 + states == 1 + state_count(layer)
    assert tuple(outputs[0].shape) == (2, 3, 4)
    assert isinstance(layer, CELLS[cell])


def test_an_unknown_cell_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        recurrent_layer("transformer", 4)


def test_teacher_forcing_shifts_by_one_and_end_is_never_an_input():
    rows = tf.constant([[2, 7, 8, 3, 0, 0], [2, 5, 3, 0, 0, 0]])
    decoder_input, label = shift_for_teacher_forcing(rows)
    np.testing.assert_array_equal(decoder_input, [[2, 7, 8, 0, 0], [2, 5, 0, 0, 0]])
    np.testing.assert_array_equal(label, [[7, 8, 3, 0, 0], [5, 3, 0, 0, 0]])
    # Wherever the label is real, the input is the true previous token.
    real = label.numpy() != 0
    np.testing.assert_array_equal(decoder_input.numpy()[:, 1:][real[:, 1:]], label.numpy()[:, :-1][real[:, 1:]])
