"""The character language model: ids -> embedding -> stacked LSTM/GRU/RNN -> logits over the vocabulary.

Synced many-to-many: every position reads one character and predicts the next, so a chunk of T characters
gives T predictions and T loss terms. Two builds share one set of weights:
    training:  `build_model(config, vocab, batch_size=B)`: stateful layers (fixed batch B) keep their state
               between calls, which is what truncated BPTT needs: chunk k+1 starts where chunk k ended.
    inference: `build_model(config, vocab)`: any batch, state starts at zero (analysis, scoring).
The exported generator does not call the layers at all: it steps their cells (`serve.CharStepper.step`),
one character at a time, inside a `tf.while_loop` (see serve.py).
"""

from __future__ import annotations

import json
import pathlib

import keras

from apps.char_lm.config import Config
from shared.modeling.cells import recurrent_layer
from shared.modeling.embeddings import TokenEmbedding
from shared.modeling.optimizer import make_optimizer
from shared.runtime.config import load_config
from shared.runtime.run import RunFolder


def build_model(config, vocab_size: int, batch_size: int | None = None) -> keras.Model:
    """ids [batch, time] (int32) -> next-character logits [batch, time, vocab_size].

    With `batch_size`, the recurrent layers are stateful (truncated BPTT); without, stateless.
    """
    stateful = batch_size is not None
    ids = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="char_ids")
    # No padding in a continuous stream of text: mask_zero=False (id 0 is the OOV character here).
    x = TokenEmbedding(vocab_size, config.embedding_dim, mask_zero=False, name="char_embedding")(ids)
    for index in range(config.layers):
        x = recurrent_layer(config.cell, config.units, return_sequences=True, stateful=stateful,
                            name=f"{config.cell}_{index}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{index}")(x)
    logits = keras.layers.Dense(vocab_size, name="next_char_logits")(x)
    return keras.Model(ids, logits, name="char_lm")


def compile_for_training(model: keras.Model, config: Config, steps_per_epoch: int) -> None:
    """Adam (clipped) with the `--lr-schedule`, and the mean cross-entropy over every position."""
    learning_rate = config.learning_rate
    if config.lr_schedule == "cosine":  # down to 5 percent of the initial rate at the last epoch
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch, alpha=0.05)
    # Mean over positions = the summed per-step loss / (batch x time): same gradient direction.
    model.compile(optimizer=make_optimizer(learning_rate, config.clipnorm),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=False)  # XLA made the recurrent loop 2x slower on CPU (measured)


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


def load_trained(run_dir, checkpoint: str = "best") -> tuple[Config, list[str], keras.Model]:
    """(config, vocabulary, stateless model with the run's weights) from a run folder."""
    run_dir = pathlib.Path(run_dir)
    config = load_config(run_dir, Config)
    vocabulary = json.loads((run_dir / "vocabulary.json").read_text())
    model = build_model(config, len(vocabulary) + 1)
    model.load_weights(str(RunFolder(run_dir).checkpoints / f"{checkpoint}.weights.h5"))
    return config, vocabulary, model
