"""The many-to-one sentiment model: token ids -> masked embedding -> recurrent encoder -> P(positive).

Many-to-one: the network reads a whole sequence and answers once. Every step updates the recurrent
state, but the loss sees only the final representation, pooled from the encoder's outputs:
    "last": the state after the last real word (the classic read-out; with a bidirectional encoder, the
            forward state after the last word joined to the backward state after the first);
    "max":  for each feature, its strongest value at any real step (a long review's one telling
            sentence is not diluted by the paragraphs around it);
    "mean": the average over real steps.
The mask from the embedding keeps padding out of all three.
"""

from __future__ import annotations

import keras

from shared.modeling.cells import recurrent_layer
from shared.modeling.embeddings import TokenEmbedding
from shared.modeling.masking import MaskedGlobalPooling


def build_model(config, vocab_size: int) -> keras.Model:
    """ids [batch, time] (int64, 0 = padding) -> probability of "positive" [batch, 1]."""
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
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
    probability = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return keras.Model(token_ids, probability, name="imdb_sentiment")
