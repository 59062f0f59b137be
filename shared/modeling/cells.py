"""The recurrent cell table every app chooses from with `--cell`, and why the gated cells are the default.

Home of: the cell table (`CELLS`, `recurrent_layer`, `state_count`) and why gates matter.

    CELLS = {"rnn": SimpleRNN, "gru": GRU, "lstm": LSTM}      # Keras' own layers, nothing rewritten
    layer = recurrent_layer("gru", 64, return_sequences=True)

Why gates. A vanilla RNN (`SimpleRNN`) computes h_t = tanh(W x_t + U h_{t-1} + b): every step multiplies the
old state, and the gradient flowing back through it, by U and by tanh's slope (< 1). After T steps the
gradient holds a product of T such factors, so it shrinks (or explodes) geometrically: the network cannot
learn that an output depends on an input 30 steps earlier. Gated cells add a path where the state is
*copied* rather than squashed:
    LSTM  c_t = f_t * c_{t-1} + i_t * tanh(...)        forget gate f, input gate i, output gate o
    GRU   h_t = z_t * h_{t-1} + (1 - z_t) * tanh(...)  update gate z, reset gate r
where each gate is a sigmoid of (x_t, h_{t-1}). When f_t (or z_t) is near 1 the state and its gradient pass
a step almost unchanged, so memory lasts as long as the gate stays open, and the network learns when to
open it. lessons/long_range_memory.py measures it: recall after T steps, vanilla RNN vs GRU vs LSTM, and
what a gate biased open (bias 3: sigmoid(3) = 0.95) adds (lessons/README.md, "Gates and long-range memory").

Keras' gate order in the weights: LSTM input, forget, candidate, output (`unit_forget_bias=True` starts the
forget gate at bias 1); GRU update, reset, candidate (bias 0). The apps default to GRU where it matched
LSTM's quality at lower cost (IMDb, translator, video tagger) and to LSTM where it scored better (char LM).
Masking: all three layers take Keras masks and carry their state unchanged across masked steps.
"""

from __future__ import annotations

import keras

CELLS: dict[str, type[keras.layers.Layer]] = {
    "rnn": keras.layers.SimpleRNN,  # no gates: the baseline that forgets (see the docstring)
    "gru": keras.layers.GRU,        # two gates, one state: LSTM's memory at three quarters of its cost
    "lstm": keras.layers.LSTM,      # three gates, two states (h, c)
}
GATED = ("gru", "lstm")


def recurrent_layer(cell: str, units: int, **kwargs) -> keras.layers.Layer:
    """A Keras recurrent layer of the named cell (`CELLS`); `kwargs` go to the layer unchanged.

    Args:
        cell: "rnn", "gru" or "lstm".
        units: state size.
        **kwargs: any argument of the Keras layer (return_sequences, return_state, stateful, name, ...).

    Example:
        >>> layer = recurrent_layer("gru", 8, return_sequences=True)
        >>> tuple(layer(keras.ops.zeros((2, 5, 3))).shape)
        (2, 5, 8)
    """
    if cell not in CELLS:
        raise ValueError(f"Unknown cell {cell!r}: choose one of {sorted(CELLS)}.")
    return CELLS[cell](units, **kwargs)


def state_count(cell) -> int:
    """How many state tensors a cell (or recurrent layer) carries: LSTM 2 (h, c), GRU and SimpleRNN 1."""
    cell = getattr(cell, "cell", cell)
    return len(cell.state_size) if isinstance(cell.state_size, (list, tuple)) else 1
