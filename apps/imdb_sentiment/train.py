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

import math

import keras
import tensorflow as tf

from apps.imdb_sentiment import data
from apps.imdb_sentiment.config import Config
from apps.imdb_sentiment.model import accuracy_key, build_model, output_names, readout_parts, trained_outputs
from apps.imdb_sentiment.serve import example_requests, export_endpoints
from shared.modeling.embeddings import TokenBigrams
from shared.modeling.optimizer import make_optimizer
from shared.modeling.text import make_word_vectorizer
from shared.runtime import distribute
from shared.runtime.config import parse_config
from shared.runtime.run import export_and_finish, start_run
from shared.runtime.training import fit


def _best_epoch(history: list[dict], monitor: str) -> int | None:
    """The 1-based epoch where `monitor` peaked (the first, on a tie, as the checkpoint keeps it)."""
    values = [row.get(monitor) for row in history]
    best = max((value for value in values if value is not None), default=None)
    return None if best is None else values.index(best) + 1


def main(argv=None, extra_callbacks=()):
    # -------------------------------------------------------------------------------------- Config
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
    encode = lambda texts: data.encode(vectorizer, tf.constant(texts), config)  # noqa: E731
    train_ids = encode(train.texts)
    # Word pairs, like words, come from the training reviews only (a deterministic count: --resume finds the same).
    bigrams = None
    if config.readout != "recurrent":
        bigrams = TokenBigrams(vectorizer.vocabulary_size(), config.bigrams, name="token_bigrams")
        bigrams.adapt(train_ids)
    # Every trained output learns the same label (the probability, with two read-outs, is only their average).
    outputs, names = trained_outputs(config), output_names(config)
    make = lambda ids, labels, **kwargs: data.make_dataset(ids, labels, batch_size, **kwargs).map(  # noqa: E731
        lambda x, y: (x, {name: y for name in names}))
    train_data = make(train_ids, train.labels, training=True, seed=config.seed)
    validation_data = make(encode(validation.texts), validation.labels, training=False)
    test_data = make(encode(test.texts), test.labels, training=False)

    # --------------------------------------------------------------------------------------- Model
    with distribute.scope():  # variables mirrored on every replica under --distribute
        model = build_model(config, vectorizer.vocabulary_size(), bigrams)
        model.compile(optimizer=make_optimizer(config.learning_rate, config.clipnorm,
                                               ema_momentum=config.ema_momentum),
                      loss={name: keras.losses.BinaryCrossentropy(label_smoothing=config.label_smoothing)
                            for name in outputs},
                      # Each output's accuracy: the model's ("probability_accuracy") and, with two
                      # read-outs, each one's alone, measured on the same reviews by the same run.
                      metrics={name: [keras.metrics.BinaryAccuracy(name="accuracy")] for name in names})
    model.summary(print_fn=lambda line, **_: print(line))

    # --------------------------------------------------------------------------------------- Train
    steps_per_epoch = math.ceil(len(train.texts) / batch_size)
    accuracy = accuracy_key(config)
    # With two read-outs each keeps the weights of its own best validation epoch (model.readout_parts).
    parts = readout_parts(model, config)
    result = fit(model, train_data, validation_data, config, monitor=f"val_{accuracy}", mode="max",
                 steps_per_epoch=steps_per_epoch, extra_callbacks=extra_callbacks, parts=parts)
    # The kept model may join two epochs' read-outs: its validation accuracy is measured, not read from history.
    kept_validation = model.evaluate(validation_data, verbose=0, return_dict=True)[accuracy] if parts else None

    # ------------------------------------------------------------------------------------ Evaluate
    scores = model.evaluate(test_data, verbose=0, return_dict=True)
    test_accuracy = scores[accuracy]
    metrics = {
        "test_accuracy": float(test_accuracy), "test_loss": float(scores["loss"]),
        # With two read-outs: each one's accuracy alone (the model answers with their average).
        **{f"test_accuracy_{name}": float(scores[f"{name}_accuracy"]) for name in outputs if name != "probability"},
        "best_val_accuracy": max((h.get(f"val_{accuracy}", 0.0) for h in result.history), default=None),
        # With two read-outs: the epoch (1-based) each one is kept at, and the kept pair's validation accuracy.
        **({"kept_epochs": {name: _best_epoch(result.history, f"val_{name}_accuracy") for name in outputs},
            "kept_val_accuracy": float(kept_validation)} if parts else {}),
        "train_examples": len(train.texts), "test_examples": len(test.texts),
        "epochs_completed": len(result.history), "train_seconds": result.seconds,
        # Examples stepped through per second of this process's training (validation passes included).
        "examples_per_second": result.epochs_this_run * steps_per_epoch * batch_size / result.seconds,
        "data": "sample" if config.sample else "imdb",
        "history": result.history,
    }
    print(f"test accuracy {test_accuracy:.4f} on {len(test.texts)} reviews; trained {result.seconds:.0f} s")

    # -------------------------------------------------------------------------------------- Export
    # Checked and warmed up with the check request (the last example) alone: one warm-up record, and
    # bare_tf_check in metrics.json stays one answer. The demo request is run_all's, sent after training.
    return export_and_finish(config, export_endpoints(vectorizer, model, config), track=[vectorizer, model],
                             metrics=metrics, check_request=example_requests()[-1].body)


if __name__ == "__main__":
    main()
