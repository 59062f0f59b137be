"""The exported endpoint, what one request may cost, and the example requests every caller sends.

The SavedModel has one signature, serving_default: text (string [batch], raw reviews) -> probability
(float [batch], P(positive)) and label (string [batch], "positive" or "negative"). Everything between the
raw string and the verdict (cutting, cleaning, splitting into words, looking them up, the network) is in
the graph, built from core TensorFlow ops only, so TF Serving answers raw text in one call.

    endpoints = export_endpoints(vectorizer, model, config)   # {"serving_default": (function, specs)}
    requests = example_requests()                             # [the demo, the export's check request]
"""

from __future__ import annotations

import tensorflow as tf

from apps.imdb_sentiment import data
from shared.modeling.limits import at_most_rows
from shared.modeling.masking import ensure_nonempty
from shared.modeling.text import cut_bytes
from shared.runtime.serving import ExampleRequest

# What one serving request may cost (README "Serve"): at most MAX_TEXTS reviews, each read up to
# MAX_TEXT_BYTES bytes (its first and last halves when longer) before it is split into words. The longest
# IMDb review is 13,704 bytes; a request at both limits holds about 2 MB of text.
MAX_TEXTS = 128
MAX_TEXT_BYTES = 16_384


def make_serving_function(vectorizer, model, config):
    """Raw review strings -> {"probability", "label"}: the whole path, tokenization included."""
    labels = tf.constant(data.LABELS)

    def serve(text):
        text = cut_bytes(at_most_rows(text, MAX_TEXTS, "texts"), MAX_TEXT_BYTES, config.keep)
        token_ids = ensure_nonempty(data.encode(vectorizer, text, config))  # "" still gets an answer: the prior
        probability = tf.reshape(model(token_ids, training=False)["probability"], [-1])
        return {"probability": probability,
                "label": tf.gather(labels, tf.cast(probability >= 0.5, tf.int32))}

    return serve


def export_endpoints(vectorizer, model, config) -> dict:
    """The export's signatures: name -> (function, input specs), as shared.runtime.export takes them."""
    return {"serving_default": (make_serving_function(vectorizer, model, config),
                                [tf.TensorSpec([None], tf.string, name="text")])}


def example_requests() -> list[ExampleRequest]:
    """TF Serving REST requests for serving_default, each with what its reviews show.

    First, the demo (`apps/run_all.py` prints its answers): two reviews of the sample grammar, whose rule is
    that the last clause decides ("dull ... but in the end wonderful" is positive). Last, the export's
    bare-TF check and its TF Serving warm-up record (train.py): a plain review and an empty one, which
    has no words at all and must still get an answer.
    """
    reviews = {"At first the plot was dull, but in the end it was wonderful.": "positive",
               "The acting was never good.": "negative"}
    demo = ExampleRequest({"instances": list(reviews)}, [f"{text} (truly {label})" for text, label in reviews.items()])
    check = ExampleRequest({"instances": ["A moving, beautiful film.", ""]},
                           ["a review in plain words (truly positive)", "an empty review: the model's prior"])
    return [demo, check]
