"""The many-to-one sentiment model: token ids -> masked embedding -> recurrent encoder -> P(positive).

Many-to-one: the network reads a whole sequence and answers once. Every step updates the recurrent
state, but the loss sees only the final representation, pooled from the encoder's outputs:
    "last": the state after the last real word (the classic read-out; with a bidirectional encoder, the
            forward state after the last word joined to the backward state after the first);
    "max":  for each feature, its strongest value at any real step (a long review's one telling
            sentence is not diluted by the paragraphs around it);
    "mean": the average over real steps.
The mask from the embedding keeps padding out of all three.

`--readout both` (the default) reads the same review a second way, a bag: the mean of its word vectors and
of its word-pair vectors ("not good" has a vector of its own; `TokenBigrams`), fastText's model. The two
read-outs answer separately and the model's probability is their average. Each is trained on its own loss:
trained on one loss of their sum, the GRU (which fits the training reviews within two epochs) left the bag
almost nothing to learn, and the pair scored 88.4%, no better than the GRU alone (README, Results).
"""

from __future__ import annotations

import keras

from shared.modeling.cells import recurrent_layer
from shared.modeling.embeddings import TokenBigrams, TokenEmbedding
from shared.modeling.masking import MaskedGlobalPooling

READOUTS = ("recurrent", "bag", "both")


def recurrent_readout(config, vocab_size: int, token_ids):
    """ids -> P(positive) [batch, 1] from the pooled states of the (bidirectional) recurrent encoder."""
    x = TokenEmbedding(vocab_size, config.embedding_dim, dropout=config.embedding_dropout,
                       name="token_embedding")(token_ids)
    for index in range(config.layers):
        top = index == config.layers - 1
        recurrent = recurrent_layer(config.cell, config.units,
                                    return_sequences=not (top and config.pooling == "last"),
                                    name=f"{config.cell}_{index}")
        if config.bidirectional:
            recurrent = keras.layers.Bidirectional(recurrent, name=f"bidirectional_{index}")
        x = recurrent(x)
    if config.pooling != "last":
        x = MaskedGlobalPooling(config.pooling, name=f"{config.pooling}_pooling")(x)
    x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    return keras.layers.Dense(1, activation="sigmoid", name="recurrent")(x)


def bag_readout(config, vocab_size: int, bigrams: TokenBigrams, token_ids):
    """ids -> P(positive) [batch, 1] from the mean of word and word-pair vectors (no order beyond pairs)."""
    words = TokenEmbedding(vocab_size, config.bag_dim, name="bag_word_embedding")(token_ids)
    pairs = TokenEmbedding(bigrams.max_bigrams + 2, config.bag_dim, name="bag_pair_embedding")(bigrams(token_ids))
    # Summed step by step: the words' mask (every real word) is the one the mean reads.
    x = MaskedGlobalPooling("mean", name="bag_mean")(keras.layers.Add(name="word_plus_pair")([words, pairs]))
    x = keras.layers.Dropout(config.dropout, name="bag_dropout")(x)
    return keras.layers.Dense(1, activation="sigmoid", name="bag")(x)


def build_model(config, vocab_size: int, bigrams: TokenBigrams | None = None) -> keras.Model:
    """ids [batch, time] (int64, 0 = padding) -> {"probability": P(positive) [batch, 1], and each read-out's}.

    `bigrams` (adapted on the training ids) is needed by the bag read-out. With one read-out, "probability"
    is its output; with both, their average, and the outputs "recurrent" and "bag" are what the losses train.
    """
    if config.readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {config.readout!r}.")
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    heads = {}
    if config.readout in ("recurrent", "both"):
        heads["recurrent"] = recurrent_readout(config, vocab_size, token_ids)
    if config.readout in ("bag", "both"):
        if bigrams is None:
            raise ValueError("the bag read-out needs `bigrams`, a TokenBigrams layer adapted on the training ids.")
        heads["bag"] = bag_readout(config, vocab_size, bigrams, token_ids)
    if len(heads) == 1:
        outputs = {"probability": keras.layers.Identity(name="probability")(*heads.values())}
    else:
        outputs = {"probability": keras.layers.Average(name="probability")(list(heads.values())), **heads}
    return keras.Model(token_ids, outputs, name="imdb_sentiment")


def trained_outputs(config) -> tuple[str, ...]:
    """The outputs a loss trains: each read-out's own when there are two, else the probability."""
    return ("recurrent", "bag") if config.readout == "both" else ("probability",)


def output_names(config) -> tuple[str, ...]:
    """Every output of the model: the probability, then the trained read-outs when there are two."""
    return tuple(dict.fromkeys(("probability", *trained_outputs(config))))


def readout_parts(model: keras.Model, config) -> dict[str, list[keras.layers.Layer]]:
    """With two read-outs: each one's layers, by the validation accuracy that picks its epoch, for `fit(parts=)`.

    The GRU fits the training reviews within two epochs and then overfits; the bag is still improving at
    epoch five. Their weights are disjoint, so one run keeps each at its own best epoch (README, Results).
    A read-out's layers are those of the sub-model from the input to its output. One read-out: no parts.
    """
    if config.readout != "both":
        return {}
    return {f"val_{name}_accuracy": keras.Model(model.inputs, model.get_layer(name).output).layers
            for name in trained_outputs(config)}


def accuracy_key(config) -> str:
    """The model's accuracy in Keras' logs: named after its output only when the model has several."""
    return "probability_accuracy" if len(output_names(config)) > 1 else "accuracy"
