"""Case for generated text: a model that writes lower-case words, served as text a person would accept.

Home of: truecasing (`learn_casing`, `TrueCaser`): each word's usual written form, learnt from training
text, and capitals at the start of every sentence, inside the serving graph.

The generators read and write standardized, lower-case words (`shared.modeling.text.standardize_text`): one
entry per word keeps the output vocabulary small, and the same word at the start or in the middle of a
sentence is one thing to learn. People, and cased BLEU (sacreBLEU's default), expect "Tom lives in
Japan. I know him." rather than "tom lives in japan. i know him.". The classic fix is a truecaser
(Lita et al., 2003, "tRuEcasIng"; Moses' `truecase.perl`): the form a word most often takes where its case
is not forced by position (not first in a sentence) is its true case ("tom" -> "Tom", "i" -> "I",
"japón" -> "Japón"); then the first word of each sentence gets a capital.

Written here rather than with a library: it must run inside the exported graph, on core TensorFlow ops
only (a `tf.lookup.StaticHashTable`, `tf.strings.upper`, `tf.scan`), so TF Serving needs nothing extra.

Example:

>>> caser = TrueCaser(learn_casing(["Tom lives in Japan.", "I know Tom and I like him."]))
>>> words = tf.constant([["tom", "lives", "in", "japan", ".", "i", "know", "him", "."]])
>>> [w.decode() for w in caser(words).numpy()[0]]
['Tom', 'lives', 'in', 'Japan', '.', 'I', 'know', 'him', '.']
"""

from __future__ import annotations

import collections
import typing

import tensorflow as tf

from shared.modeling.text import words_of

# Punctuation that ends a sentence (the next word starts one) and that opens one in Spanish (the word after
# it is still the first word).
SENTENCE_ENDS = (".", "!", "?")
SENTENCE_OPENERS = ("¿", "¡")


def learn_casing(texts: typing.Sequence[str]) -> dict[str, str]:
    """{lower-case word: its usual written form}, for the words whose usual form is not all lower case.

    Counted only where position does not force a capital: not the first word of a text, not the word after
    . ! ? (or after ¿ ¡ that open a sentence). A word seen only in such places is left lower case. Ties go
    to the lower-case form.
    """
    forms: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for words in words_of(texts, lower=False):
        starts_sentence = True
        for word in words:
            if word in SENTENCE_ENDS:
                starts_sentence = True
            elif word in SENTENCE_OPENERS:
                continue
            elif any(ch.isalnum() for ch in word):
                if not starts_sentence:
                    forms[word.lower()][word] += 1
                starts_sentence = False
            else:
                starts_sentence = False
    table = {}
    for lower, counts in forms.items():
        best = max(counts.items(), key=lambda item: (item[1], item[0] == lower))[0]
        if best != lower:
            table[lower] = best
    return table


def capitalize_first(words: tf.Tensor) -> tf.Tensor:
    """Each string with its first character upper-cased (any script: `tf.strings.upper`, UTF-8)."""
    first = tf.strings.substr(words, 0, 1, unit="UTF8_CHAR")
    lengths = tf.strings.length(words, unit="UTF8_CHAR")
    rest = tf.strings.substr(words, tf.minimum(lengths, 1), lengths, unit="UTF8_CHAR")  # "" stays ""
    return tf.strings.join([tf.strings.upper(first, encoding="utf-8"), rest])


def sentence_starts(words: tf.Tensor) -> tf.Tensor:
    """bool [batch, steps]: the word is the first of a sentence ("" and punctuation never are).

    A scan over the steps carries "the next word starts a sentence": true at the start and after . ! ?,
    kept over ¿ ¡ and empty slots, false after any other token.
    """
    is_word = tf.strings.regex_full_match(words, r".*[\pL\pN].*")
    ends = tf.reduce_any(tf.stack([tf.equal(words, p) for p in SENTENCE_ENDS]), axis=0)
    keeps = tf.reduce_any(tf.stack([tf.equal(words, p) for p in (*SENTENCE_OPENERS, "")]), axis=0)

    def step(pending, columns):
        word, end, keep = columns
        return tf.where(end, True, tf.where(keep, pending, False)), pending & word

    time_major = [tf.transpose(x) for x in (is_word, ends, keeps)]
    batch = tf.shape(words)[:1]  # zero steps are fine: the scan then returns nothing
    initial = (tf.ones(batch, tf.bool), tf.zeros(batch, tf.bool))
    _, starts = tf.scan(lambda carry, columns: step(carry[0], columns), time_major, initializer=initial)
    return tf.reshape(tf.transpose(starts), tf.shape(words))


class TrueCaser(tf.Module):
    """Lower-case words [batch, steps] -> cased words: each word's usual form, capitals at sentence starts.

    Args:
        table: {lower-case word: written form} (`learn_casing` on the training targets). Words not in it
            stay as they are, so a word copied from the source with its case keeps it.

    Masking: "" marks an empty slot (padding, [end]); it stays "" and does not end a sentence.
    Track the caser in the export (it holds a lookup table).
    """

    def __init__(self, table: dict[str, str], name: str = "true_caser"):
        super().__init__(name=name)
        keys = list(table) or [""]
        values = [table[k] for k in table] or [""]
        self.size = len(table)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(values)), default_value="")

    def __call__(self, words: tf.Tensor, looked_up: tf.Tensor | None = None) -> tf.Tensor:
        """Cased `words`; `looked_up` (bool, same shape) limits the table to some words (default: all)."""
        found = self.table.lookup(words)
        use = tf.not_equal(found, "")
        if looked_up is not None:
            use &= looked_up
        cased = tf.where(use, found, words)
        return tf.where(sentence_starts(cased), capitalize_first(cased), cased)
