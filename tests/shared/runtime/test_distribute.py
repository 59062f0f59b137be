"""`--distribute`: TF_CONFIG roles, a mirrored run in-process, and real two-worker clusters on 127.0.0.1.

The cluster tests start worker processes (tests/shared/runtime/distributed_worker.py) that train imdb_sentiment
with MultiWorkerMirroredStrategy on CPU. Every process runs in its own session and is killed, with its
children, when the test ends however it ends; every wait has a timeout.
"""

import contextlib
import csv
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from apps.imdb_sentiment import train
from apps.imdb_sentiment.config import Config
from shared.runtime import distribute
from shared.runtime.config import parse_config
from tests.conftest import REPO
from tests.conftest import quick_argv as _argv

WORKER_TIMEOUT = 240  # seconds a worker may take (a quick run takes ~30-40 s on 2 busy cores)


# ------------------------------------------------------------------------------------- roles (cheap)
def _tf_config(index, workers=2, task_type="worker"):
    cluster = {"worker": [f"127.0.0.1:{2000 + i}" for i in range(workers)]}
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_worker_roles_follow_tensorflows_chief_rule():
    assert distribute.worker_role({}) == distribute.WorkerRole("none", 0, True, 1)
    assert distribute.worker_role({"TF_CONFIG": _tf_config(0)}).is_chief
    assert not distribute.worker_role({"TF_CONFIG": _tf_config(1)}).is_chief
    with_chief = json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1"]},
                             "task": {"type": "worker", "index": 0}})
    role = distribute.worker_role({"TF_CONFIG": with_chief})
    assert (role.is_chief, role.workers) == (False, 2)  # a named chief outranks worker 0


def test_bad_tf_config_and_flag_give_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="not valid JSON"):
        distribute.read_tf_config({"TF_CONFIG": "{cluster"})
    with pytest.raises(ValueError, match="not in its cluster"):
        distribute.read_tf_config({"TF_CONFIG": _tf_config(5)})
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the TF_CONFIG"):
        parse_config(Config, ["--distribute", "multi-worker"])
    with pytest.raises(SystemExit):  # argparse rejects an unknown strategy
        parse_config(Config, ["--distribute", "horovod"])


def test_only_the_chief_writes_the_real_folders(tmp_path, monkeypatch):
    argv = ["--distribute", "multi-worker", "--output-dir", str(tmp_path / "run"),
            "--export-dir", str(tmp_path / "export")]
    monkeypatch.setenv("TF_CONFIG", _tf_config(0))
    chief = parse_config(Config, argv)
    assert chief.run_dir == tmp_path / "run" and chief.export_dir == str(tmp_path / "export")
    monkeypatch.setenv("TF_CONFIG", _tf_config(1))
    worker = parse_config(Config, argv)
    assert worker.run_dir == tmp_path / "run" / ".worker-1"
    assert worker.export_dir == str(tmp_path / "run" / ".worker-1" / "export") and not worker.check_export
    assert distribute.is_scratch(worker) and not distribute.is_scratch(chief)
    monkeypatch.delenv("TF_CONFIG")
    assert parse_config(Config, argv[2:]).run_dir == tmp_path / "run"  # --distribute none: unchanged


def test_mirrored_run_trains_and_exports_in_process(tmp_path):
    """MirroredStrategy over this host's devices (one CPU here): the same run, through the strategy."""
    metrics = train.main(_argv(tmp_path, "--sample", "--distribute", "mirrored", "--no-check-export"))
    assert metrics["export_path"].endswith("imdb_sentiment/1")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["distribute"] == "mirrored"
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert distribute.replicas() == distribute.make_strategy("mirrored").num_replicas_in_sync


# ------------------------------------------------------------------------------ two-worker clusters
def _free_ports(count):
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


class _Cluster:
    """Worker processes of one cluster; `close` kills whatever is still running (and its children)."""

    def __init__(self, tmp_path, train_argv, pause=None):
        self.tmp_path, self.processes, self.logs = tmp_path, [], []
        ports, run = _free_ports(2), len(list(tmp_path.glob("worker-0-*.log")))  # run: 0, then 1 on restart
        cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
        for index in range(2):
            env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            hooks = ["--weights-out", str(tmp_path / f"weights-{index}.npz")]
            if pause and pause[0] == index:
                hooks += ["--pause-at-epoch", str(pause[1]), "--pause-marker", str(tmp_path / "paused")]
            log = open(tmp_path / f"worker-{index}-{run}.log", "w")
            self.logs.append(log)
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "tests.shared.runtime.distributed_worker", "imdb_sentiment", *hooks, "--",
                 *train_argv], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))  # its own process group: killed with its children

    def kill(self, index):
        process = self.processes[index]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def wait(self, timeout=WORKER_TIMEOUT):
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.wait(timeout=max(1, deadline - time.monotonic()))
        return [process.returncode for process in self.processes]

    def output(self, index):
        self.logs[index].flush()
        return pathlib.Path(self.logs[index].name).read_text()

    def close(self):
        for index in range(len(self.processes)):
            with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
                self.kill(index)
        for log in self.logs:
            log.close()


@contextlib.contextmanager
def _cluster(tmp_path, train_argv, pause=None):
    cluster = _Cluster(tmp_path, train_argv, pause)
    try:
        yield cluster
    finally:
        cluster.close()


def _cluster_argv(tmp_path, *extra):
    return _argv(tmp_path, "--sample", "--distribute", "multi-worker", "--no-check-export", *extra)


def _assert_same_weights(tmp_path):
    chief, worker = (np.load(tmp_path / f"weights-{index}.npz") for index in (0, 1))
    assert len(chief.files) == len(worker.files) > 0
    for name in chief.files:
        np.testing.assert_array_equal(chief[name], worker[name], err_msg=f"weight {name} differs")


def _versions(tmp_path):
    root = tmp_path / "export" / "imdb_sentiment"
    return sorted(path.name for path in root.iterdir()) if root.exists() else []


def _assert_done(cluster, tmp_path):
    codes = cluster.wait()
    assert codes == [0, 0], "\n\n".join(cluster.output(index)[-3000:] for index in (0, 1))
    _assert_same_weights(tmp_path)
    assert _versions(tmp_path) == ["1"], "exactly one export, by the chief, none half-written"
    assert not (tmp_path / "run" / ".worker-1").exists(), "the worker's scratch folder is removed"
    assert (tmp_path / "run" / "metrics.json").exists()


def test_two_workers_train_in_sync_and_only_the_chief_exports(tmp_path):
    with _cluster(tmp_path, _cluster_argv(tmp_path)) as cluster:
        _assert_done(cluster, tmp_path)
        for index in (0, 1):
            assert "2 replicas in sync" in cluster.output(index)
        assert "(chief)" in cluster.output(0) and "writing only to" in cluster.output(1)


def test_a_time_budget_stops_every_worker_at_the_same_step(tmp_path):
    """Worker 0 has no time left, worker 1 has hours: both stop after step 1 instead of worker 1 hanging."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    processes, logs = [], []
    try:
        for index, minutes in enumerate(("0", "600")):
            env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            logs.append(open(tmp_path / f"budget-{index}.log", "w"))
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "tests.shared.runtime.budget_worker", minutes, str(tmp_path / f"steps-{index}")],
                cwd=REPO, env=env, stdout=logs[-1], stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + WORKER_TIMEOUT
        codes = [process.wait(timeout=max(1, deadline - time.monotonic())) for process in processes]
        outputs = [pathlib.Path(log.name).read_text()[-3000:] for log in logs]
        assert codes == [0, 0], "\n\n".join(outputs)
        assert [(tmp_path / f"steps-{index}").read_text() for index in (0, 1)] == ["1", "1"], outputs
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for log in logs:
            log.close()


def _epochs_logged(run_dir):
    with (run_dir / "history.csv").open() as rows:
        return [int(row["epoch"]) for row in csv.DictReader(rows)]


def _epochs_started(output):
    """The epochs a process began, from Keras' "Epoch 2/3" lines (1-based)."""
    return [int(line.split()[1].split("/")[0]) for line in output.splitlines() if line.startswith("Epoch ")]


@pytest.mark.slow
def test_a_killed_worker_resumes_from_the_last_backup(tmp_path):
    """Kill worker 1 as epoch 2 (index 1) begins, after epoch 1's backup; restart both; nothing is lost."""
    argv = _cluster_argv(tmp_path, "--epochs", "3")
    with _cluster(tmp_path, argv, pause=(1, 1)) as cluster:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while not (tmp_path / "paused").exists():
            assert time.monotonic() < deadline and cluster.processes[1].poll() is None, cluster.output(1)
            time.sleep(0.5)
        cluster.kill(1)
        # The chief is blocked in epoch 2's first gradient all-reduce; it sees its peer vanish.
        deadline = time.monotonic() + 120
        while "Collective ops is aborted" not in cluster.output(0) and cluster.processes[0].poll() is None:
            assert time.monotonic() < deadline, "the chief never noticed the lost worker"
            time.sleep(0.5)
        first_run = cluster.output(0)
        assert _epochs_started(first_run) == [1, 2] and "exported" not in first_run
    for backup in (tmp_path / "run" / "backup", tmp_path / "run" / ".worker-1" / "backup"):
        assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1, backup
    assert _epochs_logged(tmp_path / "run") == [0]

    # MultiWorkerMirroredStrategy cannot take a worker back into a running cluster: restart every worker.
    with _cluster(tmp_path, argv + ["--resume"]) as cluster:
        _assert_done(cluster, tmp_path)
        for index in (0, 1):
            assert _epochs_started(cluster.output(index)) == [2, 3], "resumed after the last finished epoch"
    assert _epochs_logged(tmp_path / "run") == [0, 1, 2], "an epoch was lost or repeated"
    assert not (tmp_path / "run" / "backup").exists(), "a finished run keeps no backup"
