"""In-graph greedy and beam search on a toy step function whose best answers are known."""

import numpy as np
import tensorflow as tf

from shared.modeling.decoding import beam_search, greedy_decode, tile_beams

PAD, START, END = 0, 2, 3


def _markov_step(table):
    """A step function whose next-token log-probabilities depend only on the previous token."""
    table = tf.math.log(tf.constant(table, tf.float32) + 1e-9)
    return lambda tokens, states: (tf.gather(table, tokens), states, tf.zeros([tf.shape(tokens)[0], 1]))


def test_beam_search_finds_what_greedy_misses():
    # Tokens: 0 pad, 1 unk, 2 start, 3 end, 4 A, 5 B. Greedy takes A (0.6) but then every continuation is
    # poor (A end: 0.6 x 0.35); B is likelier in total (B end: 0.4 x 1.0).
    table = [[1, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, .6, .4],
             [1, 0, 0, 0, 0, 0], [0, 0, 0, .35, .33, .32], [0, 0, 0, 1, 0, 0]]
    step = _markov_step(table)
    greedy, _ = greedy_decode(step, [tf.zeros([2, 1])], 2, START, END, 5, banned_ids=(PAD, START))
    beam, scores, _ = beam_search(step, [tf.zeros([4, 1])], 2, 2, START, END, 5, banned_ids=(PAD, START),
                                  length_penalty=0.0)
    assert greedy.numpy().tolist() == [[4, 3], [4, 3]]
    assert beam.numpy().tolist() == [[5, 3], [5, 3]]
    np.testing.assert_allclose(scores, np.log([0.4, 0.4]), atol=1e-4)
    one_beam, _, _ = beam_search(step, [tf.zeros([2, 1])], 2, 1, START, END, 5, banned_ids=(PAD, START))
    assert one_beam.numpy().tolist() == greedy.numpy().tolist()  # a beam of one is greedy


def test_greedy_stops_as_soon_as_every_row_has_ended():
    # From start: A; from A: end. From B (never chosen): B forever. Bound 10, but all rows end at step 2.
    table = [[1, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, .9, .1],
             [1, 0, 0, 0, 0, 0], [0, 0, 0, .9, 0, .1], [0, 0, 0, 0, 0, 1]]
    tokens, extras = tf.function(lambda: greedy_decode(_markov_step(table), [tf.zeros([3, 1])], 3, START, END,
                                                       10, banned_ids=(PAD, START)))()
    assert tokens.numpy().tolist() == [[4, 3]] * 3
    assert extras.shape == (3, 2, 1)  # one `extra` per row and step


def test_length_bound_and_empty_batch():
    table = [[0, 0, 0, 0, 0, 1]] * 6  # always B: never ends on its own
    tokens, _ = greedy_decode(_markov_step(table), [tf.zeros([2, 1])], 2, START, END, 4, banned_ids=(PAD, START))
    assert tokens.shape == (2, 4)
    beams, _, _ = beam_search(_markov_step(table), [tf.zeros([0, 1])], 0, 3, START, END, 4,
                              banned_ids=(PAD, START))
    assert beams.shape[0] == 0


def test_tile_beams_repeats_rows_in_place():
    np.testing.assert_array_equal(tile_beams(tf.constant([[1], [2]]), 2), [[1], [1], [2], [2]])


def _looping_step(vocab=6):
    """A decoder stuck in a loop: after token t it always prefers t + 1 (mod 4, from 2), and [end] (1) last."""
    def step(tokens, states):
        preferred = 2 + (tokens - 2 + 1) % 4
        logits = tf.one_hot(preferred, vocab) * 5.0 + tf.one_hot(tf.fill(tf.shape(tokens), 1), vocab) * 1.0
        return logits, states, tf.zeros(tf.shape(tokens), tf.float32)
    return step


def test_no_repeat_ngram_breaks_loops_in_greedy_and_beam():
    states = [tf.zeros([2, 1])]
    loop, _ = greedy_decode(_looping_step(), states, 2, 0, 1, 12, banned_ids=(0,))
    assert loop.numpy()[0].tolist() == [5, 2, 3, 4] * 3  # without the block it never ends
    for n in (1, 2, 3):
        tokens, _ = greedy_decode(_looping_step(), states, 2, 0, 1, 12, banned_ids=(0,), no_repeat_ngram=n)
        row = [int(t) for t in tokens.numpy()[0] if t != 0]
        grams = [tuple(row[i:i + n]) for i in range(len(row) - n + 1) if 1 not in row[i:i + n]]
        assert len(grams) == len(set(grams)), (n, row)  # no n-gram twice
        assert row[-1] == 1, (n, row)  # the loop was broken and the caption ended
    tokens, _, _ = beam_search(_looping_step(), [tile_beams(s, 3) for s in states], 2, 3, 0, 1, 12,
                               banned_ids=(0,), no_repeat_ngram=2)
    row = [int(t) for t in tokens.numpy()[0] if t != 0]
    bigrams = [tuple(row[i:i + 2]) for i in range(len(row) - 1)]
    assert len(bigrams) == len(set(bigrams)) and row[-1] == 1, row
