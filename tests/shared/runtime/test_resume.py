"""Kill and damage runs the ways real runs die, then --resume: the newest intact state, history consistent."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from shared.modeling.optimizer import make_optimizer
from shared.runtime.config import TrainConfig
from shared.runtime.resume import cut_history, digest
from shared.runtime.training import fit
from shared.runtime.run import start_run

REPO = pathlib.Path(__file__).resolve().parents[3]


def _train(tmp_path, epochs, resume=False, callbacks=()):
    config = TrainConfig(epochs=epochs, output_dir=str(tmp_path / "run"), resume=resume)
    start_run(config)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=make_optimizer(0.01), loss="mse")
    x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(8)
    return fit(model, data, data, config, extra_callbacks=callbacks)


class _KillAfter(keras.callbacks.Callback):
    """Stands in for a kill right after epoch `epochs` finished (its backup is committed by then)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


def _interrupted(tmp_path, epochs, after):
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, epochs, callbacks=[_KillAfter(after)])
    return tmp_path / "run"


def _epochs(result):
    return [int(row["epoch"]) for row in result.history]


def _truncate(path: pathlib.Path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _worker(run, *flags):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen([sys.executable, "-m", "tests.shared.runtime.resume_worker", str(run), "30", *flags],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill_once_training(process, run, rows, delay=0.0):
    """SIGKILL `process` `delay` s after history.csv has `rows` rows: no handler runs, a write stays half done."""
    deadline = time.monotonic() + 120
    while not ((run / "history.csv").exists() and (run / "history.csv").read_text().count("\n") > rows):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()[-2000:]
        time.sleep(0.01)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "result.json").exists(), "the run finished before it was killed"


def _finish_and_check(run):
    """Resume to the end; every epoch is in history.csv once and the resume trained exactly the rest."""
    resumed = _worker(run, "--resume")
    _, stderr = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, stderr[-3000:]
    result = json.loads((run / "result.json").read_text())
    restored = int(stderr.split(" epochs done")[0].rsplit(": ", 1)[1].split(" of ")[0])
    assert result["epochs_this_run"] == 30 - restored, stderr[-2000:]
    assert result["history_epochs"] == list(range(30)), "an epoch was lost or counted twice"
    assert not (run / "backup").exists()
    assert not [p for p in run.rglob("*") if ".incomplete" in p.name], "a temporary file was left behind"
    return restored


def test_a_killed_process_resumes_with_every_epoch_once(tmp_path):
    """A real process, SIGKILLed while it trains, then the same command with --resume."""
    run = tmp_path / "run"
    _kill_once_training(_worker(run), run, rows=4)
    assert _finish_and_check(run) >= 3  # the 4th row may be in history.csv before its state is committed


@pytest.mark.slow
def test_repeated_kills_at_random_moments_never_leave_a_run_that_cannot_resume(tmp_path):
    """Kills at random moments (some land while a checkpoint, the backup or history.csv is written)."""
    rng, run = np.random.default_rng(7), tmp_path / "run"
    _kill_once_training(_worker(run), run, rows=1, delay=rng.uniform(0, 0.5))
    for _ in range(5):  # each resume is killed again, a random time after its first new epoch
        rows = (run / "history.csv").read_text().count("\n") if (run / "history.csv").exists() else 0
        _kill_once_training(_worker(run, "--resume"), run, rows=min(rows + 1, 28), delay=rng.uniform(0, 0.3))
    _finish_and_check(run)


def test_a_truncated_newest_backup_resumes_from_the_previous_one_and_cuts_history(tmp_path, capsys):
    run = _interrupted(tmp_path, 6, after=4)
    _truncate(run / "backup" / "latest.weights.h5")
    result = _train(tmp_path, 6, resume=True)
    said = capsys.readouterr().err
    assert "previous state" in said and "latest.weights.h5 does not match" in said and "3 of 6 epochs done" in said
    assert "dropped the rows of epochs [3]" in said
    assert result.epochs_this_run == 3 and _epochs(result) == [0, 1, 2, 3, 4, 5]  # not 0,1,2,3,3,4,5


@pytest.mark.parametrize("after, metadata, said", [
    (3, "", "training_metadata.json is not valid"),  # empty: falls back to the previous state, epoch 2
    (2, '{"epoch": 2, "batch": 0}', "2 of 4 epochs done"),  # Keras' own format (a run from before this module)
])
def test_empty_or_keras_format_metadata_resumes_from_epoch_2(tmp_path, capsys, after, metadata, said):
    run = _interrupted(tmp_path, 4, after=after)
    (run / "backup" / "training_metadata.json").write_text(metadata)
    result = _train(tmp_path, 4, resume=True)
    assert said in capsys.readouterr().err
    assert result.epochs_this_run == 2 and _epochs(result) == [0, 1, 2, 3]


def test_both_damaged_copies_give_a_clear_error_and_change_nothing(tmp_path):
    run = _interrupted(tmp_path, 4, after=3)
    _truncate(run / "backup" / "latest.weights.h5")
    _truncate(run / "backup" / "latest.weights.h5.bkp")
    before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    with pytest.raises(ValueError, match=r"no intact training state.*latest\.weights\.h5 does not match.*"
                                         r"latest\.weights\.h5\.bkp does not match.*without --resume"):
        _train(tmp_path, 4, resume=True)
    after = {path: path.read_bytes() for path in run.rglob("*") if path.is_file() and path.name != "config.json"}
    assert after == {path: data for path, data in before.items() if path.name != "config.json"}


class _DamageBest(keras.callbacks.Callback):
    """What a kill in the middle of writing best.weights.h5 would leave, had it not been written atomically."""

    def __init__(self, best):
        super().__init__()
        self.best, self.digest = best, None

    def on_train_end(self, logs=None):
        self.digest = digest(self.best)
        _truncate(self.best)


def test_a_damaged_best_checkpoint_keeps_the_backup_and_resume_repairs_it(tmp_path):
    best = tmp_path / "run" / "checkpoints" / "best.weights.h5"
    damage = _DamageBest(best)
    with pytest.raises(ValueError, match=r"best\.weights\.h5 is damaged.*--resume"):
        _train(tmp_path, 3, callbacks=[damage])
    assert (tmp_path / "run" / "backup").exists(), "the resume state must outlive a damaged best checkpoint"
    result = _train(tmp_path, 3, resume=True)
    assert result.epochs_this_run == 0 and _epochs(result) == [0, 1, 2]
    assert digest(best) == damage.digest and not (tmp_path / "run" / "backup").exists()


def test_each_run_logs_to_its_own_tensorboard_folder_and_a_resume_continues_it(tmp_path):
    run = _interrupted(tmp_path, 3, after=1)
    run_id = json.loads((run / "backup" / "training_metadata.json").read_text())["run_id"]
    _train(tmp_path, 3, resume=True)
    assert [p.name for p in (run / "logs").iterdir()] == [run_id]
    assert len(list((run / "logs" / run_id / "train").glob("events.out.tfevents.*"))) == 2  # both processes
    _train(tmp_path, 1)  # a fresh run
    assert len(list((run / "logs").iterdir())) == 2


def test_cut_history_keeps_one_whole_row_per_restored_epoch(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,0.5\n1,0.4\n1,0.4\n2,0.3\n3,0.")  # a resumed epoch, then a row cut short
    assert cut_history(path, 3) == (3, [3])
    assert path.read_text() == "epoch,loss\n0,0.5\n1,0.4\n2,0.3\n"
