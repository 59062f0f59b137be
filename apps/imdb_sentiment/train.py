"""Train the IMDb many-to-one sentiment classifier, measure it, and export it for TF Serving.

Usage:
    python apps/imdb_sentiment/train.py --sample                       # offline data, under a minute
    python apps/imdb_sentiment/train.py --data-dir ../shared/data/imdb # the real 25k/25k reviews
    python apps/imdb_sentiment/train.py                                 # download (needs internet)
    python apps/imdb_sentiment/train.py --data-dir ... --resume         # continue an interrupted run
    python apps/imdb_sentiment/train.py --help                          # every flag, with its reason

Writes runs/imdb_sentiment/ (config.json, metrics.json, history.csv, checkpoints/, logs/) and exports
saved_models/imdb_sentiment/<N>/ with one signature, serving_default: text (string [batch]) ->
probability (float [batch], P(positive)) and label (string [batch], "positive" or "negative").
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import keras
import tensorflow as tf

from apps.imdb_sentiment import data
from apps.imdb_sentiment.model import CELLS, build_model
from shared.runtime import distribute
from shared.modeling.optimizer import make_optimizer
from shared.runtime.config import TrainConfig, option, parse_config
from shared.runtime.data import PARTIAL_DATA_HELP
from shared.modeling.limits import at_most_rows
from shared.modeling.masking import ensure_nonempty
from shared.modeling.text import cut_bytes, make_word_vectorizer, truncate_ids
from shared.runtime.training import fit
from shared.runtime.run import export_and_finish, start_run

# What one serving request may cost (README "Serve"): at most MAX_TEXTS reviews, each read up to
# MAX_TEXT_BYTES bytes (its first and last halves when longer) before it is split into words. The longest
# IMDb review is 13,704 bytes; a request at both limits holds about 2 MB of text.
MAX_TEXTS = 128
MAX_TEXT_BYTES = 16_384


# ---------------------------------------------------------------------------------------------- Config
@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    app: ClassVar[str] = "imdb_sentiment"
    QUICK: ClassVar[dict] = {"epochs": 1, "max_examples": 384, "vocab_size": 1000, "embedding_dim": 16,
                             "units": 8, "max_tokens": 64}

    epochs: int = option(4, "Validation accuracy peaks after 2-4 passes; the best epoch is kept.")
    batch_size: int = option(64, "Small enough for many updates per epoch, large enough for CPU speed.")
    vocab_size: int = option(20000, "Words beyond the 20k most frequent are rare; they map to OOV (id 1).")
    max_tokens: int = option(400, "Longer reviews are cut; 400 words keep most IMDb reviews whole (see README).")
    keep: str = option("both", "What a cut review keeps: 'both' = its start and its end, where verdicts sit.",
                       choices=("head", "tail", "both"))
    embedding_dim: int = option(128, "Word vector size; learned from scratch (no pretrained vectors).")
    embedding_dropout: float = option(0.2, "Drops embedding channels per review: IMDb overfits fast.")
    cell: str = option("gru", "GRU: LSTM's accuracy here at three quarters of its cost.", choices=tuple(CELLS))
    units: int = option(64, "Units per direction: more overfits 22.5k reviews without helping.")
    layers: int = option(1, "Stacked recurrent layers; a second one bought nothing on IMDb.")
    bidirectional: bool = option(True, "Read both ways: a word's meaning depends on what follows, too.")
    pooling: str = option("max", "How the sequence becomes one vector (see model.py).",
                          choices=("max", "mean", "last"))
    dropout: float = option(0.3, "Dropout before the output layer.")
    ema_momentum: float = option(0.0, "Validate and export a moving average of the weights (0: off).")
    validation_fraction: float = option(0.1, "Share of the training split held out to pick the best epoch.")
    max_examples: int | None = option(None, "Use only this many training reviews (--quick sets it).")
    partial_data: bool = option(False, PARTIAL_DATA_HELP)

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"--validation-fraction must be in (0, 1), got {self.validation_fraction}.")
        if self.max_tokens < 1 or self.vocab_size < 3:
            raise ValueError("--max-tokens must be >= 1 and --vocab-size >= 3 (padding, OOV, one word).")


def make_serving_function(vectorizer, model, config):
    """Raw review strings -> {"probability", "label"}: the whole path, tokenization included."""
    labels = tf.constant(data.LABELS)

    def serve(text):
        text = cut_bytes(at_most_rows(text, MAX_TEXTS, "texts"), MAX_TEXT_BYTES, config.keep)
        token_ids = truncate_ids(vectorizer(text), config.max_tokens, config.keep)
        token_ids = ensure_nonempty(token_ids)  # "" still gets an answer: the model's prior
        probability = tf.reshape(model(token_ids, training=False), [-1])
        return {"probability": probability,
                "label": tf.gather(labels, tf.cast(probability >= 0.5, tf.int32))}

    return serve


def main(argv=None, extra_callbacks=()):
    config = parse_config(Config, argv, __doc__)
    start_run(config)

    # ---------------------------------------------------------------------------------------- Data
    splits = data.load_sample(config.seed) if config.sample else data.load_real(config.data_dir, config.partial_data)
    train, validation = data.split_validation(splits["train"], config.validation_fraction, config.seed)
    train = data.limit(train, config.max_examples)
    test = data.limit(splits["test"], config.max_examples)
    # The vocabulary comes from the training reviews only: validation and test words stay unseen.
    vectorizer = make_word_vectorizer(config.vocab_size, train.texts)
    batch_size = distribute.global_batch_size(config)  # --batch-size x replicas (1 without --distribute)
    encode = lambda texts: truncate_ids(vectorizer(tf.constant(texts)), config.max_tokens, config.keep)  # noqa: E731
    train_data = data.make_dataset(encode(train.texts), train.labels, batch_size, training=True, seed=config.seed)
    validation_data = data.make_dataset(encode(validation.texts), validation.labels, batch_size, training=False)
    test_data = data.make_dataset(encode(test.texts), test.labels, batch_size, training=False)

    # --------------------------------------------------------------------------------------- Model
    with distribute.scope():  # variables mirrored on every replica under --distribute
        model = build_model(config, vectorizer.vocabulary_size())
        model.compile(optimizer=make_optimizer(config.learning_rate, config.clipnorm,
                                               ema_momentum=config.ema_momentum),
                      loss=keras.losses.BinaryCrossentropy(),
                      metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])
    model.summary(print_fn=lambda line, **_: print(line))

    # --------------------------------------------------------------------------------------- Train
    steps_per_epoch = math.ceil(len(train.texts) / batch_size)
    result = fit(model, train_data, validation_data, config, monitor="val_accuracy", mode="max",
                 steps_per_epoch=steps_per_epoch, extra_callbacks=extra_callbacks)

    # ------------------------------------------------------------------------------------ Evaluate
    test_loss, test_accuracy = model.evaluate(test_data, verbose=0)
    metrics = {
        "test_accuracy": float(test_accuracy), "test_loss": float(test_loss),
        "best_val_accuracy": max((h.get("val_accuracy", 0.0) for h in result.history), default=None),
        "train_examples": len(train.texts), "test_examples": len(test.texts),
        "epochs_completed": len(result.history), "train_seconds": result.seconds,
        # Examples stepped through per second of this process's training (validation passes included).
        "examples_per_second": result.epochs_this_run * steps_per_epoch * batch_size / result.seconds,
        "data": "sample" if config.sample else "imdb",
        "history": result.history,
    }
    print(f"test accuracy {test_accuracy:.4f} on {len(test.texts)} reviews; trained {result.seconds:.0f} s")

    # -------------------------------------------------------------------------------------- Export
    serve = make_serving_function(vectorizer, model, config)
    return export_and_finish(
        config, {"serving_default": (serve, [tf.TensorSpec([None], tf.string, name="text")])},
        track=[vectorizer, model], metrics=metrics,
        check_request={"instances": ["A moving, beautiful film.", ""]})

if __name__ == "__main__":
    main()
