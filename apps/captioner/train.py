"""Train the one-to-many image captioner (Show and Tell), measure BLEU, export JPEG-bytes-in, caption-out.

Usage:
    python apps/captioner/train.py --sample                               # generated shapes, offline
    python apps/captioner/train.py --data-dir ../shared/data/flickr8k --inception-weights none
    python apps/captioner/train.py --data-dir DIR --inception-weights imagenet   # pretrained encoder
    python apps/captioner/train.py --inception-weights PATH/inception_v3_..._notop.h5   # local weights file

Stages: (1) prepare.py trains the encoder if there are no pretrained weights and caches every image's
features; (2) the LSTM decoder trains on the cached features with teacher forcing, and the epoch whose beam
search captions of the validation images score the best BLEU-4 is kept (--select-by); (3) greedy and beam
captions of the test images are scored with BLEU beside a constant-caption baseline; (4) the export joins
image decoding, the encoder and the decoding loop into one graph: saved_models/captioner/<N>/ with
`serving_default` (beam search) and `greedy`: image_bytes (string [batch], JPEG/PNG files) -> caption.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np
import tensorflow as tf

from apps.captioner import data, evaluate, prepare, shards
from apps.captioner.caption import CaptionWriter
from apps.captioner.model import build_model
from shared.runtime import distribute
from shared.modeling.optimizer import cosine_schedule, make_optimizer
from shared.runtime.config import TrainConfig, option, parse_config
from shared.runtime.data import PARTIAL_DATA_HELP
from shared.modeling.masking import MaskedSparseCategoricalAccuracy, masked_sparse_crossentropy
from shared.runtime.progress import progress
from shared.runtime.serving import b64
from shared.modeling.teacher_forcing import shift_for_teacher_forcing
from shared.modeling.text import frame_targets, make_target_vectorizer
from shared.runtime.time_budget import TimeBudget
from shared.runtime.training import fit
from shared.runtime.run import export_and_finish, start_run


# ---------------------------------------------------------------------------------------------- Config
@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    app: ClassVar[str] = "captioner"
    # The shapes are simple: a small input, few epochs and a small LSTM keep --sample to a few minutes.
    # Its captions name positions ("on the left"), so its encoder sees whole pictures at a constant step size.
    # Their few hundred steps are too few for a 0.999 weight average (it would still be mostly the random start).
    # One encoder epoch and six decoder epochs keep `apps/run_all.py` short: measured on 2 shared cores (seed
    # 1337), test BLEU-4 0.598 greedy / 0.660 beam in 284 CPU-seconds, against 0.686 / 0.732 in 459 for 3 + 10.
    SAMPLE: ClassVar[dict] = {"image_size": 75, "encoder_epochs": 1, "epochs": 6, "units": 128,
                              "embedding_dim": 64, "encoder_words": 30, "encoder_crop": 1.0,
                              "encoder_schedule": "constant", "ema_momentum": 0.0}
    QUICK: ClassVar[dict] = {"epochs": 1, "max_images": 16, "encoder_epochs": 1, "image_size": 75,
                             "encoder_batch_size": 8, "embedding_dim": 16, "units": 16, "beam_size": 2,
                             "encoder_words": 20, "max_output_tokens": 8, "ema_momentum": 0.0}

    epochs: int = option(15, "Decoder epochs over (image, caption) pairs; the best by --select-by is kept.")
    batch_size: int = option(64, "Caption pairs per step.")
    inception_weights: str = option(
        "auto", "imagenet, a local weights file, or none (train the encoder on the captions here); "
                "auto: imagenet for real data, none for --sample.")
    image_size: int = option(
        0, "Encoder input size; 0: 299 with pretrained weights, 96 when trained here (a training step at 96 "
           "pixels took 2.5x less time than at 128 on this CPU, so the same minutes buy 2.5x the epochs).")
    encoder_epochs: int = option(20, "Epochs of the encoder's word-presence training (weights none).")
    encoder_crop: float = option(
        1.0, "Encoder training sees random crops whose sides are this fraction of the picture or more (then "
             "mirrored half the time); 1: whole pictures. Off by default: a Flickr8k run with 0.85 learned "
             "nothing in 12 epochs (together with a 0.5 start for every word; see the README).")
    encoder_schedule: str = option(
        "cosine", "Encoder learning rate: one epoch of warm-up, then cosine decay to zero at the last of "
                  "--encoder-epochs (large steps early, fine ones at the end), or constant.",
        choices=("cosine", "constant"))
    encoder_words: int = option(300, "Content words the encoder learns to see; rarer ones are too rare to learn.")
    select_by: str = option(
        "bleu", "Which epoch's decoder is kept: the best validation BLEU-4 of the serving decoding (beam search; "
                "measured after every epoch), or the lowest validation loss. On Flickr8k a decoder trained to a "
                "lower loss wrote captions with a lower BLEU-4 (see the README), so BLEU is the default.",
        choices=("bleu", "loss"))
    schedule: str = option(
        "constant", "Decoder learning rate: constant, or cosine decay from --learning-rate to zero at the last of "
                    "--epochs (fine steps at the end settle into the minimum; a --max-train-minutes stop cuts the "
                    "curve short, so size --epochs to the budget).",
        choices=("constant", "cosine"))
    ema_momentum: float = option(
        0.999, "Validate, keep and export a moving average of the decoder's weights (0: off). 0.999 averages about "
               "the last 1,000 steps, two Flickr8k epochs; it raised validation BLEU-4 from 0.117 to 0.122 there.")
    max_train_minutes: float | None = option(
        None, "Stop the decoder's training after this many minutes (the best epoch is kept): a time budget.")
    encoder_minutes: float | None = option(
        None, "Stop the encoder's training after this many minutes (the best epoch is kept): a time budget.")
    encoder_learning_rate: float = option(1e-3, "Adam's step size for the encoder's training.")
    encoder_batch_size: int = option(32, "Images per encoder training step.")
    encoder_precision: str = option(
        "float32", "Encoder training arithmetic. mixed_bfloat16 is faster on CPUs with AMX (2x in a micro-benchmark "
                   "here) and trained the --sample encoder well, but diverged (NaN) in its first Flickr8k epoch "
                   "here, so float32 is the default.",
        choices=("float32", "mixed_bfloat16"))
    vocab_size: int = option(5000, "Caption vocabulary, specials included; Flickr8k has about 8,900 words.")
    max_caption_tokens: int = option(20, "Training captions are cut here (Flickr8k averages 11 words).")
    embedding_dim: int = option(256, "Word vector size.")
    units: int = option(512, "LSTM units: Show and Tell used 512.")
    dropout: float = option(0.3, "Dropout on the LSTM's outputs: 30k caption pairs overfit quickly.")
    feature_dropout: float = option(0.3, "Dropout on the image features before they set the LSTM's state.")
    image_every_step: bool = option(
        False, "Also feed the image to the LSTM beside every word, not only as its starting state (a weak "
               "encoder's signal then cannot fade as the caption grows).")
    beam_size: int = option(
        8, "Beams kept by serving_default's beam search; 8 scored best on Flickr8k validation among 3, 5, 8 and 12 "
           "(benchmarks/captioner_decoding.py).")
    length_penalty: float = option(
        1.0, "Beam ranking by log-probability / length ** penalty (0: raw sum; 1, chosen on Flickr8k validation: "
             "mean log-probability per word).")
    max_output_tokens: int = option(25, "A caption stops at [end] or after this many words.")
    no_repeat_ngram: int = option(
        3, "Greedy and beam search never write the same n-gram twice in a caption (0: off); breaks the "
           "loops a weak decoder falls into. 3 was chosen on Flickr8k validation (benchmarks/captioner_decoding.py).")
    max_images: int | None = option(None, "Use only this many images per split (--quick sets it).")
    partial_data: bool = option(False, PARTIAL_DATA_HELP)
    feature_shards: int = option(
        8, "TFRecord files the training features are cached in; training streams them, and under "
           "--distribute multi-worker each worker reads its own share (at least one file per worker).")

    def __post_init__(self):
        super().__post_init__()
        if self.beam_size < 1 or self.max_output_tokens < 1:
            raise ValueError("--beam-size and --max-output-tokens must be at least 1.")
        if self.no_repeat_ngram < 0:
            raise ValueError(f"--no-repeat-ngram must be 0 (off) or more, got {self.no_repeat_ngram}.")
        if not 0.1 <= self.encoder_crop <= 1.0:
            raise ValueError(f"--encoder-crop must be between 0.1 and 1 (1: no cropping), got {self.encoder_crop}.")
        if self.feature_shards < 1:
            raise ValueError(f"--feature-shards must be at least 1, got {self.feature_shards}.")


def resolve_config(config: Config) -> Config:
    """Fill the automatic choices: which weights, and the input size that suits them."""
    weights = config.inception_weights
    if weights == "auto":
        weights = "none" if config.sample else "imagenet"
    size = config.image_size or (96 if weights == "none" else 299)
    return dataclasses.replace(config, inception_weights=weights, image_size=size)


def decoder_learning_rate(config: Config, steps_per_epoch: int):
    """--learning-rate, constant or (--schedule cosine) decaying to zero at the end of --epochs."""
    if config.schedule == "cosine":
        return cosine_schedule(config.learning_rate, steps_per_epoch, config.epochs)
    return config.learning_rate


def caption_pairs(split, features, vectorizer, config, batch_size, training):
    """Batches of ((image features, caption input), caption target): one pair per reference caption."""
    image_index = np.repeat(np.arange(len(split.captions)), [len(c) for c in split.captions])
    flat = [caption for captions in split.captions for caption in captions]
    framed = frame_targets(vectorizer(tf.constant(flat)), config.max_caption_tokens)
    table = tf.constant(features, tf.float32)
    dataset = tf.data.Dataset.from_tensor_slices((image_index, framed))
    if training:
        dataset = dataset.shuffle(len(flat), seed=config.seed).repeat()
    def pair(index, rows):
        caption_input, caption_target = shift_for_teacher_forcing(rows)
        return (tf.gather(table, index), caption_input), caption_target

    return dataset.batch(batch_size).map(pair).prefetch(tf.data.AUTOTUNE)


def caption_all(function, features, batch_size=64):
    """Run an in-graph captioning function over features in batches -> list of str."""
    traced = tf.function(function)
    starts = range(0, len(features), batch_size)
    out = [traced(tf.constant(features[i:i + batch_size], tf.float32)).numpy()
           for i in progress(starts, total=len(starts), label=f"captioning {len(features)} images")]
    return [text.decode("utf-8") for part in out for text in part]


def main(argv=None, extra_callbacks=()):
    config = resolve_config(parse_config(Config, argv, __doc__))
    start_run(config)

    # ---------------------------------------------------------------------------------------- Data
    if config.sample:
        counts = {"train": 1500, "validation": 200, "test": 200}
        if config.max_images:
            counts = {name: min(count, config.max_images) for name, count in counts.items()}
        splits = data.load_sample(config.seed, counts)
    else:
        splits = data.load_flickr8k(config.data_dir, limit=config.max_images, partial=config.partial_data)
    vectorizer = make_target_vectorizer(
        config.vocab_size, [caption for captions in splits["train"].captions for caption in captions])
    encoder, encoder_identity = prepare.resolve_encoder(config, splits)
    features = prepare.cached_features(config, splits, encoder, encoder_identity)
    batch_size = distribute.global_batch_size(config)  # --batch-size x replicas (1 without --distribute)
    train_data = shards.caption_stream(  # streamed from the TFRecord shards, never all in memory
        features["train"].files, vectorizer, features["train"].shape[1], config.max_caption_tokens, batch_size,
        training=True, seed=config.seed)
    validation_data = caption_pairs(splits["validation"], features["validation"], vectorizer, config,
                                    batch_size, False)

    # --------------------------------------------------------------------------------------- Model
    pairs = sum(len(c) for c in splits["train"].captions)
    steps_per_epoch = math.ceil(pairs / batch_size)
    learning_rate = decoder_learning_rate(config, steps_per_epoch)
    with distribute.scope():  # variables mirrored on every replica under --distribute
        decoder = build_model(config, vectorizer.vocabulary_size(), features["train"].shape[1])
        decoder.compile(optimizer=make_optimizer(learning_rate, config.clipnorm, ema_momentum=config.ema_momentum),
                        loss=masked_sparse_crossentropy(), metrics=[MaskedSparseCategoricalAccuracy()])

    # --------------------------------------------------------------------------------------- Train
    epoch_metrics, monitor, mode = None, "val_loss", "min"
    if config.select_by == "bleu":  # validation captions written as serving writes them, scored after every epoch
        validation_writer = CaptionWriter(encoder, decoder, vectorizer, config)
        beam = tf.function(validation_writer.beam_from_features)  # its beam-search graph is traced once, not per epoch
        epoch_metrics, monitor, mode = {"val_bleu4": lambda: evaluate.bleu_scores(
            caption_all(beam, features["validation"]), splits["validation"].captions)["bleu4"]}, "val_bleu4", "max"
    result = fit(decoder, train_data, validation_data, config, monitor=monitor, mode=mode,
                 steps_per_epoch=steps_per_epoch, epoch_metrics=epoch_metrics,
                 extra_callbacks=[TimeBudget(config.max_train_minutes), *extra_callbacks])

    # ------------------------------------------------------------------------------------ Evaluate
    writer = CaptionWriter(encoder, decoder, vectorizer, config)
    test = splits["test"]
    hypotheses = {"greedy": caption_all(writer.greedy_from_features, features["test"]),
                  "beam": caption_all(writer.beam_from_features, features["test"])}
    scores = {name: evaluate.bleu_scores(captions, test.captions) for name, captions in hypotheses.items()}
    baseline_caption = evaluate.constant_baseline(splits["train"].captions, seed=config.seed)
    baseline = evaluate.bleu_scores([baseline_caption] * len(test.captions), test.captions)
    best = max(scores, key=lambda name: scores[name]["bleu4"])
    metrics = {
        "bleu4_test": scores[best]["bleu4"], "best_decoder": best, "bleu": scores,
        "bleu4_constant_baseline": baseline["bleu4"], "constant_baseline_caption": baseline_caption,
        "encoder_weights": config.inception_weights, "encoder_identity": encoder_identity,
        "test_images": len(test.images), "train_pairs": pairs, "train_seconds": result.seconds,
        "encoder_train_seconds": prepare.encoder_train_seconds(config, splits),
        "epochs_completed": len(result.history), "history": result.history,
        "examples": [{"image": test.image_ids[i], "greedy": hypotheses["greedy"][i], "beam": hypotheses["beam"][i],
                      "reference": test.captions[i][0]} for i in range(min(5, len(test.images)))],
        "data": "sample" if config.sample else "flickr8k",
    }
    print(f"BLEU-4 greedy {scores['greedy']['bleu4']:.4f}, beam {scores['beam']['bleu4']:.4f}, "
          f"constant baseline {baseline['bleu4']:.4f} ({baseline_caption!r})")

    # -------------------------------------------------------------------------------------- Export
    return export(config, writer, vectorizer, metrics, test.images[0])


def export(config: Config, writer: CaptionWriter, vectorizer, metrics: dict, example_image: bytes) -> dict:
    """<export-dir>/captioner/<N>/ with `serving_default` (beam search) and `greedy`: image bytes -> caption.

    Decoding follows `config` (beam size, length penalty, n-gram block); `example_image` is captioned by the
    export in a TensorFlow-only process and becomes its warm-up request. Returns `metrics` + export_path.
    """
    signature = [tf.TensorSpec([None], tf.string, name="image_bytes")]
    return export_and_finish(
        config, {"serving_default": (writer.serve_beam, signature), "greedy": (writer.serve_greedy, signature)},
        track=[writer.encoder, writer.decoder, vectorizer], metrics=metrics,
        check_request={"instances": [b64(example_image)]})

if __name__ == "__main__":
    main()
