"""Benchmark the IMDb sentiment app on the real data: accuracy, training time, speed, serving latency.

Usage:
    python benchmarks/imdb_sentiment.py --data-dir ../shared/data/imdb [--seeds 1337 1 2] [any train.py flag ...]

Trains with the app's default config (plus any flags given) once per seed, evaluates each on the full
25,000-review test split (`test_accuracy` is the mean over the seeds, `test_accuracy_seeds` each one, with
min and max), then times the first seed's exported signature at batch 1 and batch 64 in a TensorFlow-only
process. Writes
benchmarks/results/imdb_sentiment.json and apps/imdb_sentiment/images/training_curves.png, and prints the
README table row.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import numpy as np

from apps.imdb_sentiment import data, train
from apps.imdb_sentiment.config import Config
from apps.imdb_sentiment.model import accuracy_key
from benchmarks.common import write_result
from shared.runtime.config import parse_config
from shared.runtime.plots import plot_history
from shared.runtime.serving import check_saved_model

CURVES = pathlib.Path(__file__).resolve().parents[1] / "apps" / "imdb_sentiment" / "images" / "training_curves.png"


def serving_latency(export_path: str, texts: list[str], repeat: int = 30) -> dict:
    """Median and p90 latency (ms) of the exported signature at batch 1 and batch 64, bare TensorFlow."""
    requests = [{"instances": texts[:1]}, {"instances": texts[:64]}]
    report = check_saved_model(export_path, requests, repeat=repeat)
    latency = {}
    for batch, result in zip((1, 64), report["results"]):
        stats = result["latency_ms"]
        latency[f"batch_{batch}"] = {"p50_ms": stats["p50"], "p90_ms": stats["p90"],
                                     "reviews_per_second": batch * 1000 / stats["p50"]}
    return latency


def main(argv=None):
    given = list(sys.argv[1:] if argv is None else argv)
    seeds_flag = argparse.ArgumentParser(add_help=False)
    seeds_flag.add_argument("--seeds", type=int, nargs="+", default=[1337, 1, 2],
                            help="one training run per seed; the figure is their mean (min and max beside it)")
    args, argv = seeds_flag.parse_known_args(given)
    run_root = pathlib.Path("runs/benchmarks/imdb_sentiment")
    runs = []
    for seed in args.seeds:
        started = time.perf_counter()
        # The first seed keeps the folders other scripts read (load_test.py serves runs/.../saved_models).
        suffix = "" if seed == args.seeds[0] else f"-seed-{seed}"
        metrics = train.main(argv + ["--seed", str(seed), "--output-dir", str(run_root / f"run{suffix}"),
                                     "--export-dir", str(run_root / f"saved_models{suffix}")])
        runs.append((metrics, time.perf_counter() - started))
    metrics, total_seconds = runs[0]

    config = parse_config(Config, argv)
    test = data.load_sample(config.seed)["test"] if config.sample else data.load_real(config.data_dir)["test"]
    # Real reviews of typical length for the latency figures (a seeded pick from the test split).
    picks = [test.texts[i] for i in np.random.default_rng(0).permutation(len(test.texts))[:64]]
    accuracies = [run["test_accuracy"] for run, _ in runs]
    result = {
        "test_accuracy": statistics.fmean(accuracies),
        "test_accuracy_seeds": accuracies,
        "test_accuracy_min": min(accuracies),
        "test_accuracy_max": max(accuracies),
        # With --readout both, each read-out alone in the same runs (the model answers with their average).
        **{f"test_accuracy_{name}": statistics.fmean(run[f"test_accuracy_{name}"] for run, _ in runs)
           for name in ("recurrent", "bag") if f"test_accuracy_{name}" in metrics},
        **{f"test_accuracy_{name}_seeds": [run[f"test_accuracy_{name}"] for run, _ in runs]
           for name in ("recurrent", "bag") if f"test_accuracy_{name}" in metrics},
        "seeds": args.seeds,
        "test_examples": metrics["test_examples"],
        "best_val_accuracy": metrics["best_val_accuracy"],
        # With two read-outs, each is kept at its own best validation epoch (1-based), per seed, and the
        # kept pair's validation accuracy.
        **({"kept_epochs_seeds": [run["kept_epochs"] for run, _ in runs],
            "kept_val_accuracy_seeds": [run["kept_val_accuracy"] for run, _ in runs]}
           if "kept_epochs" in metrics else {}),
        "train_seconds": metrics["train_seconds"],
        "train_seconds_seeds": [run["train_seconds"] for run, _ in runs],
        "total_seconds": total_seconds,
        "examples_per_second": metrics["examples_per_second"],
        "epochs_completed": metrics["epochs_completed"],
        "serving_latency": serving_latency(metrics["export_path"], picks),
        "history": metrics["history"],
    }
    write_result("imdb_sentiment", result, run_root / "run", given)
    plot_history(metrics["history"], ["loss", accuracy_key(config)], CURVES,
                 title=f"IMDb, {config.cell.upper()} x{config.units}, readout {config.readout}, seed {args.seeds[0]}: "
                       f"test accuracy {accuracies[0]:.4f}")
    latency = result["serving_latency"]
    print("| test accuracy (mean, min-max) | train time | examples/s | serving p50, batch 1 | serving p50, batch 64 |")
    print(f"| {result['test_accuracy']:.4f} ({min(accuracies):.4f}-{max(accuracies):.4f}) | {result['train_seconds'] / 60:.1f} min "
          f"| {result['examples_per_second']:.0f} | {latency['batch_1']['p50_ms']:.1f} ms "
          f"| {latency['batch_64']['p50_ms']:.0f} ms |")
    return result


if __name__ == "__main__":
    main()
