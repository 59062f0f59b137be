import keras
import numpy as np
import pytest

from shared.modeling.embeddings import TokenEmbedding


def test_mask_and_shape():
    layer = TokenEmbedding(10, 4)
    ids = np.array([[5, 7, 0, 0]])
    assert layer(ids).shape == (1, 4, 4)
    np.testing.assert_array_equal(layer.compute_mask(ids), [[True, True, False, False]])
    assert TokenEmbedding(10, 4, mask_zero=False).compute_mask(ids) is None


def test_serializes_and_keeps_its_config():
    layer = TokenEmbedding(10, 4, dropout=0.25, name="words")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert (clone.vocab_size, clone.dim, clone.dropout, clone.name) == (10, 4, 0.25, "words")


def test_dropout_only_while_training():
    layer = TokenEmbedding(10, 64, dropout=0.5)
    ids = np.array([[1, 2, 3]])
    np.testing.assert_array_equal(layer(ids, training=False), layer(ids, training=False))
    assert not np.allclose(layer(ids, training=True), layer(ids, training=False))


def test_bad_arguments():
    with pytest.raises(ValueError):
        TokenEmbedding(1, 4)
    with pytest.raises(ValueError):
        TokenEmbedding(10, 4, dropout=1.0)
