"""Teacher forcing: how every autoregressive model of the suite is trained.

Home of: the teacher-forcing shift (`shift_for_teacher_forcing`) every autoregressive app trains with.

An autoregressive decoder (translator, captioner; the char LM is the same idea without a [start]) predicts
token t from the tokens before it. In training those earlier tokens are the *true* ones, not the model's
own guesses: the decoder input is the target row shifted right by one. All positions then train in one
parallel pass, and an early mistake cannot derail the rest of the row. The price is exposure bias: at
serving time the decoder reads its own outputs (shared/modeling/decoding.py), a history it never trained
on; lessons/teacher_forcing.py measures the gap.

    [start] a cat sits [end] 0 0      target row (0 = padding)
    [start] a cat sits   0   0 0      decoder input: the row without its last token, [end] never an input
      a     cat sits [end] 0 0 0      label: the row without its first token
"""

from __future__ import annotations

import tensorflow as tf


def shift_for_teacher_forcing(target_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """`[start] w1 .. wn [end]` (0-padded) -> (decoder input `[start] w1 .. wn`, label `w1 .. wn [end]`).

    At step t the decoder sees the true token t-1 and must predict token t. Padding (0) stays padding: the
    label's padded steps are left out of the loss and the metrics (their mask). [end] is the last real
    token of a row; as an input it would sit where the label is padding, so it becomes padding too (this
    changes no loss: a causal decoder's step t affects only outputs >= t, which are all masked there).

    Args:
        target_ids: int tensor [batch, time], each row `[start] ... [end]` followed by 0s.

    Example:
        >>> inputs, labels = shift_for_teacher_forcing(tf.constant([[2, 5, 6, 3, 0]]))
        >>> inputs.numpy().tolist(), labels.numpy().tolist()
        ([[2, 5, 6, 0]], [[5, 6, 3, 0]])
    """
    decoder_input = target_ids[:, :-1]
    label = target_ids[:, 1:]
    decoder_input = tf.where(label == 0, tf.zeros_like(decoder_input), decoder_input)
    return decoder_input, label
