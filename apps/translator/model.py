"""The seq2seq translator: a bidirectional recurrent encoder, a recurrent decoder, optional attention.

Many-to-many with different lengths: the encoder reads the whole source sentence; its final states (the
context) become the decoder's initial state; the decoder then writes the target one token at a time.

    source ids -> embedding (masked) -> bidirectional GRU -> outputs [batch, S, 2u] (the "memory")
                                                           -> final states, fwd ++ bwd  [batch, 2u]
    previous target ids -> embedding (masked) -> GRU(2u, initial state = encoder states) -> h_t
    attention (optional): c_t = sum_s a_ts memory_s, a_t = softmax(score(h_t, memory_s)) over real s
    logits_t = W_out dropout(tanh(W_c [h_t ; c_t]))

Training uses teacher forcing: the decoder input is the true target shifted right, so all steps run in
one pass (`call`). Inference feeds back its own predictions one step at a time (`step`), inside a
`tf.while_loop` (shared/modeling/decoding.py). Attention is computed *after* the recurrent step (Luong's global
attention), so training keeps its single parallel pass; `attention="luong"` scores by dot product
(keras.layers.Attention), `"bahdanau"` with Bahdanau's additive score (keras.layers.AdditiveAttention).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from shared.modeling.cells import CELLS, recurrent_layer
from shared.modeling.embeddings import TokenEmbedding
from shared.modeling.masking import MaskedSparseCategoricalAccuracy, masked_sparse_crossentropy
from shared.modeling.precision import dtype_policy as policy

ATTENTION = ("none", "luong", "bahdanau")


class Translator(keras.Model):
    """Encoder-decoder with `call((source_ids, decoder_input)) -> logits`, plus `encode` and `step`."""

    def __init__(self, source_vocab_size: int, target_vocab_size: int, embedding_dim: int = 256,
                 units: int = 256, cell: str = "gru", attention: str = "luong", dropout: float = 0.2,
                 embedding_dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if cell not in CELLS or attention not in ATTENTION:
            raise ValueError(f"cell must be in {list(CELLS)}, attention in {list(ATTENTION)}.")
        self.attention_kind = attention
        self.source_embedding = TokenEmbedding(source_vocab_size, embedding_dim, dropout=embedding_dropout,
                                               name="source_embedding")
        self.encoder = keras.layers.Bidirectional(
            recurrent_layer(cell, units, return_sequences=True, return_state=True), name="encoder")
        self.target_embedding = TokenEmbedding(target_vocab_size, embedding_dim, dropout=embedding_dropout,
                                               name="target_embedding")
        # Twice the units: its initial state is the encoder's forward and backward states side by side.
        self.decoder = recurrent_layer(cell, 2 * units, return_sequences=True, return_state=True,
                                       name="decoder")
        self.attention = {"none": None, "luong": keras.layers.Attention(name="attention"),
                          "bahdanau": keras.layers.AdditiveAttention(name="attention")}[attention]
        self.combine = keras.layers.Dense(embedding_dim, activation="tanh", name="combine")
        self.dropout = keras.layers.Dropout(dropout, name="dropout")
        self.classifier = keras.layers.Dense(target_vocab_size, name="logits")

    def encode(self, source_ids, training=False):
        """ids [batch, S] -> (memory [batch, S, 2u], memory mask [batch, S], decoder initial states)."""
        mask = tf.not_equal(source_ids, 0)
        vectors = self.source_embedding(source_ids, training=training)
        outputs, *states = self.encoder(vectors, mask=mask, training=training)
        half = len(states) // 2  # Bidirectional returns the forward states, then the backward ones
        initial = [tf.concat([forward, backward], axis=-1)
                   for forward, backward in zip(states[:half], states[half:])]
        return outputs, mask, initial

    def decode(self, decoder_input, states, memory, memory_mask, training=False):
        """Teacher-forced (or single-step) decoding: -> (logits [b, T, V], new states, attention or None)."""
        mask = tf.not_equal(decoder_input, 0)
        vectors = self.target_embedding(decoder_input, training=training)
        hidden, *states = self.decoder(vectors, initial_state=states, mask=mask, training=training)
        weights = None
        if self.attention is not None:
            context, weights = self.attention([hidden, memory], mask=[mask, memory_mask],
                                              return_attention_scores=True, training=training)
            hidden = tf.concat([hidden, context], axis=-1)
        features = self.dropout(self.combine(hidden), training=training)
        return self.classifier(features), states, weights

    def call(self, inputs, training=False):
        source_ids, decoder_input = inputs
        memory, memory_mask, states = self.encode(source_ids, training=training)
        logits, _, _ = self.decode(decoder_input, states, memory, memory_mask, training=training)
        return logits

    def step(self, token_ids, states, memory, memory_mask):
        """One inference step: previous tokens [batch] -> (logits [batch, V], new states, attention [batch, S]).

        The same layers as `call` on a length-1 sequence, so step-by-step decoding with the true tokens
        reproduces the teacher-forced logits exactly (tests/apps/translator checks it).
        """
        logits, states, weights = self.decode(token_ids[:, None], states, memory, memory_mask)
        if weights is None:
            weights = tf.zeros(tf.shape(memory)[:2], memory.dtype)[:, None, :]
        return logits[:, 0], states, weights[:, 0]


def build_model(config, source_vocab_size: int, target_vocab_size: int,
                dtype_policy: str = "float32") -> Translator:
    """The translator described by `config`, built (its weights exist) on a dummy batch.

    `dtype_policy="mixed_bfloat16"` computes in bfloat16 with float32 weights: on CPUs with AMX or
    AVX512-BF16 units, matrix products run ~5x faster (train.py trains this way, then copies the weights
    into a float32 model for evaluation and export, which then runs the same everywhere).
    """
    with policy(dtype_policy):  # layers take the policy in force when they are made
        model = Translator(source_vocab_size, target_vocab_size, embedding_dim=config.embedding_dim,
                           units=config.units, cell=config.cell, attention=config.attention,
                           dropout=config.dropout, embedding_dropout=config.embedding_dropout,
                           name="translator")
    model((tf.ones([1, 2], tf.int64), tf.ones([1, 2], tf.int64)))
    return model


def compile_model(model: Translator, optimizer=None) -> Translator:
    """Loss and token accuracy over real target tokens only (padding, id 0, is never counted).

    Without `optimizer` the model can evaluate but is not meant to train (Keras' default one is set).
    """
    given = {} if optimizer is None else {"optimizer": optimizer}
    model.compile(loss=masked_sparse_crossentropy(pad_id=0),
                  metrics=[MaskedSparseCategoricalAccuracy(pad_id=0, name="accuracy")], **given)
    return model


def float32_copy(model: Translator, config, source_vocab_size: int, target_vocab_size: int) -> Translator:
    """The same weights in a float32 model, compiled: what is measured after training is what is served."""
    copy = build_model(config, source_vocab_size, target_vocab_size, "float32")
    copy.set_weights(model.get_weights())
    return compile_model(copy)
