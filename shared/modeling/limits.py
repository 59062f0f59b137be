"""Per-request cost limits, checked inside serving graphs before the expensive work starts.

Home of: the per-request limit checks of every serving graph (`check_at_most`, `guarded`, `at_most_rows`).

Every signature states what one request may ask for (rows, characters, pixels, generated characters) and
refuses more with an InvalidArgument error that names the limit, which TF Serving answers as HTTP 400.
The checks run as control dependencies of the value they guard, so nothing downstream (decoding,
tokenizing, the model) starts on a request that is over a limit.
"""

from __future__ import annotations

import tensorflow as tf


def check_at_most(value, limit: int, message: str) -> tf.Operation:
    """An assertion op: `value` (an integer scalar) <= `limit`, else InvalidArgument with `message`."""
    return tf.debugging.assert_less_equal(tf.cast(value, tf.int64), tf.constant(limit, tf.int64),
                                          message=message)


def guarded(value: tf.Tensor, *checks) -> tf.Tensor:
    """`value` unchanged, available only after every check in `checks` has passed."""
    with tf.control_dependencies(checks):
        return tf.identity(value)


def at_most_rows(values: tf.Tensor, max_rows: int, what: str) -> tf.Tensor:
    """`values` [batch, ...] unchanged, after refusing a batch of more than `max_rows` rows ("texts")."""
    return guarded(values, check_at_most(tf.shape(values)[0], max_rows,
                                         f"limit: at most {max_rows} {what} per request"))


def refuse_first(problems: list[tuple[tf.Tensor, str]]) -> tf.Operation:
    """One assertion op that carries the message of the first broken condition (True = broken), so a
    request breaking several limits is told about the most basic one (its rank before its size).

    Args:
        problems: (condition, message) pairs in order of importance; each condition a boolean scalar.

    Used inside a serving function, before the value it guards:

        check = refuse_first([(tf.equal(count, 0), "the video has zero frames"),
                              (count > 2000, "the video has more than 2000 frames (the limit per request)")])
        with tf.control_dependencies([check]):
            frames = tf.identity(frames)
    """
    broken = tf.stack([condition for condition, _ in problems])
    message = tf.gather(tf.constant([text for _, text in problems]), tf.argmax(tf.cast(broken, tf.int32)))
    return tf.debugging.Assert(tf.logical_not(tf.reduce_any(broken)), [message])
