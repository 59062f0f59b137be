import keras
import numpy as np
import pytest

from shared.modeling.embeddings import TokenBigrams, TokenEmbedding


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


def test_bigrams_keep_the_most_frequent_pairs_in_order_and_mark_no_pair_with_zero():
    layer = TokenBigrams(vocab_size=10, max_bigrams=2)
    # (2, 3) three times, (3, 4) twice, (4, 5) once: only the first two are kept, the most frequent first.
    layer.adapt(np.array([[2, 3, 4, 5], [2, 3, 4, 0], [2, 3, 0, 0]]))
    ids = layer(np.array([[2, 3, 4, 5, 0], [3, 4, 0, 0, 0], [9, 0, 0, 0, 0]]))
    # first word: no pair (0); kept pairs 2 and 3; (4, 5) is out of the vocabulary (1); padding 0
    np.testing.assert_array_equal(ids, [[0, 2, 3, 1, 0], [0, 3, 0, 0, 0], [0, 0, 0, 0, 0]])


def test_bigrams_survive_their_config_and_a_saved_model(tmp_path):
    import tensorflow as tf

    layer = TokenBigrams(vocab_size=10, max_bigrams=5, name="pairs")
    layer.adapt(np.array([[2, 3, 4], [4, 2, 3]]))
    rebuilt = TokenBigrams.from_config(layer.get_config())
    ids = np.array([[4, 2, 3, 4, 9]])
    np.testing.assert_array_equal(rebuilt(ids), layer(ids))
    # The lookup is a table in the graph: a SavedModel of it answers without this project's code.
    module = tf.Module()
    module.layer = layer
    module.serve = tf.function(lambda x: layer(x), input_signature=[tf.TensorSpec([None, None], tf.int64)])
    tf.saved_model.save(module, str(tmp_path / "bigrams"))
    loaded = tf.saved_model.load(str(tmp_path / "bigrams"))
    np.testing.assert_array_equal(loaded.serve(tf.constant(ids)), layer(ids))


def test_bigrams_bad_arguments():
    with pytest.raises(ValueError, match="max_bigrams"):
        TokenBigrams(vocab_size=10, max_bigrams=0)
