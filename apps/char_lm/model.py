"""The character language model: ids -> embedding -> stacked LSTM/GRU/RNN -> logits over the vocabulary.

Synced many-to-many: every position reads one character and predicts the next, so a chunk of T characters
gives T predictions and T loss terms. Two builds share one set of weights:
    training:  `build_model(config, vocab, batch_size=B)`: stateful layers (fixed batch B) keep their state
               between calls, which is what truncated BPTT needs: chunk k+1 starts where chunk k ended.
    inference: `build_model(config, vocab)`: any batch, state starts at zero (analysis, scoring).
The exported generator does not call the layers at all: it steps their cells (`step`), one character at a
time, inside a `tf.while_loop` (see generate.py).
"""

from __future__ import annotations

import keras

from shared.modeling.embeddings import TokenEmbedding
from shared.modeling.cells import CELLS



def build_model(config, vocab_size: int, batch_size: int | None = None) -> keras.Model:
    """ids [batch, time] (int32) -> next-character logits [batch, time, vocab_size].

    With `batch_size`, the recurrent layers are stateful (truncated BPTT); without, stateless.
    """
    stateful = batch_size is not None
    ids = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="char_ids")
    # No padding in a continuous stream of text: mask_zero=False (id 0 is the OOV character here).
    x = TokenEmbedding(vocab_size, config.embedding_dim, mask_zero=False, name="char_embedding")(ids)
    for index in range(config.layers):
        x = CELLS[config.cell](config.units, return_sequences=True, stateful=stateful,
                               name=f"{config.cell}_{index}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{index}")(x)
    logits = keras.layers.Dense(vocab_size, name="next_char_logits")(x)
    return keras.Model(ids, logits, name="char_lm")


def recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The stacked recurrent layers, bottom first."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]


def reset_states(model: keras.Model) -> None:
    """Zero the carried state of every stateful layer (start of an epoch, of validation)."""
    for layer in recurrent_layers(model):
        if layer.stateful:
            layer.reset_state()


class ResetStates(keras.callbacks.Callback):
    """TBPTT bookkeeping: each epoch and each validation pass starts its streams from a zero state."""

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)

    def on_test_begin(self, logs=None):
        reset_states(self.model)

    def on_test_end(self, logs=None):
        reset_states(self.model)
