import numpy as np
import pytest
import tensorflow as tf

from shared.text import make_word_vectorizer, standardize_text, truncate_ids


def _clean(text):
    return standardize_text(tf.constant([text])).numpy()[0].decode("utf-8")


def test_html_case_and_punctuation():
    assert _clean("Great<br /><br />MOVIE!") == "great movie ! "
    assert _clean("I don't know.") == "i don't know . "


def test_spanish_letters_survive():
    assert _clean("¿Qué HORA es?") == " ¿ qué hora es ? "


def test_invalid_utf8_never_raises():
    assert _clean(b"ok \xff\xfe bytes") == "ok bytes"
    assert standardize_text(tf.constant([b"\xc3\x28 bad"])).shape == (1,)


def test_vectorizer_reserves_padding_and_oov():
    vectorizer = make_word_vectorizer(10, ["a b c", "a b", "a"])
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and vocabulary[2] == "a"
    ids = vectorizer(tf.constant(["a zzz"])).to_list()
    assert ids == [[2, 1]]


@pytest.mark.parametrize("keep, expected", [("head", [1, 2, 3, 4]), ("tail", [4, 5, 6, 7]),
                                            ("both", [1, 2, 6, 7])])
def test_truncate_ids(keep, expected):
    ragged = tf.ragged.constant([[1, 2, 3, 4, 5, 6, 7], [8, 9], []], dtype=tf.int64)
    out = truncate_ids(ragged, 4, keep).numpy()
    np.testing.assert_array_equal(out, [expected, [8, 9, 0, 0], [0, 0, 0, 0]])
    # Short batches stay short: padding only to the longest kept row.
    assert truncate_ids(tf.ragged.constant([[1, 2]], dtype=tf.int64), 400, keep).shape == (1, 2)
