"""shared/modeling/limits.py: a limit passes what it allows and refuses one more, naming itself."""

import pytest
import tensorflow as tf

from shared.modeling.limits import at_most_rows, check_at_most, guarded, refuse_first


def test_at_most_rows_passes_the_limit_and_refuses_one_more():
    rows = tf.function(lambda texts: at_most_rows(texts, 3, "texts"))
    assert rows(tf.constant(["a", "b", "c"])).numpy().tolist() == [b"a", b"b", b"c"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="limit: at most 3 texts per request"):
        rows(tf.constant(["a", "b", "c", "d"]))


def test_a_guarded_value_comes_only_after_its_checks():
    doubled = tf.function(lambda value: guarded(value, check_at_most(value, 10, "limit: at most 10")) * 2)
    assert int(doubled(tf.constant(10))) == 20
    with pytest.raises(tf.errors.InvalidArgumentError, match="limit: at most 10"):
        doubled(tf.constant(11))


def test_refuse_first_names_the_first_broken_limit_and_passes_when_none_is():
    def check(count):
        with tf.control_dependencies([refuse_first([(tf.equal(count, 0), "zero frames"),
                                                    (count > 5, "more than 5 frames"),
                                                    (count > 3, "more than 3 frames")])]):
            return tf.identity(count)
    checked = tf.function(check)
    assert int(checked(tf.constant(3))) == 3
    with pytest.raises(tf.errors.InvalidArgumentError, match="zero frames"):
        checked(tf.constant(0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than 5 frames"):  # both broken: the first
        checked(tf.constant(6))
