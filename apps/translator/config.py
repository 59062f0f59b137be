"""The translator's settings: every train.py flag, with its default and the reason for it.

`Config` is frozen and saved with each run (runs/translator/config.json) and each export
(assets.extra/config.json); read one back with `shared.runtime.config.load_config`. `--sample` applies
SAMPLE, `--quick` applies QUICK (a seconds-long smoke run). The per-request serving limits are not settings
of a run: they live with the endpoints they bound, in serve.py.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from apps.translator.data import DIRECTIONS
from apps.translator.model import ATTENTION
from shared.modeling.cells import CELLS
from shared.runtime.config import TrainConfig, option
from shared.runtime.data import PARTIAL_DATA_HELP


@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    app: ClassVar[str] = "translator"
    # The sample grammar is learnt by epoch 4 (validation token accuracy 1.0 there, measured); 6 leaves margin
    # and keeps `apps/run_all.py` short (15 epochs took 408 s of a loaded machine for the same answers).
    # The sample grammar is all near duplicates (one word apart), so it keeps the random split.
    SAMPLE: ClassVar[dict] = {"epochs": 6, "split": "random"}
    QUICK: ClassVar[dict] = {"epochs": 1, "max_examples": 512, "source_vocab_size": 300,
                             "target_vocab_size": 300, "embedding_dim": 16, "units": 16,
                             "eval_examples": 48, "beam_size": 2}

    direction: str = option("en-es", "Which way to translate: English->Spanish or Spanish->English.",
                            choices=DIRECTIONS)
    epochs: int = option(15, "Passes over the ~107k training pairs; --max-train-minutes may stop sooner.")
    max_train_minutes: float | None = option(
        None, "Stop training after this many minutes (mid-epoch); the best checkpoint is kept.")
    batch_size: int = option(256, "Sentences are short (7 words on average); on 2 CPU cores 256 pairs per "
                             "step trained ~1.9x as many pairs/s as 128 (fixed per-step costs).")
    learning_rate: float = option(2e-3, "Adam's step size: 2e-3 learned ~2x faster than 1e-3 on the sample.")
    clipnorm: float = option(0.0, "Off: gradient norms stayed below ~3 here, and with clipping on, "
                             "Keras' Adam learned ~2x slower (dense embedding updates; see README).")
    source_vocab_size: int = option(15000, "Source words kept (rest -> [UNK]); 15k covers 98.7% of Spanish.")
    target_vocab_size: int = option(10000, "Target words kept (99.6% of English, 97.4% of Spanish tokens); "
                                    "each costs output-layer time at every step.")
    max_source_tokens: int = option(40, "Longer sources are cut (99% of sentences have at most 16 tokens).")
    max_target_tokens: int = option(40, "Training pairs with longer targets are dropped.")
    max_output_tokens: int = option(60, "Hard bound on a translation's length (also 2 x source + 10).")
    embedding_dim: int = option(256, "Word vector size, both languages; also the size before the softmax.")
    cell: str = option("gru", "GRU: as good as LSTM here, cheaper on CPU.", choices=tuple(CELLS))
    units: int = option(256, "Encoder units per direction; the decoder has twice as many.")
    attention: str = option("luong", "Attention over the source at every output step, or none (see README).",
                            choices=ATTENTION)
    dropout: float = option(0.2, "Dropout before the output layer.")
    embedding_dropout: float = option(0.1, "Drops embedding channels per sentence.")
    beam_size: int = option(4, "Beams kept by the serving_default signature's beam search.")
    length_penalty: float = option(1.0, "Beam answers are ranked by log-probability / length ** this.")
    halve_lr_on_plateau: bool = option(
        True, "Halve the learning rate after an epoch whose validation loss did not improve.")
    split: str = option("strict", "strict: no test/validation sentence is a near duplicate of a training one "
                        "(apps/translator/split.py); random: the old cut, which overstates quality.",
                        choices=("strict", "random"))
    max_examples: int | None = option(None, "Use only this many training pairs (--quick sets it).")
    partial_data: bool = option(False, PARTIAL_DATA_HELP)
    eval_examples: int | None = option(None, "Score BLEU on only this many test pairs (default: all).")
    mixed_precision: bool = option(
        True, "Train with bfloat16 matrix products (fast on AMX/AVX512-BF16 CPUs); export in float32.")

    def __post_init__(self):
        super().__post_init__()
        if min(self.source_vocab_size, self.target_vocab_size) < 8:
            raise ValueError("--source-vocab-size and --target-vocab-size must be at least 8.")
        if self.beam_size < 1 or self.max_source_tokens < 1 or self.max_output_tokens < 1:
            raise ValueError("--beam-size, --max-source-tokens and --max-output-tokens must be >= 1.")
