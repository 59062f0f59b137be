"""Training steps/second at 1 and 2 CPU workers (MultiWorkerMirroredStrategy on 127.0.0.1), honestly.

Usage:
    python benchmarks/scale_out.py                     # none, then 1 and 2 workers: about 3-5 minutes
    python benchmarks/scale_out.py --epochs 2 --quick  # a smoke run of the script (figures mean nothing)

Each configuration trains imdb_sentiment on its offline sample (`--sample`, the app's default model) in fresh
processes: `--distribute none` (one process, no strategy), then `--distribute multi-worker` with 1 and 2
worker processes on this host, each with `--batch-size` per replica (weak scaling: 2 workers step twice the
examples per step). Timing skips the first epoch (tracing, the cluster's start) and validation: it is the
time from each later epoch's start to its last training step. Writes benchmarks/results/scale_out.json.

On this 2-core machine the workers share the same two cores, so a second worker cannot add compute, only
gradient all-reduce traffic over loopback: the figure shows the strategy's overhead, not a cluster's speed-up.
See serving/scale_out.md for what to expect on real clusters (not measured here).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

from benchmarks.common import machine

REPO = pathlib.Path(__file__).resolve().parents[1]
RESULT = REPO / "benchmarks" / "results" / "scale_out.json"


# ------------------------------------------------------------------------------- inside one worker
def _worker(args) -> None:
    """Train once and write this process's step timings to `args.timings` (JSON)."""
    import keras
    import tensorflow as tf

    from apps.imdb_sentiment import train

    class StepClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []  # per epoch: [start, time of each finished training step...]

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append([time.perf_counter()])

        def on_train_batch_end(self, batch, logs=None):
            self.epochs[-1].append(time.perf_counter())

    clock = StepClock()
    metrics = train.main(args.train_argv, extra_callbacks=[clock])
    timed = clock.epochs[1:]  # the first epoch pays for tracing and for forming the cluster
    steps = sum(len(epoch) - 1 for epoch in timed)
    seconds = sum(epoch[-1] - epoch[0] for epoch in timed)
    pathlib.Path(args.timings).write_text(json.dumps({
        "steps": steps, "seconds": seconds, "steps_per_second": steps / seconds if seconds else None,
        "test_accuracy": metrics["test_accuracy"], "tensorflow": tf.__version__}))


# ------------------------------------------------------------------------------------ the benchmark
def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def run_configuration(distribute: str, workers: int, train_flags: list[str], folder: pathlib.Path,
                      timeout: float) -> dict:
    """Start `workers` processes for one configuration, wait for all, return the chief's timings."""
    ports = _free_ports(workers)
    processes, logs = [], []
    try:
        for index in range(workers):
            env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
            env.pop("TF_CONFIG", None)
            if distribute == "multi-worker":
                env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                               "task": {"type": "worker", "index": index}})
            run = folder / f"{distribute}-{workers}"
            argv = [*train_flags, "--distribute", distribute, "--output-dir", str(run / "run"),
                    "--export-dir", str(run / "export"), "--no-check-export"]
            log = open(folder / f"{distribute}-{workers}-worker{index}.log", "w")
            logs.append(log)
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "benchmarks.scale_out", "--worker", "--timings",
                 str(folder / f"{distribute}-{workers}-worker{index}.json"), "--", *argv],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + timeout
        for index, process in enumerate(processes):
            if process.wait(timeout=max(1.0, deadline - time.monotonic())) != 0:
                raise RuntimeError(f"{distribute} x{workers}: worker {index} failed; see "
                                   f"{logs[index].name}:\n" + pathlib.Path(logs[index].name).read_text()[-3000:])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
    timings = [json.loads((folder / f"{distribute}-{workers}-worker{i}.json").read_text())
               for i in range(workers)]
    chief = timings[0]
    return {"distribute": distribute, "workers": workers, "steps_timed": chief["steps"],
            "seconds_timed": chief["seconds"], "steps_per_second": chief["steps_per_second"],
            "test_accuracy": chief["test_accuracy"], "tensorflow": chief["tensorflow"],
            "per_worker_steps_per_second": [t["steps_per_second"] for t in timings]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="Epochs per run; the first is not timed.")
    parser.add_argument("--batch-size", type=int, default=64, help="Examples per replica per step.")
    parser.add_argument("--quick", action="store_true", help="The app's --quick model and data: a smoke run.")
    parser.add_argument("--timeout", type=float, default=600, help="Seconds one configuration may take.")
    parser.add_argument("--output", default=str(RESULT), help="Where the JSON result goes.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--timings", help=argparse.SUPPRESS)
    raw = sys.argv[1:] if argv is None else list(argv)  # a worker's train.py flags follow "--"
    own, train_argv = (raw[:raw.index("--")], raw[raw.index("--") + 1:]) if "--" in raw else (raw, [])
    args = parser.parse_args(own)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is not timed.")
    if args.worker:
        args.train_argv = train_argv
        _worker(args)
        return {}

    train_flags = ["--sample", "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    if args.quick:
        train_flags.append("--quick")
    runs = []
    with tempfile.TemporaryDirectory(prefix="scale_out-") as folder:
        for distribute, workers in (("none", 1), ("multi-worker", 1), ("multi-worker", 2)):
            started = time.perf_counter()
            runs.append(run_configuration(distribute, workers, train_flags, pathlib.Path(folder), args.timeout))
            runs[-1]["wall_seconds"] = time.perf_counter() - started
            print(f"{distribute} x{workers}: {runs[-1]['steps_per_second']:.2f} steps/s "
                  f"({runs[-1]['steps_per_second'] * args.batch_size * workers:.0f} examples/s)", flush=True)
    for run in runs:
        run["examples_per_second"] = run["steps_per_second"] * args.batch_size * run["workers"]
    base = runs[1]["examples_per_second"]
    result = {
        "what": "imdb_sentiment --sample training, steps/second after the first epoch, per-replica batch "
                f"{args.batch_size}; multi-worker = MultiWorkerMirroredStrategy over 127.0.0.1",
        "runs": runs,
        "examples_per_second_2_vs_1_worker": runs[2]["examples_per_second"] / base,
        "quick": args.quick,
        "note": "All workers share this machine's CPU cores: 2 workers cannot add compute here.",
        "machine": {**machine(), "tensorflow": runs[0]["tensorflow"]},
        "command": " ".join(["python benchmarks/scale_out.py", *own]),
    }
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"2 workers vs 1: {result['examples_per_second_2_vs_1_worker']:.2f}x examples/s; wrote {output}")
    return result


if __name__ == "__main__":
    main()
