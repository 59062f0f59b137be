"""Crash-safe run state: what `--resume` restores, written so that a kill at any moment leaves it whole.

Home of: atomic writes (`atomic_write`, `AtomicCheckpoint`) and the contents of backup/ (where backup/ is
in the run folder is shared/runtime/run.py's `RunFolder`).

Every file a run rewrites goes through `atomic_write` or `AtomicCheckpoint`: it is written beside its target
under a temporary name, flushed to disk and renamed over the target (a rename is atomic), so a kill leaves
the old file or the new one, never half of one.

`backup/` holds the two newest training states (the state of Keras' BackupAndRestore with double_checkpoint):
    latest.weights.h5, training_metadata.json            after the last finished epoch
    latest.weights.h5.bkp, training_metadata.json.bkp    one epoch earlier
    best-<digest>.weights.h5                             a copy of the best checkpoint as each state saw it
The metadata records the epoch, the run id (TensorBoard's logs/<run id>/), and the SHA-256 of the weights
and of the best checkpoint, so a damaged or mismatched file is found without trusting it. A state is
committed last in its epoch, after history.csv got the epoch's row; on `--resume`, `prepare` restores the
newest intact state and cuts history.csv back to exactly the epochs that state covers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pathlib
import shutil
import sys
import time
import typing

import keras

if typing.TYPE_CHECKING:  # the layout's owner imports this module, so only type checkers import it back
    from shared.runtime.run import RunFolder

WEIGHTS, METADATA, PREVIOUS = "latest.weights.h5", "training_metadata.json", ".bkp"
FRESH_START = "Run the same command without --resume to start over (that clears backup/ and history.csv)."


class RunState(typing.NamedTuple):
    run_id: str  # names this run's TensorBoard folder, logs/<run id>/; a resumed run keeps its own
    epoch: int   # finished epochs restored from backup/ (0: a fresh start)


def _replace(temporary: pathlib.Path, target: pathlib.Path) -> None:
    """Flush `temporary` to disk, then rename it over `target` (atomic within one file system)."""
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)


def atomic_write(path: str | os.PathLike, text: str) -> pathlib.Path:
    """Write `text` to `path` so that readers (and a later resume) see the old file or the new one."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.incomplete-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    _replace(temporary, path)
    return path


def _atomic_copy(source: pathlib.Path, target: pathlib.Path) -> None:
    temporary = target.with_name(f".{target.name}.incomplete-{os.getpid()}")
    shutil.copyfile(source, temporary)
    _replace(temporary, target)


def _staging(path: pathlib.Path) -> pathlib.Path:
    """A temporary name beside a weights file that keeps the `.weights.h5` ending Keras insists on."""
    return path.with_name(f".{path.name.removesuffix('.weights.h5')}.incomplete-{os.getpid()}.weights.h5")


def digest(path: pathlib.Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


class AtomicCheckpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint that writes a temporary file and renames it over the checkpoint when it is complete."""

    def _get_file_path(self, epoch, batch, logs):
        return str(_staging(pathlib.Path(self.filepath)))

    def _save_model(self, epoch, batch, logs):
        super()._save_model(epoch, batch, logs)
        staged = _staging(pathlib.Path(self.filepath))
        if staged.exists():  # this epoch was saved (save_best_only saves only improvements)
            _replace(staged, pathlib.Path(self.filepath))


def _best_copy(backup: pathlib.Path, sha: str) -> pathlib.Path:
    return backup / f"best-{sha[:16]}.weights.h5"


def _read_state(backup: pathlib.Path, suffix: str) -> tuple[dict | None, str | None]:
    """(metadata, None) if the state with this suffix is intact, else (None, what is wrong with it)."""
    weights, metadata_path = backup / (WEIGHTS + suffix), backup / (METADATA + suffix)
    if not weights.exists():
        return None, f"{weights} is missing"
    try:
        metadata = json.loads(metadata_path.read_text())
        metadata["epoch"] = int(metadata["epoch"])
    except FileNotFoundError:
        return None, f"{metadata_path} is missing"
    except (ValueError, KeyError, TypeError) as error:  # empty, truncated or not this format
        return None, f"{metadata_path} is not valid training metadata ({type(error).__name__}: {error})"
    expected = metadata.get("weights_sha256")
    if expected is None:  # written by Keras' own BackupAndRestore (before this module): only try reading it
        try:
            import h5py
            with h5py.File(weights, "r") as handle:
                handle.visititems(lambda _, item: item[()] if isinstance(item, h5py.Dataset) else None)
        except Exception as error:  # h5py raises OSError, KeyError or RuntimeError for a damaged file
            return None, f"{weights} cannot be read ({type(error).__name__}: {error})"
    elif digest(weights) != expected:
        return None, f"{weights} does not match its metadata (damaged or truncated)"
    best = metadata.get("best_sha256")
    if best and not (_best_copy(backup, best).exists() and digest(_best_copy(backup, best)) == best):
        return None, f"{_best_copy(backup, best)} (the best checkpoint of that state) is missing or damaged"
    return metadata, None


def _has_state(backup: pathlib.Path) -> bool:
    return any((backup / (name + suffix)).exists() for name in (WEIGHTS, METADATA) for suffix in ("", PREVIOUS))


def new_run_id(folder: RunFolder) -> str:
    """The UTC start time, made unique among the run folder's TensorBoard folders."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    run_id, number = stamp, 1
    while folder.tensorboard(run_id).exists():
        number += 1
        run_id = f"{stamp}-{number}"
    return run_id


def prepare(folder: RunFolder, resume: bool, epochs: int) -> RunState:
    """Before training: restore the newest intact state (`--resume`), or clear the last run's progress.

    `folder` is the run folder's layout (shared.runtime.run.RunFolder). Raises ValueError, changing
    nothing, when `--resume` finds a backup/ in which no state is intact.
    """
    backup = folder.backup
    for place in (folder.root, folder.checkpoints, backup):  # left by a process killed while writing
        for stale in place.glob(".*.incomplete-*"):
            stale.unlink(missing_ok=True)
    if resume and _has_state(backup):
        return _restore(folder, epochs)
    if resume:
        print(f"--resume: no interrupted run in {backup}; starting from epoch 1.", file=sys.stderr)
    shutil.rmtree(backup, ignore_errors=True)  # a fresh start forgets any earlier run's progress
    folder.history.unlink(missing_ok=True)
    return RunState(new_run_id(folder), 0)


def _restore(folder: RunFolder, epochs: int) -> RunState:
    backup = folder.backup
    metadata, problem = _read_state(backup, "")
    which = f"{backup / WEIGHTS} (the newest state)"
    if problem is not None:
        metadata, older_problem = _read_state(backup, PREVIOUS)
        if older_problem is not None:
            raise ValueError(
                f"--resume: {backup} holds no intact training state: {problem}; and {older_problem}. "
                f"Nothing was changed. {FRESH_START}")
        which = (f"{backup / (WEIGHTS + PREVIOUS)} (the previous state, because {problem}; "
                 f"the epoch after it is trained again)")
        for name in (WEIGHTS, METADATA):  # the next backup must rotate a good state into .bkp, not this one
            _atomic_copy(backup / (name + PREVIOUS), backup / name)
    epoch = metadata["epoch"]
    kept, dropped = cut_history(folder.history, epoch)
    if "best_sha256" in metadata:
        _restore_best(folder.best_checkpoint, backup, metadata["best_sha256"])
    run_id = metadata.get("run_id") or new_run_id(folder)  # a backup of Keras' own format has none
    then = f"continuing run {run_id} at epoch {epoch + 1}" if epoch < epochs else "only the finishing is left"
    print(f"--resume: restored {which}: {epoch} of {epochs} epochs done; {then}."
          + (f" history.csv: dropped the rows of epochs {dropped} (not in the restored state)." if dropped else "")
          + (f" history.csv has only {kept} rows for them." if kept < epoch else ""), file=sys.stderr)
    return RunState(run_id, epoch)


def _restore_best(best: pathlib.Path, backup: pathlib.Path, sha: str | None) -> None:
    """Make checkpoints/best.weights.h5 the one the restored state saw (a later epoch may have replaced it)."""
    if sha is None:
        best.unlink(missing_ok=True)
    elif not (best.exists() and digest(best) == sha):
        best.parent.mkdir(parents=True, exist_ok=True)
        _atomic_copy(_best_copy(backup, sha), best)
        print(f"--resume: restored {best} from {_best_copy(backup, sha)}.", file=sys.stderr)


def cut_history(path: pathlib.Path, epochs: int) -> tuple[int, list[int]]:
    """Keep one whole row for each epoch below `epochs` in history.csv; -> (rows kept, epochs dropped)."""
    if not path.exists():
        return 0, []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames or [], list(reader)
    kept, dropped = {}, set()
    for row in rows:
        try:
            number = int(row["epoch"])
        except (TypeError, ValueError):  # a row cut short by a kill
            continue
        whole = None not in row and None not in row.values()
        if number < epochs and whole:
            kept[number] = row
        else:
            dropped.add(number)
    if len(kept) != len(rows):
        text = io.StringIO()
        writer = csv.DictWriter(text, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept[number] for number in sorted(kept))
        atomic_write(path, text.getvalue())
    return len(kept), sorted(dropped - set(kept))


class CrashSafeBackup(keras.callbacks.Callback):
    """Keras' BackupAndRestore, made crash-safe: put it first among the callbacks, and `committer()` last.

    At the end of each epoch it saves the raw training weights (before an EMA swap) to a temporary file;
    the committer, after every other callback has written its part of the epoch (checkpoints, history.csv),
    rotates the states and renames the new one into place. fit removes backup/ once the best checkpoint loads.
    """

    def __init__(self, folder: RunFolder, state: RunState):
        super().__init__()
        self.backup, self.state = folder.backup, state
        self.best = folder.best_checkpoint
        self._staged, self._epoch = None, state.epoch

    def on_train_begin(self, logs=None):
        if self.state.epoch == 0:
            return
        weights = self.backup / WEIGHTS
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)  # its variables must exist to load
        try:
            self.model.load_weights(str(weights))
        except Exception as error:
            raise ValueError(f"--resume: {weights} does not fit this model ({type(error).__name__}: {error}); "
                             f"resume with the interrupted run's flags. {FRESH_START}") from error
        self.model._initial_epoch = self.state.epoch  # what BackupAndRestore sets: fit starts there

    def on_epoch_end(self, epoch, logs=None):
        self.backup.mkdir(parents=True, exist_ok=True)
        self._staged, self._epoch = _staging(self.backup / WEIGHTS), epoch + 1
        self.model.save_weights(str(self._staged), overwrite=True)

    def commit(self) -> None:
        """Make the staged state the newest and the newest the previous; each step is an atomic rename."""
        if self._staged is None:
            return
        for name in (WEIGHTS, METADATA):
            if (self.backup / name).exists():
                _atomic_copy(self.backup / name, self.backup / (name + PREVIOUS))
        best_sha = digest(self.best) if self.best.exists() else None
        if best_sha and not _best_copy(self.backup, best_sha).exists():  # a copy (not a link): damage to one
            _atomic_copy(self.best, _best_copy(self.backup, best_sha))   # file leaves the other readable
        metadata = {"epoch": self._epoch, "batch": 0, "run_id": self.state.run_id,
                    "weights_sha256": digest(self._staged), "best_sha256": best_sha}
        _replace(self._staged, self.backup / WEIGHTS)
        atomic_write(self.backup / METADATA, json.dumps(metadata))
        self._staged = None
        wanted = {_best_copy(self.backup, sha).name for sha in (best_sha, _previous_best(self.backup)) if sha}
        for copy in self.backup.glob("best-*.weights.h5"):
            if copy.name not in wanted:
                copy.unlink()

    def committer(self) -> keras.callbacks.Callback:
        backup = self

        class Commit(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                backup.commit()

        return Commit()


def _previous_best(backup: pathlib.Path) -> str | None:
    try:
        return json.loads((backup / (METADATA + PREVIOUS)).read_text()).get("best_sha256")
    except (OSError, ValueError, AttributeError):
        return None
