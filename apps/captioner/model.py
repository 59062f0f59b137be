"""Show and Tell: an image feature vector starts an LSTM that writes the caption word by word.

One-to-many: one input (the image) and a sequence out. The encoder (InceptionV3, shared/modeling/vision.py) turns
the image into a 2048-dimensional vector; here that vector becomes the LSTM's initial state, and the LSTM
then writes `[start] w1 w2 ... [end]`:

    image features [batch, 2048] -> Dense -> initial (h, c) of the LSTM
    previous words -> embedding (masked) -> LSTM -> dropout -> Dense -> logits over the vocabulary

With `image_every_step` the image also enters every step ("par-inject", Tanti et al. 2017): a projection
of the features is concatenated to each word vector, so the LSTM cannot forget the picture as the caption
grows. The projection rides along as a third state that the decoding loops carry unchanged.

Training uses teacher forcing (the true previous word is the input at every step), so a whole caption
trains in one pass (`call`). Inference feeds back the model's own words one step at a time (`step`) inside
a `tf.while_loop` (shared/modeling/decoding.py), until `[end]` or a length bound.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from shared.modeling.embeddings import TokenEmbedding


class CaptionDecoder(keras.Model):
    """`call((image_features, decoder_input)) -> logits`, plus `encode` and `step` for decoding loops."""

    def __init__(self, vocab_size: int, embedding_dim: int = 256, units: int = 512, dropout: float = 0.3,
                 feature_dropout: float = 0.3, image_every_step: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.image_every_step = image_every_step
        self.image_input = (keras.layers.Dense(embedding_dim, activation="relu", name="image_input")
                            if image_every_step else None)
        self.feature_dropout = keras.layers.Dropout(feature_dropout, name="feature_dropout")
        self.initial_h = keras.layers.Dense(units, activation="tanh", name="initial_h")
        self.initial_c = keras.layers.Dense(units, name="initial_c")
        self.embedding = TokenEmbedding(vocab_size, embedding_dim, name="word_embedding")
        self.lstm = keras.layers.LSTM(units, return_sequences=True, return_state=True, name="lstm")
        self.dropout = keras.layers.Dropout(dropout, name="dropout")
        self.classifier = keras.layers.Dense(vocab_size, name="logits")

    def encode(self, image_features, training=False):
        """features [batch, F] -> the LSTM's initial states [h, c] (+ the per-step image input)."""
        features = self.feature_dropout(image_features, training=training)
        states = [self.initial_h(features), self.initial_c(features)]
        if self.image_every_step:
            states.append(self.image_input(features))
        return states

    def decode(self, decoder_input, states, training=False):
        """Words [batch, T] from `states` -> (logits [batch, T, V], new states)."""
        vectors = self.embedding(decoder_input, training=training)
        h, c, *image = states
        if image:  # the same image vector beside every word
            steps = tf.shape(decoder_input)[1]
            vectors = tf.concat([vectors, tf.tile(image[0][:, None, :], [1, steps, 1])], axis=-1)
        hidden, h, c = self.lstm(vectors, initial_state=[h, c], mask=tf.not_equal(decoder_input, 0),
                                 training=training)
        return self.classifier(self.dropout(hidden, training=training)), [h, c, *image]

    def call(self, inputs, training=False):
        image_features, decoder_input = inputs
        logits, _ = self.decode(decoder_input, self.encode(image_features, training=training), training=training)
        return logits

    def step(self, token_ids, states):
        """One inference step: previous words [batch] -> (logits [batch, V], new states, nothing extra)."""
        logits, states = self.decode(token_ids[:, None], states)
        return logits[:, 0], states, tf.zeros([tf.shape(token_ids)[0], 1])


def build_model(config, vocab_size: int, feature_dim: int) -> CaptionDecoder:
    """The decoder described by `config`, built on a dummy batch (so its weights exist)."""
    model = CaptionDecoder(vocab_size, embedding_dim=config.embedding_dim, units=config.units,
                           dropout=config.dropout, feature_dropout=config.feature_dropout,
                           image_every_step=config.image_every_step, name="caption_decoder")
    model((tf.zeros([1, feature_dim]), tf.ones([1, 2], tf.int64)))
    return model
