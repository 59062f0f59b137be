"""Benchmark the character LM: validation loss on real text, training time, and generation speed.

Usage (the README's figures; hold the CPU lock on a shared machine):
    python benchmarks/char_lm.py --data-dir ../shared/data/tinyshakespeare --max-train-minutes 45
    python benchmarks/char_lm.py --sample --quick        # a smoke test of this script

Trains with the app's default config (plus any train.py flags given), then, in this one process, times
generation of the exported `serving_default` signature (the whole loop inside the graph) against a
per-character Python loop over the same weights (`python_loop_generate` below), at batch 1 and 16.
Writes benchmarks/results/char_lm.json and prints the README table rows.
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

import numpy as np
import tensorflow as tf

from apps.char_lm import train
from apps.char_lm.model import load_trained
from apps.char_lm.serve import MAX_PROMPT_CHARS, START_CHAR, CharStepper
from benchmarks.common import machine
from shared.modeling.decoding import GREEDY_BELOW
from shared.runtime.config import load_config

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
PROMPT = "ROMEO:\n"


def time_call(function, repeat: int) -> float:
    """Median seconds of `function()` over `repeat` calls, after one warm-up call."""
    function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def python_loop_generate(stepper: CharStepper, prompt: str, num_chars: int, temperature: float,
                         seed: int = 0, batch: int = 1) -> list[str]:
    """The baseline the in-graph loop is measured against: one compiled step per Python iteration.

    Same weights and the same step as the export, but the loop, the sampling and the decoding run in
    Python and NumPy, as in a classic `for i in range(n): model(...)` generator.
    """
    step = tf.function(stepper.step, reduce_retracing=True)
    rng = np.random.default_rng(seed)
    ids, _ = stepper.encode_prompts(tf.constant([prompt or START_CHAR] * batch), MAX_PROMPT_CHARS)
    states = stepper.zero_state(batch)
    for t in range(ids.shape[1]):
        logits, states, _ = step(ids[:, t], states)
    out = []
    for _ in range(num_chars):
        logits = logits.numpy()[:, 1:] / max(temperature, GREEDY_BELOW)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        next_ids = np.array([rng.choice(len(p), p=p) for p in probs], np.int32) + 1
        out.append(next_ids)
        logits, states, _ = step(tf.constant(next_ids), states)
    return ["".join(stepper.vocabulary[i - 1] for i in row) for row in np.array(out).T]


def generation_speed(export_path: str, run_dir: pathlib.Path, num_chars: int, repeat: int) -> dict:
    """Characters per second: the exported in-graph loop vs a Python loop per character, batch 1 and 16."""
    signature = tf.saved_model.load(export_path).signatures["serving_default"]
    _, vocabulary, model = load_trained(run_dir)
    stepper = CharStepper(model, vocabulary)
    speed = {}
    for batch in (1, 16):
        prompts = tf.constant([PROMPT] * batch)
        graph = time_call(lambda: signature(prompt=prompts, num_chars=tf.constant(num_chars),
                                            temperature=tf.constant(0.8)), repeat)
        loop = time_call(lambda: python_loop_generate(stepper, PROMPT, num_chars, 0.8, batch=batch), repeat)
        speed[f"batch_{batch}"] = {"graph_chars_per_second": batch * num_chars / graph,
                                   "python_loop_chars_per_second": batch * num_chars / loop,
                                   "graph_seconds": graph, "python_loop_seconds": loop}
    return speed


def main(argv=None):
    given = list(sys.argv[1:] if argv is None else argv)
    run_root = pathlib.Path("runs/benchmarks/char_lm")
    argv = given + ["--output-dir", str(run_root / "run"), "--export-dir", str(run_root / "saved_models")]
    quick = "--quick" in given
    at_start = machine()  # the load before training: an idle machine at the start is part of a clean run
    started = time.perf_counter()
    metrics = train.main(argv)
    total_seconds = time.perf_counter() - started

    speed = generation_speed(metrics["export_path"], run_root / "run", num_chars=50 if quick else 500,
                             repeat=1 if quick else 3)
    signature = tf.saved_model.load(metrics["export_path"]).signatures["generate"]
    samples = {str(t): signature(prompt=tf.constant([PROMPT]), num_chars=tf.constant(400),
                                 temperature=tf.constant(t), top_k=tf.constant(0),
                                 seed=tf.constant(1, tf.int64))["text"].numpy()[0].decode("utf-8")
               for t in (0.0, 0.5, 1.0)}
    result = {
        "app": "char_lm",
        "val_loss_nats": metrics["val_loss_nats"],
        "bits_per_char": metrics["bits_per_char"],
        "train_seconds": metrics["train_seconds"],
        "total_seconds": total_seconds,
        "train_chars_per_second": metrics["train_chars_per_second"],
        "epochs_completed": metrics["epochs_completed"],
        "generate_chars_per_second": speed["batch_1"]["graph_chars_per_second"],
        "python_loop_chars_per_second": speed["batch_1"]["python_loop_chars_per_second"],
        "generation_speed": speed,
        "samples": {"prompt": PROMPT, "by_temperature": samples},
        "data": metrics["data"],
        "history": metrics["history"],
        "config": load_config(run_root / "run"),
        "machine": machine(),
        "load_average_at_start": at_start["load_average_1_5_15"],
        # One process from the first epoch to the export: no --resume, so no earlier run's epochs count.
        "single_run": "--resume" not in given,
        "command": " ".join(["python benchmarks/char_lm.py", *given]),
    }
    out = run_root if quick else RESULTS  # a --quick smoke run keeps its figures out of the repository
    out.mkdir(parents=True, exist_ok=True)
    (out / "char_lm.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print("| val loss (nats/char) | bits/char | train time | train chars/s | generate chars/s, batch 1 / 16 "
          "| Python loop chars/s, batch 1 / 16 |")
    print(f"| {result['val_loss_nats']:.3f} | {result['bits_per_char']:.3f} | {result['train_seconds'] / 60:.1f} min "
          f"| {result['train_chars_per_second']:.0f} "
          f"| {speed['batch_1']['graph_chars_per_second']:.0f} / {speed['batch_16']['graph_chars_per_second']:.0f} "
          f"| {speed['batch_1']['python_loop_chars_per_second']:.0f} / "
          f"{speed['batch_16']['python_loop_chars_per_second']:.0f} |")
    return result


if __name__ == "__main__":
    main()
