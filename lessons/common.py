"""What every lesson shares: its command line, the machine it ran on, the text it reads, where it writes.

Each lesson is `python lessons/<name>.py [--quick] [--results-dir DIR] [--images-dir DIR]`. A full run writes
`lessons/results/<name>.json` (every figure the lessons README quotes) and `lessons/images/<name>.png`;
`--quick` is a tiny version for the tests (seconds) and should be pointed at a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import time

import numpy as np

from benchmarks.common import machine  # one machine record for benchmarks and lessons

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "lessons" / "results"
IMAGES_DIR = ROOT / "lessons" / "images"
# tinyshakespeare beside the repository (never inside it); RNN_SUITE_DATA points elsewhere, like the tests.
SHARED_DATA = pathlib.Path(os.environ.get("RNN_SUITE_DATA", ROOT.parent / "shared" / "data"))
SHAKESPEARE = SHARED_DATA / "tinyshakespeare" / "input.txt"


def parser(description: str) -> argparse.ArgumentParser:
    """The flags every lesson takes; a lesson adds its own."""
    flags = argparse.ArgumentParser(description=description,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    flags.add_argument("--quick", action="store_true", help="a tiny run for the tests (seconds)")
    flags.add_argument("--seed", type=int, default=0, help="seeds NumPy, Python and TensorFlow")
    flags.add_argument("--results-dir", default=str(RESULTS_DIR), help="where <name>.json goes")
    flags.add_argument("--images-dir", default=str(IMAGES_DIR), help="where <name>.png goes")
    return flags


def seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def load_text(quick: bool, max_chars: int | None = None) -> tuple[str, str]:
    """(text, source): tinyshakespeare when ../shared/data has it, else the project's offline sample text.

    The offline sample is the char LM app's `--sample` corpus (the Python standard library's source), so a
    lesson runs anywhere; the README's figures come from tinyshakespeare.
    """
    if SHAKESPEARE.exists() and not quick:
        text = SHAKESPEARE.read_text(encoding="utf-8")
        source = str(SHAKESPEARE)
    else:
        from apps.char_lm.data import load_sample

        text = load_sample(max_chars or 300_000)
        source = "offline sample (Python standard library source, apps/char_lm/data.py load_sample)"
    return (text[:max_chars] if max_chars else text), source


def char_ids(text: str) -> tuple[np.ndarray, list[str]]:
    """Character ids as the char LM app makes them (id 0 = unseen), and the vocabulary."""
    from apps.char_lm.data import build_vocabulary, encode

    vocabulary = build_vocabulary(text)
    return encode(text, vocabulary), vocabulary


def train_step(model, optimizer, input_signature=None):
    """A compiled step(inputs, targets) -> loss: cross-entropy from logits, one optimizer update."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def step(inputs, targets):
        with tf.GradientTape() as tape:
            loss = loss_fn(targets, model(inputs, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    return tf.function(step, input_signature=input_signature, reduce_retracing=True)


class Stopwatch:
    def __init__(self):
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start


def write_results(name: str, args: argparse.Namespace, results: dict, started: Stopwatch) -> pathlib.Path:
    """`<results-dir>/<name>.json` with the flags, the machine and the wall time beside the figures."""
    path = pathlib.Path(args.results_dir) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"lesson": name, "command": f"python lessons/{name}.py" + (" --quick" if args.quick else ""),
              "flags": {k: v for k, v in vars(args).items() if k not in ("results_dir", "images_dir")},
              "machine": machine(), "wall_seconds": round(started.seconds(), 1), **results}
    path.write_text(json.dumps(record, indent=2, default=_plain) + "\n")
    return path


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value)}")


def figure(rows: int = 1, cols: int = 2, size=(10, 3.8)):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=size)


def save_figure(fig, name: str, args: argparse.Namespace) -> pathlib.Path:
    import matplotlib.pyplot as plt

    path = pathlib.Path(args.images_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
