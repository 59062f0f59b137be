"""In-graph greedy, beam search and sampling on toy step functions whose answers are known."""

import numpy as np
import tensorflow as tf

from shared.modeling.decoding import (GREEDY_BELOW, beam_search, greedy_decode, sample_next, sampling_decode,
                                      tile_beams)

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


# ------------------------------------------------------------------------------------------ sampling
def _spread_logits(rows=64, vocab=12, seed=0):
    """Rows of logits with no ties, all within 2 nats, so every token has a real chance at temperature 1."""
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, size=(rows, vocab)), tf.float32)


def test_temperatures_below_the_threshold_and_nan_are_greedy():
    logits = _spread_logits()
    argmax = np.argmax(logits.numpy(), axis=1)
    for temperature in (0.0, -3.0, GREEDY_BELOW / 2, float("nan")):
        for seed in ([0, 0], [5, 9]):
            np.testing.assert_array_equal(sample_next(logits, tf.constant(temperature), tf.constant(0), seed),
                                          argmax)
    # Just above the threshold the draw is a sample, but of a distribution sharp enough to be argmax too.
    np.testing.assert_array_equal(sample_next(logits * 100, tf.constant(GREEDY_BELOW * 2), 0, [0, 0]), argmax)
    # At temperature 1 the draws of 64 spread-out rows do leave the argmax: the threshold is what made it greedy.
    assert (sample_next(logits, tf.constant(1.0), tf.constant(0), [0, 0]).numpy() != argmax).any()


def test_top_k_never_leaves_the_k_best():
    logits = _spread_logits(rows=200)
    order = np.argsort(-logits.numpy(), axis=1)
    for k in (1, 2, 5):
        drawn = np.concatenate([sample_next(logits, tf.constant(10.0), tf.constant(k), [seed, 1]).numpy()[:, None]
                                for seed in range(5)], axis=1)  # a high temperature: nearly uniform
        allowed = order[:, :k]
        assert all(set(row) <= set(best) for row, best in zip(drawn, allowed)), k
        if k > 1:  # and it does use more than the best one
            assert (drawn != order[:, :1]).any()
    # 0, negative and >= vocab mean no cut: tokens outside the 5 best are drawn.
    for k in (0, -4, 12, 1000):
        drawn = sample_next(logits, tf.constant(10.0), tf.constant(k), [0, 1]).numpy()
        assert any(token not in best for token, best in zip(drawn, order[:, :5])), k


def test_banned_id_is_never_drawn_even_when_it_is_the_best():
    logits = _spread_logits(rows=300).numpy()
    logits[:, 0] = 50.0  # the out-of-vocabulary id is by far the likeliest
    logits = tf.constant(logits)
    for temperature, top_k in ((0.0, 0), (1.0, 0), (100.0, 0), (1e30, 0), (1.0, 1), (5.0, 3)):
        drawn = sample_next(logits, tf.constant(temperature), tf.constant(top_k), [3, 4], banned_ids=[0]).numpy()
        assert (drawn != 0).all(), (temperature, top_k)
    assert (sample_next(logits, tf.constant(1.0), tf.constant(0), [3, 4]).numpy() == 0).all()  # without the ban


def test_same_seed_same_draw_other_seed_other_draw():
    logits = _spread_logits(rows=100)
    first = sample_next(logits, tf.constant(1.0), tf.constant(0), tf.constant([7, 0], tf.int64)).numpy()
    again = sample_next(logits, tf.constant(1.0), tf.constant(0), tf.constant([7, 0], tf.int64)).numpy()
    other = sample_next(logits, tf.constant(1.0), tf.constant(0), tf.constant([8, 0], tf.int64)).numpy()
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def _counting_step(vocab=6):
    """A step that prefers token (previous + 1) mod vocab, and counts its calls in the state."""
    def step(tokens, states):
        logits = tf.one_hot((tokens + 1) % vocab, vocab) * 4.0
        return logits, [states[0] + 1], None
    return step


def test_sampling_decode_feeds_each_draw_back_and_is_reproducible():
    first_logits = tf.one_hot([2, 4], 6) * 4.0  # row 0 starts at 2, row 1 at 4
    states = [tf.zeros([2])]
    greedy = sampling_decode(_counting_step(), states, first_logits, tf.constant(5), tf.constant(0.0),
                             tf.constant(0), tf.constant(0, tf.int64))
    assert greedy.numpy().tolist() == [[2, 3, 4, 5, 0], [4, 5, 0, 1, 2]]  # each token follows the last
    banned = sampling_decode(_counting_step(), states, first_logits, tf.constant(5), tf.constant(0.0),
                             tf.constant(0), tf.constant(0, tf.int64), banned_ids=[0])
    assert 0 not in banned.numpy()
    run = tf.function(lambda seed: sampling_decode(_counting_step(), states, first_logits, tf.constant(30),
                                                   tf.constant(2.0), tf.constant(0), seed))
    sampled = run(tf.constant(7, tf.int64)).numpy()
    np.testing.assert_array_equal(sampled, run(tf.constant(7, tf.int64)).numpy())
    assert (sampled != run(tf.constant(8, tf.int64)).numpy()).any()
    # Step t draws with the seed (seed, t): the first two tokens, redrawn by hand.
    first = sample_next(first_logits, tf.constant(2.0), tf.constant(0), tf.constant([7, 0], tf.int64))
    second_logits, _, _ = _counting_step()(first, states)
    second = sample_next(second_logits, tf.constant(2.0), tf.constant(0), tf.constant([7, 1], tf.int64))
    np.testing.assert_array_equal(sampled[:, :2], np.stack([first, second], axis=1))
    assert sampled.shape == (2, 30)
    empty = sampling_decode(_counting_step(), states, first_logits, tf.constant(0), tf.constant(1.0),
                            tf.constant(0), tf.constant(0, tf.int64))
    assert empty.shape == (2, 0)
