"""Token embeddings with masking, for word ids and character ids alike.

Home of: token ids -> vectors, with the padding mask (id 0) every later layer reads (`TokenEmbedding`).
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
