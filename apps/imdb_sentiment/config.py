"""The IMDb classifier's settings: every `train.py` flag, its default and the reason for it.

    python apps/imdb_sentiment/train.py --help       # the same fields, as flags, with these reasons
    config = parse_config(Config, ["--sample", "--quick"])

`QUICK` is what `--quick` overrides (a smoke test in seconds); `--sample` trains on the offline grammar
(data.py). The per-request serving limits are not settings of a run: they live in serve.py.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from shared.modeling.cells import CELLS
from shared.runtime.config import TrainConfig, option
from shared.runtime.data import PARTIAL_DATA_HELP


@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    app: ClassVar[str] = "imdb_sentiment"
    QUICK: ClassVar[dict] = {"epochs": 1, "max_examples": 384, "vocab_size": 1000, "embedding_dim": 16,
                             "units": 8, "max_tokens": 64, "bigrams": 500, "bag_dim": 8}

    epochs: int = option(6, "The GRU peaks after 2 passes, the bag after 5-6; each keeps its own best epoch.")
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
    dropout: float = option(0.3, "Dropout before each read-out's output layer.")
    readout: str = option("both", "What answers: the recurrent encoder's pooled states, a bag of word and word-pair "
                                  "vectors (fastText), or both, averaged and each trained on its own loss (model.py).",
                          choices=("recurrent", "bag", "both"))
    bigrams: int = option(200000, "Word pairs the bag gives vectors of their own: the most frequent in training "
                                  "(the 22.5k training reviews hold about 880k distinct pairs).")
    bag_dim: int = option(64, "Vector size of the bag's words and word pairs.")
    label_smoothing: float = option(
        0.1, "Train toward 0.05/0.95 instead of 0/1: a read-out that fits the training reviews cannot grow "
             "so sure that it drowns the other one in their average (README, Results).")
    ema_momentum: float = option(0.0, "Validate and export a moving average of the weights (0: off).")
    validation_fraction: float = option(0.1, "Share of the training split held out to pick the best epoch.")
    max_examples: int | None = option(None, "Use only this many training reviews (--quick sets it).")
    partial_data: bool = option(False, PARTIAL_DATA_HELP)

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"--validation-fraction must be in (0, 1), got {self.validation_fraction}.")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}.")
        if self.bigrams < 1 or self.bag_dim < 1:
            raise ValueError(f"--bigrams and --bag-dim must be at least 1, got {self.bigrams} and {self.bag_dim}.")
        if self.max_tokens < 1 or self.vocab_size < 3:
            raise ValueError("--max-tokens must be >= 1 and --vocab-size >= 3 (padding, OOV, one word).")
