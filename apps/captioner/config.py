"""The captioner's settings: one frozen `Config`, its flags (`option(default, why)`), --sample and --quick.

Every field is a flag of `train.py` and `cache.py` (`--beam-size 8`, `--inception-weights none`, ...); its
`why` is both the comment here and the `--help` text. `resolve_config` fills the two automatic choices
(which encoder weights, and the input size that suits them) before anything reads them.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from shared.runtime.config import TrainConfig, option
from shared.runtime.data import PARTIAL_DATA_HELP


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
