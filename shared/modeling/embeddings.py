"""Token embeddings with masking, for word ids and character ids alike.

Home of: token ids -> vectors, with the padding mask (id 0) every later layer reads (`TokenEmbedding`), and
word pairs as ids of their own (`TokenBigrams`), so a model can learn a vector for "not good" itself.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="shared")
class TokenEmbedding(keras.layers.Layer):
    """Maps token ids [batch, time] to vectors [batch, time, dim] and emits the padding mask.

    Id 0 is padding: its vector is never used and the mask (ids != 0) flows to every later layer, so
    recurrent layers skip padded steps. Optional dropout removes whole embedding channels for a sequence
    (spatial dropout), a regulariser that suits word models trained on little data.

    Args:
        vocab_size: number of ids, padding (0) and out-of-vocabulary (usually 1) included.
        dim: length of each token vector.
        dropout: fraction of embedding channels dropped per sequence while training (0: none).
        mask_zero: whether id 0 is padding (True for padded batches; False for unpadded text such as
            the character model's continuous stream).
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype, ...).

    Masking: produces the mask `ids != 0` when `mask_zero` is True, else none.

    Example:
    >>> layer = TokenEmbedding(vocab_size=100, dim=8)
    >>> vectors = layer(keras.ops.convert_to_tensor([[5, 7, 0]]))   # shape (1, 3, 8)
    >>> layer.compute_mask([[5, 7, 0]])                              # [[True, True, False]]
    """

    def __init__(self, vocab_size: int, dim: int, dropout: float = 0.0, mask_zero: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        if vocab_size < 2 or dim < 1:
            raise ValueError(f"need vocab_size >= 2 and dim >= 1, got {vocab_size} and {dim}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        self.vocab_size, self.dim, self.dropout, self.mask_zero = vocab_size, dim, dropout, mask_zero
        self.embedding = keras.layers.Embedding(vocab_size, dim, mask_zero=mask_zero, name="embedding")
        self.channel_dropout = keras.layers.SpatialDropout1D(dropout, name="channel_dropout")
        self.supports_masking = True

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.built = True

    def call(self, token_ids, training=None):
        vectors = self.embedding(token_ids)
        if self.dropout:
            vectors = self.channel_dropout(vectors, training=training)
        return vectors

    def compute_mask(self, token_ids, mask=None):
        return self.embedding.compute_mask(token_ids)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dim)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "dim": self.dim,
                "dropout": self.dropout, "mask_zero": self.mask_zero}


@keras.saving.register_keras_serializable(package="shared")
class TokenBigrams(keras.layers.Layer):
    """Maps word ids [batch, time] to the id of each (previous word, word) pair [batch, time].

    "not good" and "good" mean opposite things, and a bag of word vectors cannot tell them apart: a
    vector per frequent pair can (fastText's bigrams, Joulin et al. 2017). Each pair is coded as
    `previous * vocab_size + word` and looked up in Keras' `IntegerLookup`, adapted on the training ids
    to the `max_bigrams` most frequent pairs: core TensorFlow ops only, so it travels in a SavedModel.

    Ids out: 0 where there is no pair (padding, and the first word, which has no previous one), 1 for a
    pair outside the vocabulary, 2 and up for the kept pairs, the convention of `TokenEmbedding`.

    Args:
        vocab_size: the number of word ids (padding and OOV included): pairs are coded in base `vocab_size`.
        max_bigrams: how many of the most frequent pairs `adapt` keeps.
        vocabulary: pair codes to start from (what `adapt` learns; saved in the config), or None.
        **kwargs: standard `keras.layers.Layer` arguments (name, dtype, ...).

    Masking: none produced (the word embedding's mask marks the real steps); id 0 marks "no pair here",
    so a `TokenEmbedding` of these ids masks the first word and the padding.

    Example:
    >>> layer = TokenBigrams(vocab_size=10, max_bigrams=5)
    >>> layer.adapt(keras.ops.convert_to_tensor([[2, 3, 4], [2, 3, 0]]))   # pairs (2, 3) twice, (3, 4) once
    >>> layer(keras.ops.convert_to_tensor([[2, 3, 4, 5, 0]]))              # [[0, 2, 3, 1, 0]]
    """

    def __init__(self, vocab_size: int, max_bigrams: int, vocabulary=None, **kwargs):
        kwargs.setdefault("dtype", "int64")
        super().__init__(**kwargs)
        if vocab_size < 2 or max_bigrams < 1:
            raise ValueError(f"need vocab_size >= 2 and max_bigrams >= 1, got {vocab_size} and {max_bigrams}.")
        self.vocab_size, self.max_bigrams = vocab_size, max_bigrams
        # + 2: IntegerLookup counts its mask (0, "no pair") and OOV (1) ids in max_tokens.
        self.lookup = keras.layers.IntegerLookup(max_tokens=max_bigrams + 2, mask_token=0, num_oov_indices=1,
                                                 vocabulary=vocabulary, name="bigram_lookup")

    def pair_codes(self, token_ids):
        """previous * vocab_size + word at each step; 0 where either is padding or missing."""
        token_ids = keras.ops.cast(token_ids, "int64")
        previous = keras.ops.pad(token_ids[:, :-1], [[0, 0], [1, 0]])
        codes = previous * self.vocab_size + token_ids
        return keras.ops.where((previous > 0) & (token_ids > 0), codes, keras.ops.zeros_like(codes))

    def adapt(self, token_ids, batch_size: int = 1024):
        """Keep the `max_bigrams` most frequent pairs of `token_ids` (a tensor or array [rows, time])."""
        import tensorflow as tf  # adapt reads data through tf.data, as Keras' own lookup layers do

        codes = tf.data.Dataset.from_tensor_slices(token_ids).batch(batch_size).map(self.pair_codes)
        self.lookup.adapt(codes)

    def call(self, token_ids):
        return keras.ops.cast(self.lookup(self.pair_codes(token_ids)), "int64")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        vocabulary = self.lookup.get_vocabulary(include_special_tokens=False)
        return {**super().get_config(), "vocab_size": self.vocab_size, "max_bigrams": self.max_bigrams,
                "vocabulary": [int(code) for code in vocabulary] or None}
