"""Benchmark the video tagger on generated videos: RNN vs. causal RNN vs. per-frame baseline, and speed.

Usage:
    python benchmarks/video_tagger.py                 # --sample data, three trainings (~30 min, 2 CPU cores)
    python benchmarks/video_tagger.py --quick         # smoke test: the figures mean nothing
    python benchmarks/video_tagger.py --epochs 10     # any train.py flag is passed to all three runs

Trains the same config three times with `--temporal bidirectional`, `causal` and `none` (the per-frame
baseline: same small CNN, no recurrence), scores each on the same held-out generated videos (frame
accuracy, per-class F1, edit score, F1@50), then times the bidirectional export end to end (uint8 frames
in, tags out) in a TensorFlow-only process. Writes benchmarks/results/video_tagger.json and prints the
README table row.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
import time

from apps.video_tagger import data, train
from apps.video_tagger.config import Config
from benchmarks.common import write_result
from shared.runtime.config import parse_config
from shared.runtime.serving import BARE_TF_SCRIPT

CURVES = pathlib.Path(__file__).resolve().parents[1] / "apps" / "video_tagger" / "images" / "validation_accuracy.png"
KEYS = ("frame_accuracy", "segment_f1", "edit_score", "per_class_f1", "train_seconds", "epochs_completed")


def frames_per_second(export_path: str, frames, repeat: int = 20) -> dict:
    """Median latency of one whole-video request through the export, in a bare-TF process (request file:
    a video is too long for a command line)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump([{"inputs": {"frames": frames.tolist()}}], file)
    completed = subprocess.run([sys.executable, "-I", str(BARE_TF_SCRIPT), export_path, "--request-file",
                                file.name, "--repeat", str(repeat)], capture_output=True, text=True, check=True)
    pathlib.Path(file.name).unlink()
    result = json.loads(completed.stdout.strip().splitlines()[-1])["results"][0]
    assert result["status"] == 200, result
    p50 = result["latency_ms"]["p50"]
    return {"frames": len(frames), "p50_ms": p50, "frames_per_second": len(frames) * 1000 / p50}


def plot_validation_accuracy(histories: dict, path: pathlib.Path = CURVES) -> pathlib.Path:
    """One line per --temporal mode: validation frame accuracy per epoch (the lesson in one picture)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.4))
    for name, history in histories.items():
        axis.plot([int(row["epoch"]) + 1 for row in history], [row["val_accuracy"] for row in history], "o-",
                  label=name if name != "none" else "none (per-frame baseline)")
    axis.axhline(0.25, color="grey", linestyle=":", label="chance (4 directions)")
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation frame accuracy")
    axis.set_ylim(0, 1.02)
    axis.grid(alpha=0.3)
    axis.legend(loc="center right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def main(argv=None):
    given = list(sys.argv[1:] if argv is None else argv)
    if "--data-dir" not in given and "--sample" not in given:
        given = ["--sample", *given]
    root = pathlib.Path("runs/benchmarks/video_tagger")
    runs, started = {}, time.perf_counter()
    for temporal in ("bidirectional", "causal", "none"):
        argv = given + ["--temporal", temporal, "--output-dir", str(root / temporal),
                        "--export-dir", str(root / "saved_models" / temporal)]
        runs[temporal] = train.main(argv)
    config = parse_config(Config, given)
    video = data.load_sample(config)["test"].inputs[0] if config.sample else None
    best = runs["bidirectional"]
    result = {
        **{key: best[key] for key in KEYS},
        "baseline_frame_accuracy": runs["none"]["frame_accuracy"],
        "baseline_segment_f1": runs["none"]["segment_f1"],
        "causal_frame_accuracy": runs["causal"]["frame_accuracy"],
        "causal_segment_f1": runs["causal"]["segment_f1"],
        "causal_edit_score": runs["causal"]["edit_score"],
        "train_seconds_all_three": sum(run["train_seconds"] for run in runs.values()),
        "total_seconds": time.perf_counter() - started,
        "test_videos": best["test_videos"], "test_frames": best["test_frames"],
        "serving": frames_per_second(best["export_path"], video) if video is not None else None,
        "history": {name: run["history"] for name, run in runs.items()},
    }
    result["frames_per_second"] = result["serving"]["frames_per_second"] if result["serving"] else None
    write_result("video_tagger", result, root / "bidirectional", given)
    plot_validation_accuracy(result["history"])
    print("| frame accuracy (bi / causal / per-frame) | F1@50 | edit | train time | frames/s served |")
    print(f"| {result['frame_accuracy']:.3f} / {result['causal_frame_accuracy']:.3f} / "
          f"{result['baseline_frame_accuracy']:.3f} | {result['segment_f1']:.3f} | {result['edit_score']:.1f} "
          f"| {result['train_seconds'] / 60:.1f} min | {result['frames_per_second'] or 0:.0f} |")
    return result


if __name__ == "__main__":
    main()
