"""What every benchmark script records beside its figures: the config, the machine, the command."""

from __future__ import annotations

import json
import os
import pathlib
import platform

import tensorflow as tf

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def write_result(app: str, result: dict, run_dir: pathlib.Path, command_args: list[str],
                 name: str | None = None) -> pathlib.Path:
    """Add the run's config.json, the machine and the regenerating command; write results/<name or app>.json."""
    result = {"app": app, **result,
              "config": json.loads((pathlib.Path(run_dir) / "config.json").read_text()),
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__},
              "command": " ".join([f"python benchmarks/{app}.py", *command_args])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name or app}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
