"""Raw text -> token ids, inside the graph, with core TensorFlow ops only.

Home of: the one cleaning rule (`standardize_text`, and its words as Python lists: `words_of`), text cut to a
byte limit (`cut_bytes`), the word vectorizers and the special ids PAD/UNK/START/END, and ids -> text
(`ids_to_text`, `join_words`).

The exported SavedModels take raw strings, so tokenization must travel inside them. Keras'
`TextVectorization` does that with core ops (regex replace, whitespace split, a lookup table): TF Serving
needs no extra op library. `standardize_text` is the suite's one cleaning rule; it never fails on bad
input: invalid UTF-8 bytes become U+FFFD instead of raising, HTML tags and control characters (NUL
included) become spaces. `cut_bytes` bounds what a serving graph reads of each text *before* any of it is
split into tokens or characters, so the cost of a request follows the limit, not the request's size.
"""

from __future__ import annotations

import keras
import tensorflow as tf

# Punctuation kept as tokens of their own: "!" and "?" carry sentiment and sentence type, and "¿ ¡"
# open Spanish questions and exclamations.
_PUNCTUATION = r"([.,!?¿¡;:])"
# C0 and C1 control characters (NUL, bell, escape, DEL, ...), and the same without newline and tab.
_CONTROL = r"\p{Cc}"
_CONTROL_BUT_LAYOUT = r"[\x{0}-\x{8}\x{b}-\x{1f}\x{7f}-\x{9f}]"


def controls_to_spaces(text: tf.Tensor, keep_layout: bool = False) -> tf.Tensor:
    """Control characters (NUL included) -> spaces, in valid UTF-8 text.

    Done before anything else reads the text: tf.strings.lower (like a C string) stops at a NUL byte,
    which silently dropped everything after one. `keep_layout` keeps newline and tab, characters that a
    character model reads and writes.
    """
    return tf.strings.regex_replace(text, _CONTROL_BUT_LAYOUT if keep_layout else _CONTROL, " ")


@keras.saving.register_keras_serializable(package="shared")
def standardize_text(text, lower: bool = True):
    """Clean a string tensor: valid UTF-8, lower case, no HTML tags, punctuation split off.

    Letters of any script and digits are kept (so Spanish accents survive), apostrophes stay inside
    words ("don't"), the punctuation above becomes separate tokens, everything else is a space.
    `lower=False` keeps the case and nothing else changes, so its words lower-cased are exactly the
    standardized ones: `shared.modeling.casing` reads both.
    """
    text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace")
    text = controls_to_spaces(text)
    if lower:
        text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, r"<[^>]*>", " ")
    text = tf.strings.regex_replace(text, _PUNCTUATION, r" \1 ")
    text = tf.strings.regex_replace(text, r"[^\pL\pN'.,!?¿¡;: ]+", " ")
    return tf.strings.regex_replace(text, r" +", " ")


def words_of(texts, lower: bool = True) -> list[list[str]]:
    """Python lists of each text's standardized words (`standardize_text`; `lower=False` keeps the case)."""
    rows = tf.strings.split(standardize_text(tf.constant(list(texts), tf.string), lower=lower)).to_list()
    return [[word.decode("utf-8") for word in row] for row in rows]


def cut_bytes(text: tf.Tensor, max_bytes: int, keep: str = "head") -> tf.Tensor:
    """Each string cut to at most `max_bytes` bytes: its first ("head"), last ("tail") or both halves.

    Cheap and done first, so a huge text costs no more than one of `max_bytes`. A cut through a UTF-8
    character leaves invalid bytes, which `standardize_text` (or errors="replace") reads as U+FFFD.
    "both" joins the halves with a space, so their edge words stay apart.
    """
    if keep not in ("head", "tail", "both"):
        raise ValueError(f"keep must be 'head', 'tail' or 'both', got {keep!r}.")
    lengths = tf.strings.length(text)  # bytes
    head = tf.strings.substr(text, 0, max_bytes if keep == "head" else max_bytes // 2)
    tail_bytes = max_bytes if keep == "tail" else max_bytes - max_bytes // 2
    tail = tf.strings.substr(text, tf.maximum(lengths - tail_bytes, 0), tf.fill(tf.shape(lengths), tail_bytes))
    if keep == "head":
        return head
    if keep == "tail":
        return tail
    return tf.where(lengths > max_bytes, tf.strings.join([head, tail], separator=" "), text)


def make_word_vectorizer(vocab_size: int, texts, batch_size: int = 1024) -> keras.layers.TextVectorization:
    """A `TextVectorization` layer adapted on `texts` (training data only), returning ragged ids.

    Id 0 is padding and id 1 the out-of-vocabulary token, as the rest of the suite assumes. Ragged output
    lets the caller choose where to cut and pad (see `truncate_ids`).
    """
    vectorizer = keras.layers.TextVectorization(
        max_tokens=vocab_size, standardize=standardize_text, split="whitespace", ragged=True,
        name="vectorizer")
    dataset = texts if isinstance(texts, tf.data.Dataset) else tf.data.Dataset.from_tensor_slices(texts)
    vectorizer.adapt(dataset.batch(batch_size))
    return vectorizer


def truncate_ids(ragged_ids: tf.RaggedTensor, max_length: int, keep: str = "both") -> tf.Tensor:
    """Cut each row of ragged ids to at most `max_length` tokens and right-pad with 0 to the longest.

    Args:
        keep: "head" keeps the first tokens, "tail" the last ones, "both" half of each: a long review
            states its verdict at the start or (more often) at the end, rarely only in the middle.
    """
    if keep not in ("head", "tail", "both"):
        raise ValueError(f"keep must be 'head', 'tail' or 'both', got {keep!r}.")
    lengths = ragged_ids.row_lengths()
    if keep == "head":
        kept = ragged_ids[:, :max_length]
    elif keep == "tail":
        kept = ragged_ids[:, -max_length:]
    else:
        head = max_length // 2
        both = tf.concat([ragged_ids[:, :head], ragged_ids[:, -(max_length - head):]], axis=1)
        kept = _select_rows(lengths > max_length, both, ragged_ids)
    # Pad to the longest kept row, not to max_length: a batch of short texts stays short (fast).
    return kept.to_tensor(default_value=0)


def _select_rows(condition, if_true: tf.RaggedTensor, if_false: tf.RaggedTensor) -> tf.RaggedTensor:
    """Row-wise choice between two ragged tensors with the same number of rows."""
    indices = tf.range(tf.shape(condition, out_type=tf.int64)[0])
    stacked = tf.concat([if_true, if_false], axis=0)
    picks = tf.where(condition, indices, indices + tf.shape(condition, out_type=tf.int64)[0])
    return tf.gather(stacked, picks)


# ------------------------------------------------------------------------------- generated text
# Output vocabularies of the generators (translator, captioner): 0 = padding, 1 = [UNK], 2 = [start],
# 3 = [end], then words by frequency. "[start]" and "[end]" never come out of standardize_text (it removes
# brackets), so they cannot collide with a real word.
PAD, UNK, START, END = 0, 1, 2, 3


def make_target_vectorizer(vocab_size: int, texts, name: str = "target_vectorizer") -> keras.layers.TextVectorization:
    """A vectorizer for texts a model writes: the ids above, adapted on `texts` (training data only)."""
    words = make_word_vectorizer(vocab_size - 2, texts).get_vocabulary()
    return keras.layers.TextVectorization(
        standardize=standardize_text, split="whitespace", ragged=True, name=name,
        vocabulary=[str(w) for w in words[:2]] + ["[start]", "[end]"] + [str(w) for w in words[2:]])


def frame_targets(ragged_ids: tf.RaggedTensor, max_tokens: int) -> tf.Tensor:
    """Word ids -> `[start] w1 .. wn [end]` rows, 0-padded (n cut to `max_tokens`).

    Teacher forcing then reads `framed[:, :-1]` as the decoder's input and `framed[:, 1:]` as its target:
    at every step the model sees the true previous word and must predict the next one.
    """
    ragged_ids = ragged_ids[:, :max_tokens]
    rows = ragged_ids.nrows()
    starts = tf.fill([rows, 1], tf.constant(START, ragged_ids.dtype))
    ends = tf.fill([rows, 1], tf.constant(END, ragged_ids.dtype))
    return tf.concat([starts, ragged_ids, ends], axis=1).to_tensor(default_value=PAD)


def join_words(words: tf.Tensor) -> tf.Tensor:
    """Word strings [batch, steps] ("" for nothing) -> sentences: spaces between, punctuation attached.

    "¿ dónde está ?" becomes "¿dónde está?". The text stays lower case, as the model sees it.
    """
    text = tf.strings.regex_replace(tf.strings.reduce_join(words, axis=1, separator=" "), r" +", " ")
    text = tf.strings.regex_replace(text, r" ([.,!?;:])", r"\1")
    return tf.strings.strip(tf.strings.regex_replace(text, r"([¿¡]) ", r"\1"))


def normalize_reference(text: tf.Tensor) -> tf.Tensor:
    """A reference sentence in the form the models write (standardized, punctuation re-attached).

    BLEU compares hypotheses with references passed through this, so both sides have the same case and
    the same punctuation; sacrebleu's 13a tokenizer then splits both the same way.
    """
    return join_words(tf.strings.split(standardize_text(text)).to_tensor(default_value=""))


def ids_to_text(token_ids: tf.Tensor, vocabulary: tf.Tensor) -> tf.Tensor:
    """Generated ids [batch, steps] -> sentences; [end], padding and the other specials print as nothing."""
    words = tf.where(token_ids > END, tf.gather(vocabulary, token_ids), "")
    return join_words(words)
