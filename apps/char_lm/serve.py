"""Text generation and scoring as TensorFlow graphs: what the SavedModel serves, and its example requests.

Generation runs entirely inside the graph, so one TF Serving request returns the whole continuation:

    prompt --unicode_split--> chars --StringLookup--> ids --(tf.while_loop over the prompt)--> warm state
    repeat num_chars times (tf.while_loop):  sample id from logits / temperature  ->  feed it back  -> logits

One step (`CharStepper.step`) runs the trained layers' *cells* on one character per row: embedding ->
cell of every recurrent layer -> dense. No Python runs per character. The sampling loop is
`shared.modeling.decoding.sampling_decode` (temperature, top-k, greedy), reproducible: the random draws
are stateless (`tf.random.stateless_categorical`) and seeded by (seed, step).

Bounded behaviour for bad input (documented in the README):
    rows         at most MAX_ROWS prompts (or texts to score) per request, else InvalidArgument
    num_chars    clipped to [0, MAX_NEW_CHARS]; <= 0 returns "" for every row; rows x num_chars may be at
                 most MAX_GENERATED_CHARS per request, else InvalidArgument
    prompt       only its last MAX_PROMPT_CHARS characters are read (its bytes are cut first, so a huge
                 prompt costs no more than a long one); "" starts from a newline
    score        reads each text's first MAX_SCORE_CHARS characters; rows x the longest read text may be at
                 most MAX_SCORED_CHARS per request, else InvalidArgument
    control      characters other than newline and tab (NUL included) are read as spaces
    characters   unknown to the vocabulary (and invalid UTF-8, decoded as U+FFFD) map to the OOV id 0;
                 the model never *generates* OOV
    temperature  <= GREEDY_BELOW means greedy (argmax); clipped to at most MAX_TEMPERATURE; NaN: greedy
                 (both constants live in shared/modeling/decoding.py)
    top_k        <= 0 or >= vocabulary size: no top-k cut

`example_requests()` are the requests everyone sends this export: apps/run_all.py's demo first, then the
ones train.py checks the export with (in a TensorFlow-only process) and writes as TF Serving warm-up records.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from apps.char_lm.model import recurrent_layers
from shared.modeling.cells import state_count
from shared.modeling.decoding import sampling_decode
from shared.modeling.limits import at_most_rows, check_at_most, guarded
from shared.modeling.masking import lengths_to_mask
from shared.modeling.text import controls_to_spaces, cut_bytes
from shared.runtime.serving import ExampleRequest

MAX_NEW_CHARS = 2000       # the most characters one request may generate
MAX_PROMPT_CHARS = 1000    # a longer prompt is cut to its end (the part the next character depends on)
MAX_SCORE_CHARS = 20000    # `score` reads at most this many characters of each text
MAX_ROWS = 64              # prompts (or texts to score) per request
MAX_GENERATED_CHARS = 32000  # rows x num_chars per request: e.g. 16 x 2000 or 64 x 500 (~3 s on 2 cores)
MAX_SCORED_CHARS = 40000   # rows x longest scored text per request: the model runs over all of it at once
UTF8_MAX_BYTES = 4         # a character's UTF-8 bytes at most: N characters fit in 4 N bytes
START_CHAR = "\n"          # what an empty prompt (and `score`) starts from
OOV_ID = 0                 # unknown characters read as this id; the generator never draws it


class CharStepper:
    """One-character steps of a trained model (stateless inference build), with its vocabulary.

    Args:
        model: `build_model(config, vocab_size)` with trained weights (not the stateful training build).
        vocabulary: the characters for ids 1..V-1 (id 0 is OOV).
    """

    def __init__(self, model: keras.Model, vocabulary: list[str]):
        self.model = model
        self.vocabulary = list(vocabulary)
        self.lookup = keras.layers.StringLookup(vocabulary=self.vocabulary, num_oov_indices=1,
                                                output_mode="int", name="char_lookup")
        self.lookup(tf.constant(["a"]))  # builds the layer (an export needs built layers)
        self.id_to_char = tf.constant([""] + self.vocabulary)  # OOV decodes to nothing
        self.embedding = model.get_layer("char_embedding")
        self.cells = [layer.cell for layer in recurrent_layers(model)]
        self.dense = model.get_layer("next_char_logits")
        start = self.vocabulary.index(START_CHAR) + 1 if START_CHAR in self.vocabulary else 0
        self.start_id = tf.constant(start, tf.int32)

    # ------------------------------------------------------------------------------- the step
    def zero_state(self, batch) -> list[tf.Tensor]:
        """The flat list of recurrent state tensors (LSTM: h and c per layer; GRU/RNN: h)."""
        return [state for cell in self.cells for state in cell.get_initial_state(batch)]

    def step(self, ids, states):
        """ids [batch] -> (logits [batch, vocab], new flat states, None): the decoding step contract."""
        x = self.embedding(ids, training=False)
        new_states, offset = [], 0
        for cell in self.cells:
            count = state_count(cell)
            x, cell_states = cell(x, list(states[offset:offset + count]), training=False)
            new_states += list(cell_states)  # a list of states in, a list out (GRU and RNN: [h])
            offset += count
        return self.dense(x), new_states, None

    # ------------------------------------------------------------------------------- helpers
    def encode_prompts(self, prompt, max_chars):
        """Strings [batch] -> (ids [batch, time] int32 padded with the start id, lengths [batch])."""
        # The last 4 N + 3 bytes hold at least the last N whole characters (3: a cut character's rest).
        prompt = read_text(cut_bytes(prompt, UTF8_MAX_BYTES * max_chars + 3, "tail"))
        chars = tf.strings.unicode_split(prompt, "UTF-8", errors="replace")
        lengths = chars.row_lengths()
        # Keep each row's last `max_chars` characters.
        chars = tf.ragged.boolean_mask(chars, tf.ragged.range(lengths) >= tf.expand_dims(
            lengths - max_chars, 1))
        ids = tf.cast(self.lookup(chars), tf.int32).to_tensor(default_value=self.start_id)
        # At least one column, so a batch of empty strings still has a (start) character to read.
        ids = tf.pad(ids, [[0, 0], [0, 1]], constant_values=self.start_id)
        return ids, tf.cast(tf.minimum(lengths, max_chars), tf.int32)

    # ------------------------------------------------------------------------------- signatures
    def generate(self, prompt, num_chars, temperature, top_k, seed):
        """Strings [batch] -> generated continuations [batch] (the prompt is not repeated)."""
        steps = tf.clip_by_value(num_chars, 0, MAX_NEW_CHARS)
        prompt = guarded(at_most_rows(prompt, MAX_ROWS, "prompts"), check_at_most(
            tf.cast(tf.shape(prompt)[0], tf.int64) * tf.cast(steps, tf.int64), MAX_GENERATED_CHARS,
            f"limit: at most {MAX_GENERATED_CHARS:,} generated characters per request (prompts x num_chars, "
            f"num_chars clipped to {MAX_NEW_CHARS})"))
        ids, lengths = self.encode_prompts(prompt, MAX_PROMPT_CHARS)
        lengths = tf.maximum(lengths, 1)  # "" reads the start character (the pad value) instead
        batch = tf.shape(ids)[0]
        vocab = len(self.vocabulary) + 1

        def read_prompt(t, states, last_logits):
            logits, new_states, _ = self.step(ids[:, t], states)
            active = tf.expand_dims(t < lengths, 1)  # rows whose prompt is still being read
            states = [tf.where(active, new, old) for new, old in zip(new_states, states)]
            return t + 1, states, tf.where(active, logits, last_logits)

        _, states, logits = tf.while_loop(
            lambda t, *_: t < tf.reduce_max(lengths), read_prompt,
            (tf.constant(0), self.zero_state(batch), tf.zeros([batch, vocab])))
        new_ids = sampling_decode(self.step, states, logits, steps, temperature, top_k, seed,
                                  banned_ids=[OOV_ID])
        return tf.strings.reduce_join(tf.gather(self.id_to_char, new_ids), axis=1)

    def score(self, text):
        """Strings [batch] -> (bits per character [batch], characters scored [batch]).

        Every character is predicted from the ones before it, the first from START_CHAR. Only the first
        MAX_SCORE_CHARS characters count. An empty text scores 0 bits over 0 characters.
        """
        text = read_text(cut_bytes(at_most_rows(text, MAX_ROWS, "texts"), UTF8_MAX_BYTES * MAX_SCORE_CHARS))
        # Code points (4 bytes each) until the size check has passed; one string per character only after.
        points = tf.strings.unicode_decode(text, "UTF-8", errors="replace")[:, :MAX_SCORE_CHARS]
        points = guarded(points, check_at_most(
            tf.cast(points.nrows(), tf.int64) * tf.reduce_max(tf.concat([points.row_lengths(), [0]], 0)),
            MAX_SCORED_CHARS, f"limit: at most {MAX_SCORED_CHARS:,} scored characters per request (texts x "
            f"the longest text, each read up to {MAX_SCORE_CHARS:,} characters)"))
        chars = points.with_flat_values(tf.strings.unicode_encode(tf.expand_dims(points.flat_values, 1), "UTF-8"))
        ids = tf.cast(self.lookup(chars), tf.int32).to_tensor(default_value=self.start_id)
        ids = tf.pad(ids, [[0, 0], [0, 1]], constant_values=self.start_id)  # >= 1 column (all-empty batch)
        lengths = tf.cast(chars.row_lengths(), tf.int32)
        inputs = tf.concat([tf.fill([tf.shape(ids)[0], 1], self.start_id), ids[:, :-1]], axis=1)
        logits = self.model(inputs, training=False)  # the stateless build: the whole text at once
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids, logits=logits)
        mask = tf.cast(lengths_to_mask(lengths, tf.shape(ids)[1]), nats.dtype)  # shared.modeling.masking
        total = tf.reduce_sum(nats * mask, axis=1)
        counted = tf.cast(lengths, nats.dtype)
        return tf.math.divide_no_nan(total, counted) / math.log(2.0), lengths


def read_text(text):
    """Valid UTF-8 (bad bytes -> U+FFFD), control characters other than newline and tab -> spaces."""
    return controls_to_spaces(tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace"),
                              keep_layout=True)


def export_endpoints(stepper: CharStepper, seed: int, top_k: int) -> dict:
    """The SavedModel's signatures: serving_default, generate (top_k and seed as inputs) and score."""
    prompt = tf.TensorSpec([None], tf.string, name="prompt")
    num_chars = tf.TensorSpec([], tf.int32, name="num_chars")
    temperature = tf.TensorSpec([], tf.float32, name="temperature")

    def serving_default(prompt, num_chars, temperature):
        return {"text": stepper.generate(prompt, num_chars, temperature, tf.constant(top_k), seed)}

    def generate(prompt, num_chars, temperature, top_k, seed):
        return {"text": stepper.generate(prompt, num_chars, temperature, top_k, seed)}

    def score(text):
        bits, counted = stepper.score(text)
        return {"bits_per_char": bits, "num_chars": counted}

    return {
        "serving_default": (serving_default, [prompt, num_chars, temperature]),
        "generate": (generate, [prompt, num_chars, temperature, tf.TensorSpec([], tf.int32, name="top_k"),
                                tf.TensorSpec([], tf.int64, name="seed")]),
        "score": (score, [tf.TensorSpec([None], tf.string, name="text")]),
    }


def example_requests(score_text: str | None = None) -> list[ExampleRequest]:
    """The requests this export is shown, checked and warmed with (first: serving_default).

    [0] apps/run_all.py's demo: two Python openings for the `--sample` model (trained on Python source).
        A minute of training gives a weak model: temperature 0.5 keeps its samples to what it is sure of.
    [1:] what train.py checks the export with and writes as warm-up records (`check_requests`): a short
        serving_default continuation, and, given `score_text` (the run's validation text), `score` of it.
    """
    requests = [
        # Scalar inputs (num_chars, temperature) exist only in TF Serving's columnar form, "inputs".
        ExampleRequest({"inputs": {"prompt": ["def ", "class "], "num_chars": 120, "temperature": 0.5}},
                       ["def ", "class "]),
        ExampleRequest({"inputs": {"prompt": ["The "], "num_chars": 40, "temperature": 0.8}}, ["The "]),
    ]
    if score_text is not None:
        text = score_text[:200]
        requests.append(ExampleRequest({"signature_name": "score", "instances": [text]},
                                       [f"bits per character of {text[:40]!r}..."]))
    return requests


def check_requests(score_text: str) -> list[dict]:
    """The bodies train.py checks the export with and records as its TF Serving warm-up: example_requests()[1:]."""
    return [request.body for request in example_requests(score_text)[1:]]
