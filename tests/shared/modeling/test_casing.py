"""Truecasing: each word's usual written form, capitals at sentence starts, inside a graph."""

import doctest

import tensorflow as tf

from shared.modeling import casing
from shared.modeling.casing import TrueCaser, capitalize_first, learn_casing, sentence_starts


def _strings(tensor):
    return [[word.decode() for word in row] for row in tensor.numpy()]


def test_the_usual_form_is_learnt_where_position_does_not_force_a_capital():
    table = learn_casing(["Tom lives in Japan.", "I know Tom. Tom and I left.", "¿Dónde vive Tom?",
                          "The cat sleeps.", "He saw the cat.", "Apple pie is good.", "Paris? Paris!"])
    assert table["tom"] == "Tom" and table["japan"] == "Japan" and table["i"] == "I"
    assert "the" not in table and "cat" not in table  # only lower case where position is free
    assert "apple" not in table and "dónde" not in table  # seen only first in a sentence: left lower case
    assert "paris" not in table  # seen only right after ? or ! (a sentence start)
    assert learn_casing(["A b.", "A B."]) == {}  # a tie goes to the lower-case form
    assert learn_casing([]) == {}


def test_sentence_starts_skip_openers_and_empty_slots():
    words = tf.constant([["¿", "dónde", "está", "?", "¡", "", "hola", "!"],
                         ["", "ok", ",", "yes", ".", "no", "", ""]])
    assert sentence_starts(words).numpy().tolist() == [
        [False, True, False, False, False, False, True, False],
        [False, True, False, False, False, True, False, False]]
    assert sentence_starts(tf.zeros([2, 0], tf.string)).shape == (2, 0)


def test_capitals_of_any_script_and_empty_strings():
    assert [w.decode() for w in capitalize_first(tf.constant(["éxito", "ñu", "", "1a"])).numpy()] == \
        ["Éxito", "Ñu", "", "1a"]


def test_the_caser_restores_case_and_keeps_copied_words_as_written():
    caser = TrueCaser(learn_casing(["I saw Tom in Boston.", "Then I left with Tom."]))
    words = tf.constant([["i", "saw", "tom", ".", "he", "saw", "TOKYO", ""]])
    looked_up = tf.constant([[True, True, True, True, True, True, False, False]])
    assert _strings(caser(words, looked_up)) == [["I", "saw", "Tom", ".", "He", "saw", "TOKYO", ""]]
    assert _strings(TrueCaser({})(tf.constant([["tom", "."]]))) == [["Tom", "."]]

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string)])
    def serve(words):  # traced, as in an export: batch and steps unknown
        return caser(words)

    assert _strings(serve(tf.constant([["boston", "?"], ["", ""]]))) == [["Boston", "?"], ["", ""]]


def test_the_module_example_runs_as_written():
    result = doctest.testmod(casing, extraglobs={"tf": tf})
    assert result.attempted > 0 and result.failed == 0
