"""Image bytes in, whole captions out: the in-graph caption writer that the export and the evaluation share.

Everything here traces into the exported SavedModel, so one TF Serving call decodes the JPEG, resizes and
scales it exactly as `prepare.py` did for the feature cache (shared/modeling/vision.py), runs InceptionV3, then
writes the caption with greedy or beam search in a `tf.while_loop` (shared/modeling/decoding.py) until every row
has written [end] or `max_output_tokens` words. Evaluation calls the same `*_from_features` functions on
cached features, so the figures measure the exported decoder, not a Python imitation of it.
"""

from __future__ import annotations

import tensorflow as tf

from shared.modeling.decoding import beam_search, greedy_decode, tile_beams
from shared.modeling.limits import at_most_rows
from shared.modeling.text import END, PAD, START, ids_to_text
from shared.modeling.vision import decode_batch

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
