"""Train the character-level language model with truncated BPTT, measure it, and export the generator.

Usage:
    python apps/char_lm/train.py --sample                                  # offline: stdlib source, ~1 min
    python apps/char_lm/train.py --data-dir ../shared/data/tinyshakespeare # Karpathy's tinyshakespeare
    python apps/char_lm/train.py --corpus mysterious_island --data-dir ../shared/data/mysterious_island
    python apps/char_lm/train.py --cell gru --layers 1 --units 1024 ...    # any architecture
    python apps/char_lm/train.py --data-dir ... --resume                   # continue an interrupted run
    python apps/char_lm/train.py --help                                    # every flag, with its reason

Writes runs/char_lm/ (config.json, vocabulary.json, metrics.json, history.csv, checkpoints/, logs/) and
exports saved_models/char_lm/<N>/ with three signatures:
    serving_default  prompt (string [batch]), num_chars (int32), temperature (float32) -> text (string [batch])
    generate         the same plus top_k (int32) and seed (int64)
    score            text (string [batch]) -> bits_per_char (float [batch]), num_chars (int32 [batch])
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import ClassVar

import keras

from apps.char_lm import data
from apps.char_lm.generate import CharStepper, export_endpoints
from apps.char_lm.model import CELLS, ResetStates, build_model, reset_states
from shared.runtime import distribute
from shared.modeling.optimizer import make_optimizer
from shared.runtime.config import load_config, TrainConfig, option, parse_config
from shared.runtime.time_budget import TimeBudget
from shared.runtime.training import fit
from shared.runtime.run import export_and_finish, start_run


# ---------------------------------------------------------------------------------------------- Config
@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    app: ClassVar[str] = "char_lm"
    # --sample: small enough that the offline run takes about a minute on 2 cores.
    SAMPLE: ClassVar[dict] = {"epochs": 3, "units": 256, "layers": 1, "dropout": 0.0, "batch_size": 32,
                              "seq_length": 64}
    QUICK: ClassVar[dict] = {"epochs": 1, "units": 32, "embedding_dim": 16, "layers": 1, "batch_size": 8,
                             "seq_length": 50, "max_chars": 40000, "dropout": 0.0}

    corpus: str = option("tinyshakespeare", "Which real text to learn (--sample overrides it).",
                         choices=tuple(data.CORPORA))
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


def load_text(config: Config) -> str:
    text = data.load_sample(config.sample_chars) if config.sample else data.load_corpus(config.corpus,
                                                                                          config.data_dir)
    return text[:config.max_chars] if config.max_chars else text


def load_trained(run_dir, checkpoint: str = "best") -> tuple[Config, list[str], keras.Model]:
    """(config, vocabulary, stateless model with the run's weights) from a run folder."""
    import pathlib

    run_dir = pathlib.Path(run_dir)
    config = load_config(run_dir, Config)
    vocabulary = json.loads((run_dir / "vocabulary.json").read_text())
    model = build_model(config, len(vocabulary) + 1)
    model.load_weights(str(run_dir / "checkpoints" / f"{checkpoint}.weights.h5"))
    return config, vocabulary, model


def main(argv=None, extra_callbacks=()):
    config = parse_config(Config, argv, __doc__)
    run_dir = start_run(config)
    if not (run_dir / "backup").exists():  # a fresh start: forget earlier runs' training time
        (run_dir / "train_seconds.json").unlink(missing_ok=True)

    # ---------------------------------------------------------------------------------------- Data
    text = load_text(config)
    train_text, validation_text = data.split_text(text, config.validation_fraction)
    vocabulary = data.build_vocabulary(train_text)  # from the training part only
    (run_dir / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False) + "\n")
    train_ids, validation_ids = data.encode(train_text, vocabulary), data.encode(validation_text, vocabulary)
    # --batch-size streams per replica. The strategy hands each replica the same rows of every global
    # batch, so a replica's streams stay contiguous from one TBPTT chunk to the next.
    batch_size = distribute.global_batch_size(config)
    train_data = data.make_dataset(train_ids, batch_size, config.seq_length)
    validation_data = data.make_dataset(validation_ids, batch_size, config.seq_length)
    steps_per_epoch = int(train_data.cardinality())
    vocab_size = len(vocabulary) + 1  # + OOV (id 0)
    print(f"{len(train_text):,} training and {len(validation_text):,} validation characters, "
          f"{vocab_size} ids; {steps_per_epoch} TBPTT steps per epoch")

    # --------------------------------------------------------------------------------------- Model
    learning_rate = config.learning_rate
    if config.lr_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch, alpha=0.05)
    with distribute.scope():  # variables mirrored on every replica under --distribute
        model = build_model(config, vocab_size, batch_size=config.batch_size)  # stateful, per replica
        # Mean over positions = the summed per-step loss / (batch x time): same gradient direction.
        model.compile(optimizer=make_optimizer(learning_rate, config.clipnorm),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=False)  # XLA made the recurrent loop 2x slower on CPU (measured)
    model.summary(print_fn=lambda line, **_: print(line))

    # --------------------------------------------------------------------------------------- Train
    budget = TimeBudget(config.max_train_minutes, run_dir / "train_seconds.json")
    result = fit(model, train_data, validation_data, config, monitor="val_loss", mode="min",
                 extra_callbacks=[ResetStates(), budget, *extra_callbacks])
    budget.record(result.seconds)
    train_seconds = budget.total_seconds()  # every process of this run (resumes included)

    # ------------------------------------------------------------------------------------ Evaluate
    # The best checkpoint is loaded; one more pass over the validation streams from a zero state.
    reset_states(model)
    val_loss = float(model.evaluate(validation_data, verbose=0))
    history = result.history
    metrics = {
        "val_loss_nats": val_loss, "bits_per_char": val_loss / math.log(2),
        "train_seconds": train_seconds, "epochs_completed": len(history),
        # Training characters per second of wall time (validation passes included in the time).
        "train_chars_per_second": budget.steps * batch_size * config.seq_length / result.seconds,
        "train_chars": len(train_text), "validation_chars": len(validation_text), "vocab_size": vocab_size,
        "data": "sample" if config.sample else config.corpus,
        "history": history,
    }
    print(f"validation loss {val_loss:.4f} nats/char = {metrics['bits_per_char']:.4f} bits/char; "
          f"trained {train_seconds:.0f} s")

    # -------------------------------------------------------------------------------------- Export
    inference = build_model(config, vocab_size)  # stateless twin: any batch size, same weights
    inference.set_weights(model.get_weights())
    stepper = CharStepper(inference, vocabulary)
    return export_and_finish(
        config, export_endpoints(stepper, seed=config.seed, top_k=config.top_k),
        track=[stepper.lookup, inference], metrics=metrics,
        check_request=[{"inputs": {"prompt": ["The "], "num_chars": 40, "temperature": 0.8}},
                       {"signature_name": "score", "instances": [validation_text[:200]]}])

if __name__ == "__main__":
    main()
