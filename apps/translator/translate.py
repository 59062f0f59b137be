"""Raw sentences in, whole translations out: vocabularies, framing, and the in-graph decoders.

Everything here is TensorFlow that traces into the exported SavedModel, so one TF Serving call does all
of it: standardize and split the source (shared.modeling.text.standardize_text), look words up, run the encoder,
run the decoder in a `tf.while_loop` (greedy or beam search, shared/modeling/decoding.py) until every row has
written [end] or a length bound, then turn ids back into a sentence.

Target ids: 0 = padding, 1 = [UNK], 2 = [start], 3 = [end], then words by frequency in the training
targets. "[start]" and "[end]" can never come out of standardization (it removes brackets), so they
cannot collide with a real word.
"""

from __future__ import annotations

import tensorflow as tf

from shared.modeling.decoding import beam_search, greedy_decode, tile_beams
from shared.modeling.limits import at_most_rows
from shared.modeling.masking import ensure_nonempty
from shared.modeling.text import (
    END,
    PAD,
    START,
    UNK,
    cut_bytes,
    join_words,
    make_target_vectorizer,
    make_word_vectorizer,
    standardize_text,
    truncate_ids,
)


# What one serving request may cost (README "Serve"): at most MAX_TEXTS sentences, each read up to its
# first MAX_TEXT_BYTES bytes before it is split into words (the longest spa-eng sentence is 284 bytes; 40
# source words, the model's cut, fit in far fewer). Beam search costs grow with rows x beams x length.
MAX_TEXTS = 64
MAX_TEXT_BYTES = 2048


def make_vectorizers(sources, targets, source_vocab_size: int, target_vocab_size: int):
    """(source vectorizer, target vectorizer), adapted on the training sentences only."""
    return (make_word_vectorizer(source_vocab_size, sources),
            make_target_vectorizer(target_vocab_size, targets))


class Decoders:
    """The serving functions: raw source strings [batch] -> translations, with the model's weights.

    Bounds: at most MAX_TEXTS sources per call (more is refused), each cut to MAX_TEXT_BYTES bytes, then
    to `max_source_tokens` words; an output stops at [end] or after
    min(max_output_tokens, 2 * source length + 10) tokens. An empty (or all-symbol) source gets "".
    With attention, an [UNK] in the output is replaced by the source word it attended to most
    (Luong et al., 2015): names and rare words are copied instead of lost.
    """

    def __init__(self, source_vectorizer, target_vectorizer, model, config):
        self.source_vectorizer, self.model, self.config = source_vectorizer, model, config
        self.vocabulary = tf.constant([str(w) for w in target_vectorizer.get_vocabulary()])
        self.replace_unknown = config.attention != "none"

    def _encode(self, text):
        text = cut_bytes(at_most_rows(text, MAX_TEXTS, "texts"), MAX_TEXT_BYTES, "head")
        ids = truncate_ids(self.source_vectorizer(text), self.config.max_source_tokens, "head")
        empty = tf.reduce_all(tf.equal(ids, 0), axis=1)
        ids = ensure_nonempty(ids)  # an empty row gets one [UNK] so shapes stay valid; answered "" below
        words = tf.strings.split(standardize_text(text))[:, :self.config.max_source_tokens]
        words = words.to_tensor(default_value="", shape=tf.shape(ids, out_type=tf.int64))
        memory, memory_mask, states = self.model.encode(ids)
        bound = tf.minimum(self.config.max_output_tokens, 2 * tf.shape(ids)[1] + 10)
        return ids, empty, words, memory, memory_mask, states, bound

    def _finish(self, tokens, attention, words, empty):
        """ids -> text, [UNK] replaced by the most attended source word, empty sources -> ""."""
        text_tokens = tf.gather(self.vocabulary, tokens)
        text_tokens = tf.where(tokens > END, text_tokens, "")  # [end] and padding print as nothing
        if self.replace_unknown:
            copied = tf.gather(words, tf.argmax(attention, axis=-1, output_type=tf.int32), batch_dims=1)
            text_tokens = tf.where(tokens == UNK, copied, text_tokens)
        return tf.where(empty, "", join_words(text_tokens)), text_tokens

    def greedy_ids(self, text):
        """(ids [batch, steps], attention [batch, steps, source], source words, empty rows)."""
        ids, empty, words, memory, memory_mask, states, bound = self._encode(text)

        def step(tokens, states):
            return self.model.step(tokens, states, memory, memory_mask)

        tokens, attention = greedy_decode(step, states, tf.shape(ids)[0], START, END, bound,
                                          banned_ids=(PAD, START))
        return tokens, attention, words, empty

    def greedy(self, text):
        tokens, attention, words, empty = self.greedy_ids(text)
        return {"translation": self._finish(tokens, attention, words, empty)[0]}

    def with_attention(self, text):
        """Greedy translation plus what the attention map needs: both token lists and the weights."""
        tokens, attention, words, empty = self.greedy_ids(text)
        translation, target_words = self._finish(tokens, attention, words, empty)
        return {"translation": translation, "source_tokens": words, "target_tokens": target_words,
                "attention": attention}

    def beam(self, text):
        ids, empty, words, memory, memory_mask, states, bound = self._encode(text)
        k = self.config.beam_size
        memory, memory_mask = tile_beams(memory, k), tile_beams(memory_mask, k)
        states = [tile_beams(s, k) for s in states]

        def step(tokens, states):
            return self.model.step(tokens, states, memory, memory_mask)

        tokens, _, attention = beam_search(
            step, states, tf.shape(ids)[0], k, START, END, bound, banned_ids=(PAD, START),
            length_penalty=self.config.length_penalty,
            extra_template=tf.zeros(tf.shape(memory)[:2], memory.dtype))
        return {"translation": self._finish(tokens, attention, words, empty)[0]}
