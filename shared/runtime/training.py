"""The training loop every app shares: callbacks, best/last checkpoints, resume, history.

Home of: `fit` and its callbacks (checkpoints, backup, TensorBoard, history.csv), and of keeping parts of a
model at different epochs (`parts`: two read-outs that peak at different times each keep their own best).

`fit` writes the run folder's history.csv, checkpoints/, backup/ and logs/<run id>/, at the paths
shared/runtime/run.py's `RunFolder` names (run.py owns the layout, the folder itself and its other files).

Resume: a run that dies (Ctrl-C, a killed job, a crash) leaves `backup/`. Running the same command with
`--resume` restores weights, optimizer state and the epoch counter from the newest intact state there, says
which, and cuts history.csv back to the epochs it covers, so no finished epoch is redone or counted twice.
Every file is written atomically, and a damaged one gets an error naming it (shared/runtime/resume.py). Without
`--resume` the old backup is cleared and training starts over.

Distribution (`--distribute`, shared/runtime/distribute.py): `run.start_run` creates the strategy before anything
else, `fit` shards in-memory datasets by DATA, and `run.finish_run` removes a non-chief worker's scratch folder.
Each worker keeps its own `backup/`, so a restarted cluster resumes with `--resume` exactly like one process.
"""

from __future__ import annotations

import csv
import math
import pathlib
import shutil
import sys
import time
import typing

import keras

from shared.runtime import distribute, resume, run
from shared.runtime.config import TrainConfig


def _best_so_far(history_csv: pathlib.Path, monitor: str, mode: str) -> float | None:
    """The best value of `monitor` in the epochs an interrupted run already finished."""
    if not history_csv.exists():
        return None
    with history_csv.open() as rows:
        values = [float(row[monitor]) for row in csv.DictReader(rows) if row.get(monitor)]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


def part_checkpoint(folder: run.RunFolder, monitor: str) -> pathlib.Path:
    """Where `fit(parts=...)` keeps the weights of the epoch where `monitor` was best."""
    return folder.checkpoints / f"best-{monitor}.weights.h5"


def standard_callbacks(config: TrainConfig, monitor: str, mode: str, ema: bool = False,
                       epoch_metrics: typing.Mapping[str, typing.Callable[[], float]] | None = None,
                       state: resume.RunState | None = None,
                       part_monitors: typing.Sequence[str] = ()) -> list[keras.callbacks.Callback]:
    """Backup for resume, best and last checkpoints, TensorBoard and the CSV history.

    `state` is the run's resume state (`resume.prepare`; a fresh start by default). The backup is saved
    first in each epoch (raw weights, before an EMA swap) and committed last, after history.csv has the row.

    With `ema` (an optimizer with `use_ema`), the weight average is swapped in after each epoch's backup,
    so validation and the checkpoints see the average while the backup keeps the raw training state.
    `epoch_metrics` (name -> function) are computed then, on the weights the checkpoints save, and join
    the epoch's logs before the checkpoints and the history read them.
    `part_monitors` get a best checkpoint each too (`part_checkpoint`), for `fit(parts=...)`.
    """
    folder = run.RunFolder.of(config)
    folder.checkpoints.mkdir(parents=True, exist_ok=True)
    state = state or resume.RunState(resume.new_run_id(folder), 0)
    backup = resume.CrashSafeBackup(folder, state)

    def best(path: pathlib.Path, watched: str) -> resume.AtomicCheckpoint:
        # On resume, "best" must beat the epochs already done, not start from scratch.
        return resume.AtomicCheckpoint(str(path), monitor=watched, mode=mode, save_best_only=True,
                                       save_weights_only=True,
                                       initial_value_threshold=_best_so_far(folder.history, watched, mode))

    return [
        backup,
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema else []),
        *([_EpochMetrics(epoch_metrics)] if epoch_metrics else []),
        best(folder.best_checkpoint, monitor),
        *(best(part_checkpoint(folder, part), part) for part in part_monitors),
        resume.AtomicCheckpoint(str(folder.last_checkpoint), save_weights_only=True),
        keras.callbacks.TensorBoard(str(folder.tensorboard(state.run_id))),
        keras.callbacks.CSVLogger(str(folder.history), append=True),
        backup.committer(),
    ]


class FitResult(typing.NamedTuple):
    history: list[dict]     # every finished epoch's logs, earlier (interrupted) runs included
    epochs_this_run: int    # epochs this process trained (fewer than config.epochs after a resume)
    seconds: float          # wall time of this process's training


class _EpochCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_epoch_end(self, epoch, logs=None):
        self.count += 1


class _EpochMetrics(keras.callbacks.Callback):
    """Adds figures Keras cannot compute itself (validation BLEU of generated text, say) to each epoch's logs.

    It runs before the checkpoints, so they can monitor these figures, and history.csv, TensorBoard and
    the progress bar record them.
    """

    def __init__(self, metrics: typing.Mapping[str, typing.Callable[[], float]]):
        super().__init__()
        self.metrics = dict(metrics)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            for name, compute in self.metrics.items():
                logs[name] = float(compute())


class _StopOnNaN(keras.callbacks.TerminateOnNaN):
    """Keras' TerminateOnNaN, remembering where it stopped so `fit` can say so."""

    def __init__(self):
        super().__init__()
        self.where, self.epoch = None, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.where is None:
            self.where = f"step {batch + 1} of epoch {self.epoch + 1}"
        super().on_train_batch_end(batch, logs)


def _check_parts(parts: typing.Mapping[str, typing.Sequence[keras.layers.Layer]]) -> None:
    owner = {}
    for monitor, layers in parts.items():
        for variable in (variable for layer in layers for variable in layer.weights):
            if owner.setdefault(id(variable), monitor) != monitor:
                raise ValueError(f"parts {owner[id(variable)]!r} and {monitor!r} share the variable {variable.path}: "
                                 f"a variable can be kept at one epoch only, so the parts must not overlap.")


def load_parts(model: keras.Model, folder: run.RunFolder,
               parts: typing.Mapping[str, typing.Sequence[keras.layers.Layer]]) -> None:
    """Give each part's layers the weights of its own best epoch; every other weight stays as it is.

    A Keras weights file loads into the whole model, so the weights outside the part are copied aside and
    put back after each load.
    """
    for monitor, layers in parts.items():
        checkpoint = part_checkpoint(folder, monitor)
        if not checkpoint.exists():  # the monitor never improved (or was never logged): keep what is there
            continue
        kept = {id(variable) for layer in layers for variable in layer.weights}
        others = [(variable, keras.ops.convert_to_numpy(variable)) for variable in model.weights
                  if id(variable) not in kept]
        model.load_weights(str(checkpoint))
        for variable, value in others:
            variable.assign(value)


def fit(model: keras.Model, train_data, validation_data, config: TrainConfig, *, monitor: str = "val_loss",
        mode: str = "min", steps_per_epoch: int | None = None,
        extra_callbacks: typing.Sequence[keras.callbacks.Callback] = (),
        epoch_metrics: typing.Mapping[str, typing.Callable[[], float]] | None = None,
        parts: typing.Mapping[str, typing.Sequence[keras.layers.Layer]] | None = None) -> FitResult:
    """Train with the suite's callbacks, then load the best checkpoint; only then is backup/ removed.

    With `--resume` it continues from the newest intact state of backup/ (shared/runtime/resume.py). A damaged best
    checkpoint raises ValueError and keeps backup/, from which `--resume` restores it.

    `extra_callbacks` run after the built-in ones (tests use one to interrupt a run on purpose).
    `epoch_metrics` maps a name to a function computed after every epoch (validation BLEU of generated
    captions, say); the figure joins the epoch's logs before the checkpoints read them, so `monitor` may name it.
    `parts` maps a monitor (`mode` as for `monitor`) to layers that end with the weights of that monitor's best
    epoch instead: two read-outs of one model that peak at different epochs each keep their best (IMDb). The
    parts must not share a variable; weights in no part come from `monitor`'s best epoch. Resume-safe: each
    part's best is a checkpoint of its own (`part_checkpoint`).
    """
    parts = dict(parts or {})
    _check_parts(parts)
    counter, nan_guard = _EpochCounter(), _StopOnNaN()
    ema = bool(getattr(model.optimizer, "use_ema", False))
    folder = run.RunFolder.of(config)
    # start_run decided for the app's run folder; other folders (the captioner's encoder stage) decide here.
    state = run.take_prepared(folder.root) or resume.prepare(folder, config.resume, config.epochs)
    callbacks = (standard_callbacks(config, monitor, mode, ema, epoch_metrics, state, tuple(parts))
                 + [counter, nan_guard]
                 + list(extra_callbacks))
    if config.distribute != "none":  # every worker keeps its own slice of each global batch
        train_data, validation_data = (distribute.shard_in_memory(data) for data in (train_data, validation_data))
        distribute.prepare_model(model)
    started = time.perf_counter()
    model.fit(train_data, validation_data=validation_data, epochs=config.epochs,
              steps_per_epoch=steps_per_epoch, callbacks=callbacks,
              shuffle=False,  # the apps' tf.data pipelines shuffle (Keras cannot shuffle a dataset)
              # A live progress bar on a terminal, one line per epoch in logs and CI.
              verbose=1 if sys.stdout.isatty() else 2)
    seconds = time.perf_counter() - started
    if nan_guard.where is not None:  # a NaN loss never recovers: say so instead of exporting NaN weights
        shutil.rmtree(folder.backup, ignore_errors=True)  # its newest state holds the NaN weights
        raise FloatingPointError(
            f"training diverged: the loss became NaN at {nan_guard.where}. "
            f"Try a smaller --learning-rate or --clipnorm; the best earlier epoch, if any, is in "
            f"{folder.best_checkpoint}.")
    best = folder.best_checkpoint
    if best.exists():
        try:
            model.load_weights(str(best))
        except Exception as error:  # h5py raises OSError, KeyError or ValueError for a damaged file
            raise ValueError(
                f"{best} is damaged ({type(error).__name__}: {error}). The resume state in {folder.backup} "
                f"is kept, with a copy of the best checkpoint: run the same command with --resume to restore "
                f"it and finish (no epoch is trained again). Should that report the same, delete {best.name} and "
                f"resume: the last epoch's weights are then kept instead.") from error
    load_parts(model, folder, parts)
    shutil.rmtree(folder.backup, ignore_errors=True)  # only now: the run's outcome is safe on disk
    return FitResult(run.read_history(folder.root), counter.count, seconds)
