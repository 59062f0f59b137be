"""The suite's main job: train every app on its offline data, export, check each SavedModel, show answers.

Usage:
    python apps/run_all.py            # every app, offline data (--sample), two at a time
    python apps/run_all.py --quick    # a few steps each: a smoke test
    python apps/run_all.py --apps imdb_sentiment --jobs 1

Each app's train.py runs as its own process, exactly as its README says (`python apps/<app>/train.py
--sample`), with its output in runs/run_all/<app>.log; each export is then called in a separate process that
can import only TensorFlow (shared/runtime/bare_tf.py), with TF Serving's REST JSON, and the answers are printed
beside what each input shows. The requests are each app's own `serve.example_requests()`: the same ones
its tests send. Two trainings at a time keep both cores busy: one small model's training alone uses about
1.3 of them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import json
import os
import pathlib
import subprocess
import sys
import threading
import time

from shared.runtime.run import RunFolder
from shared.runtime.serving import check_saved_model

APPS_DIR = pathlib.Path(__file__).resolve().parent
# Measured on 2 idle cores (--sample, one app at a time): captioner 4:15, video_tagger 2:37, translator 1:29,
# char_lm 1:24, imdb_sentiment 0:36.
LONGEST_FIRST = ["captioner", "video_tagger", "translator", "char_lm", "imdb_sentiment"]
APPS = ("imdb_sentiment", "char_lm", "translator", "captioner", "video_tagger")


def example_request(app: str):
    """The app's own demo request (the first of its serve.example_requests()) and what each input shows."""
    example = importlib.import_module(f"apps.{app}.serve").example_requests()[0]
    return example.body, example.shows


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def _answers(response) -> list:
    """One printable answer per input of a REST response."""
    answers = response["predictions"] if "predictions" in response else response["outputs"]
    if isinstance(answers, dict):  # one example with several named outputs (the video tagger)
        answers = [" ".join(answers["tags"]) if "tags" in answers else answers]
    # Generated text keeps its line breaks visible on one table row.
    return [answer.replace("\n", "\u23ce") if isinstance(answer, str) else json.dumps(answer) for answer in answers]


def print_table(rows, total_seconds: float) -> None:
    """The final table: app, what each input shows, and the served answer, one line per input."""
    print(f"\n=== Sample predictions, served by a TensorFlow-only process (all apps: {_clock(total_seconds)}) ===\n")
    print(f"{'app':15} {'time':>5}  {'input (and the true answer, where the offline data knows it)':80}  answer")
    print(f"{'-' * 15} {'-' * 5}  {'-' * 80}  {'-' * 40}")
    for app, _, seconds, labels, response in rows:
        for index, (label, answer) in enumerate(zip(labels, _answers(response))):
            name, clock = (app, _clock(seconds)) if index == 0 else ("", "")
            label = label if len(label) <= 80 else label[:77] + "..."
            print(f"{name:15} {clock:>5}  {label:80}  {answer[:100]}")
    print("\nExports: " + ", ".join(path for _, path, *_ in rows))


def train_and_check(app: str, args, say) -> tuple:
    """Train one app in its own process (its README's command), check its export, and return its table row."""
    started = time.perf_counter()
    log = pathlib.Path("runs") / "run_all" / f"{app}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    say(app, f"training on offline data, then exporting (output: {log})")
    command = [sys.executable, str(APPS_DIR / app / "train.py"), "--sample", "--export-dir", args.export_dir,
               "--output-dir", str(pathlib.Path("runs") / app)] + (["--quick"] if args.quick else [])
    with open(log, "w", encoding="utf-8") as output:
        completed = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if completed.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{app}: train.py failed (exit {completed.returncode}); the end of {log}:\n{tail}")
    metrics = json.loads(RunFolder(pathlib.Path("runs") / app).metrics.read_text())
    say(app, f"checking {metrics['export_path']} in a TensorFlow-only process")
    request, labels = example_request(app)
    result = check_saved_model(metrics["export_path"], [request])["results"][0]
    if result["status"] != 200:
        raise RuntimeError(f"{app}: the export refused its sample request: {result['response']}")
    seconds = time.perf_counter() - started
    say(app, f"done in {_clock(seconds)}")
    return app, metrics["export_path"], seconds, labels, result["response"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per app (smoke test)")
    parser.add_argument("--apps", nargs="+", default=list(APPS), choices=list(APPS), help="which apps")
    parser.add_argument("--export-dir", default="saved_models", help="export root")
    parser.add_argument("--jobs", type=int, default=2,
                        help="apps trained at once: 2 fills two cores (a small model alone uses about 1.3)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")

    begun, lock = time.perf_counter(), threading.Lock()
    numbers = {app: number for number, app in enumerate(args.apps, start=1)}

    def say(app, step):
        with lock:
            print(f"\n[{numbers[app]}/{len(args.apps)} {app} | {_clock(time.perf_counter() - begun)} elapsed] {step}",
                  flush=True)

    # The longest trainings start first, so the last one to finish is a short one.
    order = sorted(args.apps, key=LONGEST_FIRST.index)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {app: pool.submit(train_and_check, app, args, say) for app in order}
        rows = [futures[app].result() for app in args.apps]  # the table keeps the usual order

    print_table(rows, time.perf_counter() - begun)
    return rows


if __name__ == "__main__":
    main()
