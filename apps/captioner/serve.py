"""Image bytes in, whole captions out: the exported signatures, their limits and their example requests.

Everything `CaptionWriter` does traces into the exported SavedModel, so one TF Serving call decodes the JPEG,
resizes and scales it exactly as cache.py did for the feature cache (shared/modeling/vision.py), runs
InceptionV3, then writes the caption with greedy or beam search in a `tf.while_loop`
(shared/modeling/decoding.py) until every row has written [end] or `max_output_tokens` words. Evaluation calls
the same `*_from_features` functions on cached features, so the figures measure the exported decoder, not a
Python imitation of it.

    export(config, writer, vectorizer, metrics, example_requests(splits["test"])[0])
    # <export-dir>/captioner/<N>/: serving_default (beam search) and greedy, image_bytes -> caption

`example_requests()` is the request `apps/run_all.py` shows (two generated scenes, beside their true
captions); `example_requests(split)` the one train.py checks the export with in a TensorFlow-only process
and writes as its TF Serving warm-up record (the split's first image).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from apps.captioner.data import Split, sample_scene
from shared.modeling.decoding import beam_search, greedy_decode, tile_beams
from shared.modeling.limits import at_most_rows
from shared.modeling.text import END, PAD, START, ids_to_text
from shared.modeling.vision import decode_batch
from shared.runtime.run import export_and_finish
from shared.runtime.serving import ExampleRequest, b64

# What one serving request may cost (README "Serve"): at most MAX_IMAGES image files, each declaring at
# most shared.modeling.vision.MAX_PIXELS pixels in its header (a GIF: only its first frame is decoded). Images are
# decoded one at a time, so a request holds one full-size image (at most 75 MB of RGB) at a time.
# 32 is also TF Serving's max_batch_size here (serving/batching_parameters.txt): merged batches fit.
MAX_IMAGES = 32


class CaptionWriter:
    """Serving functions around a trained encoder and decoder."""

    def __init__(self, encoder, decoder, target_vectorizer, config):
        self.encoder, self.decoder, self.config = encoder, decoder, config
        self.vocabulary = tf.constant([str(word) for word in target_vectorizer.get_vocabulary()])

    def features(self, image_bytes):
        """Encoded image files [batch] -> pooled features [batch, 2048] (the cache's exact path)."""
        image_bytes = at_most_rows(image_bytes, MAX_IMAGES, "images")
        return self.encoder(decode_batch(image_bytes, self.config.image_size), training=False)

    def greedy_from_features(self, features):
        states = self.decoder.encode(features)
        tokens, _ = greedy_decode(self.decoder.step, states, tf.shape(features)[0], START, END,
                                  self.config.max_output_tokens, banned_ids=(PAD, START),
                                  no_repeat_ngram=self.config.no_repeat_ngram)
        return ids_to_text(tokens, self.vocabulary)

    def beam_from_features(self, features):
        k = self.config.beam_size
        states = [tile_beams(state, k) for state in self.decoder.encode(features)]
        tokens, _, _ = beam_search(self.decoder.step, states, tf.shape(features)[0], k, START, END,
                                   self.config.max_output_tokens, banned_ids=(PAD, START),
                                   length_penalty=self.config.length_penalty,
                                   no_repeat_ngram=self.config.no_repeat_ngram)
        return ids_to_text(tokens, self.vocabulary)

    def serve_beam(self, image_bytes):
        return {"caption": self.beam_from_features(self.features(image_bytes))}

    def serve_greedy(self, image_bytes):
        return {"caption": self.greedy_from_features(self.features(image_bytes))}


def export(config, writer: CaptionWriter, vectorizer, metrics: dict, check: ExampleRequest) -> dict:
    """<export-dir>/captioner/<N>/ with `serving_default` (beam search) and `greedy`: image bytes -> caption.

    Decoding follows `config` (beam size, length penalty, n-gram block); `check` is sent to the export in a
    TensorFlow-only process (its answer becomes metrics' `bare_tf_check`) and becomes its warm-up request.
    Returns `metrics` + export_path.
    """
    signature = [tf.TensorSpec([None], tf.string, name="image_bytes")]
    return export_and_finish(
        config, {"serving_default": (writer.serve_beam, signature), "greedy": (writer.serve_greedy, signature)},
        track=[writer.encoder, writer.decoder, vectorizer], metrics=metrics, check_request=check.body)


def example_requests(split: Split | None = None) -> list[ExampleRequest]:
    """serving_default requests, each image shown with its first true caption.

    Without `split`: two scenes generated from seed 2024, new to every sample run (apps/run_all.py's demo).
    With `split`: its first image alone, what train.py checks and warms up the export with.
    """
    if split is None:
        rng = np.random.default_rng(2024)
        scenes = [sample_scene(rng) for _ in range(2)]
        return [ExampleRequest({"instances": [b64(jpeg) for jpeg, _ in scenes]},
                               [f"generated scene, truly: {captions[0]!r}" for _, captions in scenes])]
    return [ExampleRequest({"instances": [b64(split.images[0])]},
                           [f"{split.image_ids[0]}, truly: {split.captions[0][0]!r}"])]
