import numpy as np
import pytest
import tensorflow as tf

from shared.modeling.text import controls_to_spaces, cut_bytes, make_word_vectorizer, standardize_text, truncate_ids


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


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x1b", "\x7f", "\u0085", "\t", "\n", "\r"])
def test_control_characters_are_spaces_and_nothing_after_them_is_lost(control):
    """tf.strings.lower stops at a NUL byte: 'great film\\x00 awful' used to read as 'great film'."""
    assert _clean(f"Great film{control} AWFUL awful") == "great film awful awful"
    assert _clean(f"{control}tengo dos") == " tengo dos"


def test_character_models_keep_newline_and_tab():
    text = tf.constant(["a\nb\tc\x00d\x1be\x7ff\u0085g"])
    assert controls_to_spaces(text, keep_layout=True).numpy()[0].decode() == "a\nb\tc d e f g"
    assert controls_to_spaces(text).numpy()[0].decode() == "a b c d e f g"


@pytest.mark.parametrize(("keep", "expected"), [("head", [b"abcd", b"abc", b""]), ("tail", [b"ghij", b"abc", b""]),
                                                ("both", [b"ab ij", b"abc", b""])])
def test_cut_bytes_keeps_at_most_max_bytes(keep, expected):
    assert cut_bytes(tf.constant(["abcdefghij", "abc", ""]), 4, keep).numpy().tolist() == expected


def test_a_cut_through_a_character_never_fails():
    cut = cut_bytes(tf.constant(["aé"]), 2)  # "é" is two bytes: the cut leaves the first, invalid alone
    assert cut.numpy()[0] == b"a\xc3" and _clean(cut.numpy()[0]) == "a "  # U+FFFD, then a space
