"""Train the one-to-many image captioner (Show and Tell), measure BLEU, export JPEG-bytes-in, caption-out.

Usage:
    python apps/captioner/train.py --sample                               # generated shapes, offline
    python apps/captioner/train.py --data-dir ../shared/data/flickr8k --inception-weights none
    python apps/captioner/train.py --data-dir DIR --inception-weights imagenet   # pretrained encoder
    python apps/captioner/train.py --inception-weights PATH/inception_v3_..._notop.h5   # local weights file

Stages: (1) encoder.py trains the encoder if there are no pretrained weights and cache.py caches every
image's features; (2) the LSTM decoder (model.py) trains on the cached features with teacher forcing, and
the epoch whose beam search captions of the validation images score the best BLEU-4 is kept (--select-by);
(3) greedy and beam captions of the test images are scored with BLEU beside a constant-caption baseline
(metrics.py); (4) the export (serve.py) joins image decoding, the encoder and the decoding loop into one
graph: saved_models/captioner/<N>/ with `serving_default` (beam search) and `greedy`: image_bytes (string
[batch], JPEG/PNG files) -> caption.
"""

from __future__ import annotations

import math

import tensorflow as tf

from apps.captioner import cache, data, metrics, serve
from apps.captioner.config import Config, resolve_config
from apps.captioner.encoder import encoder_train_seconds
from apps.captioner.model import build_model
from shared.modeling.masking import MaskedSparseCategoricalAccuracy, masked_sparse_crossentropy
from shared.modeling.optimizer import cosine_schedule, make_optimizer
from shared.runtime import distribute
from shared.runtime.config import parse_config
from shared.runtime.run import start_run
from shared.runtime.time_budget import TimeBudget
from shared.runtime.training import fit


def decoder_learning_rate(config: Config, steps_per_epoch: int):
    """--learning-rate, constant or (--schedule cosine) decaying to zero at the end of --epochs."""
    if config.schedule == "cosine":
        return cosine_schedule(config.learning_rate, steps_per_epoch, config.epochs)
    return config.learning_rate


def main(argv=None, extra_callbacks=()):
    # ------------------------------------------------------------------------------------------ Config
    config = resolve_config(parse_config(Config, argv, __doc__))
    start_run(config)

    # -------------------------------------------------------------------------------------------- Data
    splits = data.load_splits(config)
    vectorizer = data.caption_vectorizer(config, splits["train"])
    encoder, encoder_identity, features = cache.encoder_and_features(config, splits)
    batch_size = distribute.global_batch_size(config)  # --batch-size x replicas (1 without --distribute)
    train_data = cache.caption_stream(  # streamed from the TFRecord shards, never all in memory
        features["train"].files, vectorizer, features["train"].shape[1], config.max_caption_tokens, batch_size,
        training=True, seed=config.seed)
    validation_data = data.caption_pairs(splits["validation"], features["validation"], vectorizer,
                                         config.max_caption_tokens, batch_size)

    # ------------------------------------------------------------------------------------------- Model
    pairs = sum(len(c) for c in splits["train"].captions)
    steps_per_epoch = math.ceil(pairs / batch_size)
    learning_rate = decoder_learning_rate(config, steps_per_epoch)
    with distribute.scope():  # variables mirrored on every replica under --distribute
        decoder = build_model(config, vectorizer.vocabulary_size(), features["train"].shape[1])
        decoder.compile(optimizer=make_optimizer(learning_rate, config.clipnorm, ema_momentum=config.ema_momentum),
                        loss=masked_sparse_crossentropy(), metrics=[MaskedSparseCategoricalAccuracy()])

    # ------------------------------------------------------------------------------------------- Train
    epoch_metrics, monitor, mode = None, "val_loss", "min"
    if config.select_by == "bleu":  # validation captions written as serving writes them, scored after every epoch
        validation_writer = serve.CaptionWriter(encoder, decoder, vectorizer, config)
        beam = tf.function(validation_writer.beam_from_features)  # its beam-search graph is traced once, not per epoch
        epoch_metrics = {"val_bleu4": lambda: metrics.bleu_scores(
            metrics.caption_all(beam, features["validation"]), splits["validation"].captions)["bleu4"]}
        monitor, mode = "val_bleu4", "max"
    result = fit(decoder, train_data, validation_data, config, monitor=monitor, mode=mode,
                 steps_per_epoch=steps_per_epoch, epoch_metrics=epoch_metrics,
                 extra_callbacks=[TimeBudget(config.max_train_minutes), *extra_callbacks])

    # ---------------------------------------------------------------------------------------- Evaluate
    writer = serve.CaptionWriter(encoder, decoder, vectorizer, config)
    test = splits["test"]
    hypotheses = {"greedy": metrics.caption_all(writer.greedy_from_features, features["test"]),
                  "beam": metrics.caption_all(writer.beam_from_features, features["test"])}
    scores = {name: metrics.bleu_scores(captions, test.captions) for name, captions in hypotheses.items()}
    baseline_caption = metrics.constant_baseline(splits["train"].captions, seed=config.seed)
    baseline = metrics.bleu_scores([baseline_caption] * len(test.captions), test.captions)
    best = max(scores, key=lambda name: scores[name]["bleu4"])
    run_metrics = {
        "bleu4_test": scores[best]["bleu4"], "best_decoder": best, "bleu": scores,
        "bleu4_constant_baseline": baseline["bleu4"], "constant_baseline_caption": baseline_caption,
        "encoder_weights": config.inception_weights, "encoder_identity": encoder_identity,
        "test_images": len(test.images), "train_pairs": pairs, "train_seconds": result.seconds,
        "encoder_train_seconds": encoder_train_seconds(config, splits),
        "epochs_completed": len(result.history), "history": result.history,
        "examples": [{"image": test.image_ids[i], "greedy": hypotheses["greedy"][i], "beam": hypotheses["beam"][i],
                      "reference": test.captions[i][0]} for i in range(min(5, len(test.images)))],
        "data": "sample" if config.sample else "flickr8k",
    }
    print(f"BLEU-4 greedy {scores['greedy']['bleu4']:.4f}, beam {scores['beam']['bleu4']:.4f}, "
          f"constant baseline {baseline['bleu4']:.4f} ({baseline_caption!r})")

    # ------------------------------------------------------------------------------------------ Export
    # Checked in a TensorFlow-only process, and TF Serving's warm-up request: the first test image.
    return serve.export(config, writer, vectorizer, run_metrics, serve.example_requests(test)[0])


if __name__ == "__main__":
    main()
