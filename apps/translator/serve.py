"""Raw sentences in, whole translations out: the exported endpoints, their limits, and example requests.

Everything in `Decoders` is TensorFlow that traces into the exported SavedModel, so one TF Serving call
does all of it: standardize and split the source (shared.modeling.text.standardize_text), look words up,
run the encoder, run the decoder in a `tf.while_loop` (greedy or beam search, shared/modeling/decoding.py)
until every row has written [end] or a length bound, then turn ids back into a sentence with its case
restored (shared/modeling/casing.py: "Tom lives in Japan." rather than "tom lives in japan.").

`endpoints` names the three signatures (serving_default: beam search, greedy, attention), and
`example_requests` the requests that show and check them (apps/run_all.py, train.py, the tests).
"""

from __future__ import annotations

import tensorflow as tf

from apps.translator.data import sample_pairs
from shared.modeling.decoding import beam_search, greedy_decode, tile_beams
from shared.modeling.limits import at_most_rows
from shared.modeling.masking import ensure_nonempty
from shared.modeling.text import END, PAD, START, UNK, cut_bytes, join_words, standardize_text, truncate_ids
from shared.runtime.serving import ExampleRequest


# What one serving request may cost (README "Export and TF Serving"): at most MAX_TEXTS sentences, each
# read up to its first MAX_TEXT_BYTES bytes before it is split into words (the longest spa-eng sentence is
# 284 bytes; 40 source words, the model's cut, fit in far fewer). Beam search costs grow with rows x beams
# x length.
MAX_TEXTS = 64
MAX_TEXT_BYTES = 2048
# Every signature takes one input, `text`: raw sentences, string [batch].
TEXT_SPEC = [tf.TensorSpec([None], tf.string, name="text")]


class Decoders:
    """The serving functions: raw source strings [batch] -> translations, with the model's weights.

    Bounds: at most MAX_TEXTS sources per call (more is refused), each cut to MAX_TEXT_BYTES bytes, then
    to `max_source_tokens` words; an output stops at [end] or after
    min(max_output_tokens, 2 * source length + 10) tokens. An empty (or all-symbol) source gets "".
    With attention, an [UNK] in the output is replaced by the source word it attended to most
    (Luong et al., 2015): names and rare words are copied, as written in the source, instead of lost.
    The model writes lower-case words; `caser` (a `TrueCaser` learnt on the training targets) gives each
    its usual written form and capitals at sentence starts.
    """

    def __init__(self, source_vectorizer, target_vectorizer, model, config, caser):
        self.source_vectorizer, self.model, self.config, self.caser = source_vectorizer, model, config, caser
        self.vocabulary = tf.constant([str(w) for w in target_vectorizer.get_vocabulary()])
        self.replace_unknown = config.attention != "none"

    def _encode(self, text):
        text = cut_bytes(at_most_rows(text, MAX_TEXTS, "texts"), MAX_TEXT_BYTES, "head")
        ids = truncate_ids(self.source_vectorizer(text), self.config.max_source_tokens, "head")
        empty = tf.reduce_all(tf.equal(ids, 0), axis=1)
        ids = ensure_nonempty(ids)  # an empty row gets one [UNK] so shapes stay valid; answered "" below
        # The source words as written (case kept): what an [UNK] copy writes. Lower-cased they are the ids' words.
        words = tf.strings.split(standardize_text(text, lower=False))[:, :self.config.max_source_tokens]
        words = words.to_tensor(default_value="", shape=tf.shape(ids, out_type=tf.int64))
        memory, memory_mask, states = self.model.encode(ids)
        bound = tf.minimum(self.config.max_output_tokens, 2 * tf.shape(ids)[1] + 10)
        return ids, empty, words, memory, memory_mask, states, bound

    def _finish(self, tokens, attention, words, empty):
        """ids -> cased text, [UNK] replaced by the most attended source word, empty sources -> "".

        Not `shared.modeling.text.ids_to_text`: the [UNK] copy needs the words before they are joined
        (and the attention signature returns them), so the same two steps are done here with the copy between.
        """
        text_tokens = tf.gather(self.vocabulary, tokens)
        text_tokens = tf.where(tokens > END, text_tokens, "")  # [end] and padding print as nothing
        if self.replace_unknown:
            copied = tf.gather(words, tf.argmax(attention, axis=-1, output_type=tf.int32), batch_dims=1)
            text_tokens = tf.where(tokens == UNK, copied, text_tokens)
        text_tokens = self.caser(text_tokens, looked_up=tokens > END)  # copies keep the source's case
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


def endpoints(decoders: Decoders) -> dict:
    """The exported signatures: name -> (function, input signature)."""
    return {"serving_default": (decoders.beam, TEXT_SPEC), "greedy": (decoders.greedy, TEXT_SPEC),
            "attention": (decoders.with_attention, TEXT_SPEC)}


def example_requests(check_sentence: str | None = None) -> list[ExampleRequest]:
    """TF Serving REST requests for serving_default (beam search), each with what its sentences show.

    The first is the demo `apps/run_all.py` prints: two new English sentences of the sample grammar
    (`sample_pairs(2, seed=2024)`), each shown with its true Spanish. With `check_sentence` (train.py
    passes the first test source, in the direction the model was trained for) a second request follows:
    that sentence and an empty one, which must be answered "". train.py checks the export in a
    TensorFlow-only process with that second request and writes it as the TF Serving warm-up record;
    the demo's English would be the wrong language for an es-en model.
    """
    pairs = sample_pairs(2, seed=2024)  # new sentences of the sample grammar, with their true translations
    requests = [ExampleRequest({"instances": pairs.english},
                               [f"{english} -> truly: {spanish}"
                                for english, spanish in zip(pairs.english, pairs.spanish)])]
    if check_sentence is not None:
        requests.append(ExampleRequest({"instances": [check_sentence, ""]},
                                       [f"{check_sentence} (the first test sentence)",
                                        "(an empty sentence: answered \"\")"]))
    return requests
