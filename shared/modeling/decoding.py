"""Decoding loops that run inside the graph: greedy, beam search and sampling, as `tf.while_loop`s.

Home of: decoding and sampling, greedy (`greedy_decode`), beam search (`beam_search`), temperature / top-k
sampling (`sample_next`, `sampling_decode`) and the "impossible" logit (`NEG_INF`), behind one step contract.

An autoregressive decoder (translator, captioner, char_lm) produces one token per step and feeds it back.
For TF Serving to return whole outputs in one call, that loop must be part of the exported graph. The
loops here take a `step_fn` and are plain TensorFlow (core ops only), so they trace into a SavedModel
signature:

    step_fn(token_ids [n], states) -> (logits [n, vocab], new states, extra [n, ...])

`states` is any nest of tensors whose first axis is the row (a GRU state, an LSTM's [h, c] ...); `extra`
is per-step information to collect (attention weights), or anything when not needed. Both loops stop
when every row has produced `end_id` or after `max_length` steps, whichever comes first, and always
run at least one step (so an empty batch still has well-defined shapes).

`no_repeat_ngram=n` (both loops; 0 turns it off) forbids any token that would write an n-gram the row
has already written. A weak decoder otherwise loops ("a man in a red shirt and a red shirt and a red
shirt ..."); the block is the standard remedy in captioning and summarization.

Sampling (`sample_next`, one step; `sampling_decode`, the loop) draws each token from
softmax(logits / temperature), optionally from the `top_k` likeliest tokens only. Low temperatures
sharpen the distribution; below `GREEDY_BELOW` it is exactly greedy (argmax), the limit temperature -> 0.
The draws are stateless (`tf.random.stateless_categorical`) and seeded by (seed, step), so the same
request gives the same text, on any replica. Where greedy and beam search start from `start_id`,
`sampling_decode` continues a prompt: it starts from the logits the prompt's last step produced.
"""

from __future__ import annotations

import typing

import tensorflow as tf

NEG_INF = -1e9  # "impossible" as a finite number: sums of impossible scores stay finite, never NaN
GREEDY_BELOW = 1e-3      # sampling temperatures below this are greedy decoding (the limit temperature -> 0)
MAX_TEMPERATURE = 100.0  # temperatures are clipped to this: beyond it sampling is uniform to float precision


def _ban(logits: tf.Tensor, banned_ids: typing.Sequence[int]) -> tf.Tensor:
    """Logits with the `banned_ids` columns (padding, the start token) made impossible."""
    if not banned_ids:
        return logits
    columns = tf.range(tf.shape(logits)[-1])
    banned = tf.reduce_any(columns[:, None] == tf.constant(list(banned_ids), tf.int32)[None, :], axis=1)
    return tf.where(banned, tf.cast(NEG_INF, logits.dtype), logits)


def _ban_repeats(logits: tf.Tensor, written: tf.Tensor, n: int) -> tf.Tensor:
    """Logits [rows, vocab] with every token that would repeat an `n`-gram of `written` [rows, t] made impossible.

    The last n-1 written tokens are the prefix; wherever the same n-1 tokens occur earlier in the row, the
    token that followed them there is banned now.
    """
    if n < 1:
        return logits
    windows = tf.signal.frame(written, n, 1, axis=1)  # [rows, t - n + 1, n]: every n-gram written so far
    # The last n-1 tokens; -1 (no token) fills in before n-1 are written, when there are no windows anyway.
    padded = tf.concat([tf.fill([tf.shape(written)[0], n - 1], -1), written], axis=1)
    prefix = padded[:, tf.shape(padded)[1] - (n - 1):]
    same = tf.reduce_all(tf.equal(windows[:, :, :n - 1], prefix[:, None, :]), axis=2)
    followers = tf.one_hot(windows[:, :, n - 1], tf.shape(logits)[-1], on_value=True, off_value=False)
    banned = tf.reduce_any(tf.logical_and(followers, same[:, :, None]), axis=1)
    return tf.where(banned, tf.cast(NEG_INF, logits.dtype), logits)


def greedy_decode(step_fn, states, batch_size, start_id: int, end_id: int, max_length,
                  banned_ids: typing.Sequence[int] = (), pad_id: int = 0, extra_dtype=tf.float32,
                  no_repeat_ngram: int = 0):
    """The most likely next token at every step.

    Returns:
        tokens [batch, steps] int32: each row's tokens up to and including `end_id`, then `pad_id`;
        extras [batch, steps, ...]: `step_fn`'s third output (of `extra_dtype`) at every step.
    """
    tokens = tf.fill([batch_size], tf.constant(start_id, tf.int32))
    finished = tf.zeros([batch_size], tf.bool)
    written = tf.zeros([batch_size, 0], tf.int32)
    extras = tf.TensorArray(extra_dtype, size=0, dynamic_size=True, infer_shape=False)

    def keep_going(step, tokens, states, finished, written, extras):
        return tf.logical_and(step < max_length,
                              tf.logical_or(step == 0, tf.logical_not(tf.reduce_all(finished))))

    def body(step, tokens, states, finished, written, extras):
        logits, states, extra = step_fn(tokens, states)
        logits = _ban_repeats(_ban(logits, banned_ids), written, no_repeat_ngram)
        chosen = tf.argmax(logits, axis=-1, output_type=tf.int32)
        chosen = tf.where(finished, tf.constant(pad_id, tf.int32), chosen)  # ended rows only pad
        finished = tf.logical_or(finished, chosen == end_id)
        written = tf.concat([written, chosen[:, None]], axis=1)
        return step + 1, chosen, states, finished, written, extras.write(step, extra)

    invariants = (tf.TensorShape([]), tf.TensorShape([None]),
                  tf.nest.map_structure(lambda s: tf.TensorShape([None]).concatenate(s.shape[1:]), states),
                  tf.TensorShape([None]), tf.TensorShape([None, None]), tf.TensorShape(None))
    _, _, _, _, tokens, extras = tf.while_loop(
        keep_going, body, (tf.constant(0), tokens, states, finished, written, extras),
        shape_invariants=invariants)
    extras = extras.stack()  # [steps, batch, ...]
    extras = tf.transpose(extras, tf.concat([[1, 0], tf.range(2, tf.rank(extras))], axis=0))
    return tokens, extras


def tile_beams(tensor: tf.Tensor, beam_size: int) -> tf.Tensor:
    """[batch, ...] -> [batch * beam_size, ...]: each row repeated for each of its beams (row-major)."""
    return tf.repeat(tensor, beam_size, axis=0)


def beam_search(step_fn, states, batch_size, beam_size: int, start_id: int, end_id: int, max_length,
                banned_ids: typing.Sequence[int] = (), pad_id: int = 0, length_penalty: float = 1.0,
                extra_template: tf.Tensor | None = None, no_repeat_ngram: int = 0):
    """Keep the `beam_size` most likely partial outputs per row, extend each by every token, keep the best.

    `states` (and whatever `step_fn` reads, e.g. the encoder's outputs) must already be tiled to
    [batch * beam_size, ...] with `tile_beams`. A beam that has produced `end_id` is finished: it may
    only be extended by `pad_id` at no cost, so its score stays fixed while it competes with the others.
    The search stops when all kept beams are finished or at `max_length`. The answer per row is the beam
    with the best score / length ** length_penalty (1.0: mean log-probability per token; 0: raw sum,
    which favours short outputs).

    Returns:
        tokens [batch, steps] int32 (as `greedy_decode`), scores [batch] (the chosen beams' log-probability),
        extras [batch, steps, ...]: the chosen beam's `extra` at every step, when `extra_template` (a
        tensor shaped like one step's `extra`, [batch * beam_size, ...]) is given; else None.
    """
    k = beam_size
    rows = batch_size
    tokens = tf.fill([rows * k], tf.constant(start_id, tf.int32))
    # Only beam 0 is live at the start: otherwise the k identical beams would fill the beam with copies.
    scores = tf.tile(tf.concat([[0.0], tf.fill([k - 1], NEG_INF)], axis=0)[None, :], [rows, 1])
    finished = tf.zeros([rows, k], tf.bool)
    lengths = tf.zeros([rows, k], tf.float32)
    sequences = tf.zeros([rows, k, 0], tf.int32)
    track = extra_template is not None
    if track:
        extra_shape = tf.shape(extra_template)[1:]
        history = tf.zeros(tf.concat([[rows, k, 0], extra_shape], axis=0), extra_template.dtype)
    else:
        history = tf.zeros([rows, k, 0])

    def regroup(tensor, parents):
        """Reorder [rows * k, ...] beams so that new beam j continues old beam parents[row, j]."""
        grouped = tf.reshape(tensor, tf.concat([[rows, k], tf.shape(tensor)[1:]], axis=0))
        return tf.reshape(tf.gather(grouped, parents, batch_dims=1), tf.shape(tensor))

    def keep_going(step, tokens, states, scores, finished, lengths, sequences, history):
        return tf.logical_and(step < max_length,
                              tf.logical_or(step == 0, tf.logical_not(tf.reduce_all(finished))))

    def body(step, tokens, states, scores, finished, lengths, sequences, history):
        logits, states, extra = step_fn(tokens, states)
        logits = _ban_repeats(_ban(tf.cast(logits, tf.float32), banned_ids),
                              tf.reshape(sequences, [rows * k, -1]), no_repeat_ngram)
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        vocab = tf.shape(log_probs)[-1]
        log_probs = tf.reshape(log_probs, [rows, k, vocab])
        pad_only = tf.where(tf.range(vocab) == pad_id, 0.0, NEG_INF)
        log_probs = tf.where(finished[:, :, None], pad_only[None, None, :], log_probs)
        candidates = tf.reshape(scores[:, :, None] + log_probs, [rows, k * vocab])
        scores, picks = tf.math.top_k(candidates, k=k)
        parents, chosen = picks // vocab, picks % vocab
        states = tf.nest.map_structure(lambda s: regroup(s, parents), states)
        was_finished = tf.gather(finished, parents, batch_dims=1)
        lengths = tf.gather(lengths, parents, batch_dims=1) + tf.cast(tf.logical_not(was_finished), tf.float32)
        finished = tf.logical_or(was_finished, chosen == end_id)
        sequences = tf.concat([tf.gather(sequences, parents, batch_dims=1), chosen[:, :, None]], axis=2)
        if track:  # this step's extra belongs to the parent beam that produced the chosen token
            extra = regroup(extra, parents)
            extra = tf.reshape(extra, tf.concat([[rows, k, 1], extra_shape], axis=0))
            history = tf.concat([tf.gather(history, parents, batch_dims=1), extra], axis=2)
        return step + 1, tf.reshape(chosen, [-1]), states, scores, finished, lengths, sequences, history

    invariants = (tf.TensorShape([]), tf.TensorShape([None]),
                  tf.nest.map_structure(lambda s: tf.TensorShape([None]).concatenate(s.shape[1:]), states),
                  tf.TensorShape([None, k]), tf.TensorShape([None, k]), tf.TensorShape([None, k]),
                  tf.TensorShape([None, k, None]),
                  tf.TensorShape([None, k, None]).concatenate(
                      extra_template.shape[1:] if track else tf.TensorShape([])))
    _, _, _, scores, _, lengths, sequences, history = tf.while_loop(
        keep_going, body, (tf.constant(0), tokens, states, scores, finished, lengths, sequences, history),
        shape_invariants=invariants)
    normalized = scores / tf.pow(tf.maximum(lengths, 1.0), length_penalty)
    best = tf.argmax(normalized, axis=1, output_type=tf.int32)
    return (tf.gather(sequences, best, batch_dims=1), tf.gather(scores, best, batch_dims=1),
            tf.gather(history, best, batch_dims=1) if track else None)


def sample_next(logits: tf.Tensor, temperature, top_k, seed, banned_ids: typing.Sequence[int] = ()) -> tf.Tensor:
    """Next token ids [n] int32 drawn from logits [n, vocab]: top-k cut, then temperature, or greedy.

    Args:
        logits: one step's scores per row.
        temperature: scalar; <= `GREEDY_BELOW` (or NaN) means argmax, else clipped to `MAX_TEMPERATURE`.
        top_k: scalar int32; draw only from the k likeliest tokens. <= 0 or >= vocab: no cut.
        seed: shape [2] int32/int64, the stateless random seed of this draw (e.g. [request seed, step]).
        banned_ids: tokens never drawn, greedy included (an out-of-vocabulary id, padding).

    Example:
        >>> logits = tf.constant([[0.0, 1.0, 5.0, 2.0]])
        >>> int(sample_next(logits, 0.0, 0, [0, 0])[0])            # greedy
        2
        >>> int(sample_next(logits, 1.0, 1, [0, 0], banned_ids=[2])[0])  # top-1 of what is allowed
        3
    """
    vocab = tf.shape(logits)[1]
    logits = _ban(logits, banned_ids)
    greedy = tf.argmax(logits, axis=1, output_type=tf.int32)
    k = tf.clip_by_value(top_k, 1, vocab)
    kth_best = tf.math.top_k(logits, k=k).values[:, -1:]
    use_top_k = tf.logical_and(top_k > 0, top_k < vocab)
    logits = tf.where(tf.logical_and(use_top_k, logits < kth_best), tf.cast(NEG_INF, logits.dtype), logits)
    safe_temperature = tf.clip_by_value(temperature, GREEDY_BELOW, MAX_TEMPERATURE)
    sampled = tf.random.stateless_categorical(logits / safe_temperature, 1, seed=seed, dtype=tf.int32)[:, 0]
    # NaN compares false, so a NaN temperature is greedy too.
    return tf.where(temperature >= GREEDY_BELOW, sampled, greedy)


def sampling_decode(step_fn, states, first_logits: tf.Tensor, steps, temperature, top_k, seed,
                    banned_ids: typing.Sequence[int] = ()) -> tf.Tensor:
    """Exactly `steps` tokens per row, each drawn by `sample_next` and fed back through `step_fn`.

    Args:
        step_fn: step_fn(token_ids [n], states) -> (logits [n, vocab], new states, extra); extra is ignored.
        states: the states after the prompt (any nest of [n, ...] tensors).
        first_logits: [n, vocab], what the prompt's last step predicted: the first token is drawn from it.
        steps: scalar int32 >= 0, how many tokens to draw (no end token: the caller says how many).
        temperature, top_k, banned_ids: as `sample_next`.
        seed: scalar int64; step t draws with the stateless seed (seed, t).

    Returns:
        tokens [n, steps] int32 ([n, 0] when steps is 0).
    """
    seed = tf.cast(seed, tf.int64)
    rows = tf.shape(first_logits)[0]

    def write_token(t, states, logits, written):
        token_ids = sample_next(logits, temperature, top_k, tf.stack([seed, tf.cast(t, tf.int64)]), banned_ids)
        logits, states, _ = step_fn(token_ids, states)
        return t + 1, states, logits, written.write(t, token_ids)

    written = tf.TensorArray(tf.int32, size=steps, element_shape=tf.TensorShape([None]))
    _, _, _, written = tf.while_loop(lambda t, *_: t < steps, write_token,
                                     (tf.constant(0), states, first_logits, written))
    # An empty TensorArray cannot stack (its element shape is unknown): steps <= 0 skips it.
    tokens = tf.cond(steps > 0, written.stack, lambda: tf.zeros([0, rows], tf.int32))  # [steps, n]
    return tf.transpose(tokens)
