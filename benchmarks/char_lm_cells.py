"""Vanilla RNN vs LSTM vs GRU on the same budget: validation loss, and how far back gradients reach.

Usage:
    python benchmarks/char_lm_cells.py --data-dir ../shared/data/tinyshakespeare   # ~5 min on 2 cores
    python benchmarks/char_lm_cells.py --sample --quick                           # smoke test

Each cell is trained by the app itself (train.main) with the same units, data, steps and seed. Then, for
100-character validation windows read from a zero state, we take the loss at the *last* position and
measure the gradient norm with respect to the input at every earlier position: how much can a character
t steps back still change the prediction? Vanishing gradients show as a curve that falls by orders of
magnitude (the vanilla RNN); gated cells keep it up. Measured for the trained models and at
initialisation. Writes benchmarks/results/char_lm_cells.json and apps/char_lm/images/cells_comparison.png.
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import tensorflow as tf

from apps.char_lm import data, train
from apps.char_lm.model import build_model, load_trained

ROOT = pathlib.Path(__file__).resolve().parents[1]
WINDOW = 100


def gradient_by_distance(model, ids: np.ndarray) -> np.ndarray:
    """Mean |d loss(last position) / d input(t)| for t = WINDOW-1 ... 0 steps back: [WINDOW]."""
    inputs, target = ids[:, :-1], ids[:, -1]
    embedded = model.get_layer("char_embedding")(inputs)
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        x = embedded
        for layer in model.layers[2:]:  # after the input and the embedding: recurrent layers, dense
            x = layer(x, training=False)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=x[:, -1]))
    norms = tf.norm(tape.gradient(loss, embedded), axis=-1).numpy().mean(axis=0)  # [WINDOW]
    return norms[::-1]  # index = steps back from the predicted position


def main(argv=None):
    given = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in given
    budget = ["--units", "128", "--layers", "1", "--dropout", "0", "--batch-size", "32", "--epochs",
              "1" if quick else "2", "--lr-schedule", "constant", "--no-check-export"]
    run_root = pathlib.Path("runs/benchmarks/char_lm_cells")
    results = {}
    for cell in ("rnn", "lstm", "gru"):
        metrics = train.main(given + budget + ["--cell", cell, "--output-dir", str(run_root / cell),
                                               "--export-dir", str(run_root / "saved_models")])
        config, vocabulary, trained = load_trained(run_root / cell)
        text = data.split_text(data.load_text(config), config.validation_fraction)[1]
        ids = data.encode(text, vocabulary)
        starts = np.random.default_rng(0).integers(0, len(ids) - WINDOW - 1, size=64)
        windows = np.stack([ids[s:s + WINDOW + 1] for s in starts])
        tf.keras.utils.set_random_seed(config.seed)
        untrained = build_model(config, len(vocabulary) + 1)
        results[cell] = {
            "val_loss_nats": metrics["val_loss_nats"],
            "val_loss_by_epoch": [row["val_loss"] for row in metrics["history"]],
            "train_seconds": metrics["train_seconds"],
            "params": int(trained.count_params()),
            "grad_norm_by_steps_back": gradient_by_distance(trained, windows).tolist(),
            "grad_norm_by_steps_back_at_init": gradient_by_distance(untrained, windows).tolist(),
        }
        print(f"{cell}: val loss {metrics['val_loss_nats']:.3f}, grad norm 1 / 10 / 50 steps back: "
              + " / ".join(f"{results[cell]['grad_norm_by_steps_back'][k]:.2e}" for k in (1, 10, 50)))

    # A --quick smoke run keeps its figures out of the repository (runs/ is ignored).
    out = run_root if quick else ROOT / "benchmarks" / "results"
    picture = run_root / "cells_comparison.png" if quick else ROOT / "apps/char_lm/images/cells_comparison.png"
    out.mkdir(parents=True, exist_ok=True)
    (out / "char_lm_cells.json").write_text(json.dumps({"budget": budget, "flags": given, **results},
                                                       indent=2) + "\n")
    plot(results, picture)
    return results


def plot(results: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for (cell, r), colour in zip(results.items(), ("tab:red", "tab:blue", "tab:green")):
        epochs = range(1, len(r["val_loss_by_epoch"]) + 1)
        left.plot(epochs, r["val_loss_by_epoch"], "o-", color=colour, label=f"{cell} ({r['params']:,} params)")
        right.semilogy(r["grad_norm_by_steps_back"], color=colour, label=f"{cell}, trained")
        right.semilogy(r["grad_norm_by_steps_back_at_init"], "--", color=colour, alpha=0.6, label=f"{cell}, init")
    left.set(xlabel="epoch", ylabel="validation loss (nats/char)", title="Same budget, same units")
    right.set(xlabel="steps back from the predicted character", ylabel="|d loss / d input|",
              title="How far back the gradient reaches")
    left.legend(fontsize=8)
    right.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
