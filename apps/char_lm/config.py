"""The character LM's training configuration: every train.py flag, with its default and the reason for it.

    config = parse_config(Config, ["--sample", "--units", "128"])    # what train.py does with its argv
    config = load_config("runs/char_lm", Config)                     # a run's (or export's) config again

`--sample` applies SAMPLE (the offline run on standard-library source, about a minute on 2 cores), `--quick`
applies QUICK (the tests' smoke run). The per-request serving limits are not configuration: they are
constants of the serving graph (serve.py).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from apps.char_lm.data import CORPORA
from shared.modeling.cells import CELLS
from shared.runtime.config import TrainConfig, option


@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    app: ClassVar[str] = "char_lm"
    # --sample: small enough that the offline run takes about a minute on 2 cores.
    SAMPLE: ClassVar[dict] = {"epochs": 3, "units": 256, "layers": 1, "dropout": 0.0, "batch_size": 32,
                              "seq_length": 64}
    QUICK: ClassVar[dict] = {"epochs": 1, "units": 32, "embedding_dim": 16, "layers": 1, "batch_size": 8,
                             "seq_length": 50, "max_chars": 40000, "dropout": 0.0}

    corpus: str = option("tinyshakespeare", "Which real text to learn (--sample overrides it).",
                         choices=tuple(CORPORA))
    epochs: int = option(24, "Passes over the text (~105 s each for the default model on 2 cores); "
                             "with --max-train-minutes, whichever ends first.")
    batch_size: int = option(64, "Parallel text streams: each batch row continues its own stream.")
    seq_length: int = option(100, "TBPTT chunk: gradients flow back at most this many characters.")
    embedding_dim: int = option(64, "Character vector size: ~65 characters need few dimensions.")
    cell: str = option("lstm", "Recurrent cell; see benchmarks/char_lm_cells.py for the comparison.",
                       choices=tuple(CELLS))
    layers: int = option(2, "Stacked recurrent layers.")
    units: int = option(512, "Units per recurrent layer.")
    dropout: float = option(0.2, "Dropout after each recurrent layer: 1M characters overfit fast.")
    lr_schedule: str = option("cosine", "Learning rate: cosine decay to 5 percent over the run, or constant.",
                              choices=("cosine", "constant"))
    learning_rate: float = option(2e-3, "Adam's initial step size.")
    validation_fraction: float = option(0.1, "The last part of the text (10 percent), held out for validation.")
    max_chars: int | None = option(None, "Use only the first this many characters (--quick sets it).")
    sample_chars: int = option(300_000, "Characters of standard-library source that --sample reads.")
    max_train_minutes: float | None = option(
        None, "Stop training after this wall time (the last validation pass included); None: no limit.")
    top_k: int = option(0, "Top-k cut used by serving_default (0: none; the generate signature takes its own).")

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"--validation-fraction must be in (0, 1), got {self.validation_fraction}.")
        if min(self.seq_length, self.units, self.layers, self.embedding_dim) < 1:
            raise ValueError("--seq-length, --units, --layers and --embedding-dim must be at least 1.")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}.")
