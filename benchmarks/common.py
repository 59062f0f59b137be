"""What every benchmark script records beside its figures: the config, the machine, the command."""

from __future__ import annotations

import json
import os
import pathlib
import platform
import subprocess

import tensorflow as tf

from shared.runtime.config import load_config

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """The machine a figure was measured on: CPU model, cores, platform, TensorFlow and the load at the time.

    Every timing depends on them (a translator epoch took 240 s on one Xeon and 490 s on an EPYC), so every
    benchmark and lesson JSON records this one dict.
    """
    try:
        model = next(line.split(":", 1)[1].strip() for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines()
            if line.startswith("Model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown"
    load, cores = list(os.getloadavg()), os.cpu_count() or 1
    busy = load[1] > cores  # more runnable work than cores over 5 minutes: other jobs took CPU from this one
    return {"cpu": model, "cores": cores, "platform": platform.platform(), "tensorflow": tf.__version__,
            "load_average_1_5_15": load,
            "note": (f"{cores} CPU cores shared with other jobs (5-minute load {load[1]:.1f}): wall-clock timings "
                     "are pessimistic" if busy else "machine not overloaded during the run")}


def write_result(app: str, result: dict, run_dir: pathlib.Path, command_args: list[str],
                 name: str | None = None) -> pathlib.Path:
    """Add the run's config.json, the machine and the regenerating command; write results/<name or app>.json."""
    result = {"app": app, **result,
              "config": load_config(run_dir),
              "machine": machine(),
              "command": " ".join([f"python benchmarks/{app}.py", *command_args])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name or app}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
