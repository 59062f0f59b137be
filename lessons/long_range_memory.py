"""Long-range memory, where gates matter: recall a symbol seen T steps ago (vanilla RNN vs LSTM vs GRU).

The task: a sequence of T steps; step 0 shows one of K symbols with a "remember this" marker, the other
T-1 steps show random distractor symbols; after the last step the model must name the symbol of step 0.
Chance is 1/K. The answer depends on an input T steps back and nothing else, so the task measures exactly
how far back a recurrent cell can carry information and, through it, receive a training signal.

Every cell gets the same parameter budget (the units are chosen so that SimpleRNN, GRU and LSTM have about
as many weights), the same optimizer (`shared.modeling.optimizer.make_optimizer`: Adam, global-norm clipping at the
suite default), the same number of steps on fresh random batches and the same seed. The gated cells run
twice: as Keras initialises them, and with the gate that keeps the old state biased open (bias 3), because
the first lesson of this experiment is that a gate helps only once it is open far enough for a gradient to
get through.

What to look for in lessons/images/long_range_memory.png:
  * left: test accuracy against T. Where a curve falls to chance, that cell stopped learning the task.
  * right: |d loss / d input_t| against steps back (for T = --gradient-length), at initialisation (dashed)
    and after training (solid). The loss can only teach the model about step 0 through this gradient: where it has
    vanished below float32's resolution, no amount of training at that T helps.

    python lessons/long_range_memory.py            # the full run (10 minutes on 2 shared cores)
    python lessons/long_range_memory.py --quick    # seconds, for the tests
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lessons import common
from shared.modeling.cells import CELLS
from shared.modeling.optimizer import make_optimizer

NAME = "long_range_memory"
# The cells as Keras makes them, and the gated cells with their "keep the old state" gate started open:
# bias 3 puts the LSTM forget gate, and the GRU update gate, at sigmoid(3) = 0.95 instead of 0.73 (Keras'
# LSTM forget bias 1) or 0.5 (GRU bias 0), so the state, and the gradient, decay about 0.95x per step.
VARIANTS = {"rnn": ("rnn", None), "gru": ("gru", None), "lstm": ("lstm", None),
            "gru, keep bias 3": ("gru", 3.0), "lstm, forget bias 3": ("lstm", 3.0)}


def make_batch(rng: np.random.Generator, batch: int, steps: int, symbols: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs [batch, steps, symbols + 1] float32, targets [batch]): one-hot symbols plus the marker channel."""
    ids = rng.integers(0, symbols, size=(batch, steps))
    inputs = np.zeros((batch, steps, symbols + 1), np.float32)
    np.put_along_axis(inputs, ids[:, :, None], 1.0, axis=2)
    inputs[:, 0, symbols] = 1.0  # the marker: this is the step to remember
    return inputs, ids[:, 0].astype(np.int32)


def build(cell: str, units: int, symbols: int, keep_bias: float | None = None) -> tf.keras.Model:
    model = tf.keras.Sequential([tf.keras.Input((None, symbols + 1)), CELLS[cell](units, name=cell),
                                 tf.keras.layers.Dense(symbols, name="symbol_logits")], name=f"recall_{cell}")
    if keep_bias is not None:
        recurrent = model.get_layer(cell).cell
        bias = recurrent.bias.numpy()
        if cell == "lstm":  # Keras' gate order: input, forget, candidate, output
            bias[units:2 * units] = keep_bias
        else:  # GRU, reset_after: bias [2, 3 units], gate order update, reset, candidate; h = z h_old + ...
            bias[0, :units] = keep_bias
        recurrent.bias.assign(bias)
    return model


# Weights per cell with u units and i inputs: one (input, recurrent, bias) block for SimpleRNN, three for the
# GRU (Keras' reset_after form has two biases per block), four for the LSTM; then the Dense read-out.
GATE_BLOCKS = {"rnn": (1, 1), "gru": (3, 2), "lstm": (4, 1)}


def parameter_count(cell: str, units: int, symbols: int) -> int:
    blocks, biases = GATE_BLOCKS[cell]
    return blocks * units * (symbols + 1 + units + biases) + units * symbols + symbols


def units_for_budget(budget: int, symbols: int) -> dict[str, int]:
    """Units per cell whose parameter count is nearest `budget` (the budget of an LSTM of some size)."""
    return {cell: min(range(2, 1025), key=lambda u: abs(parameter_count(cell, u, symbols) - budget))
            for cell in CELLS}


def gradient_by_steps_back(model: tf.keras.Model, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mean over the batch of |d loss / d input_t|, indexed by steps back from the last input: [T]."""
    x = tf.convert_to_tensor(inputs)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(targets, model(x), from_logits=True))
    norms = tf.norm(tape.gradient(loss, x), axis=-1).numpy().mean(axis=0)
    return norms[::-1]


def train(model: tf.keras.Model, steps: int, length: int, args, rng) -> list[float]:
    step = common.train_step(model, make_optimizer(learning_rate=args.learning_rate))
    losses = []
    for _ in range(steps):
        losses.append(float(step(*make_batch(rng, args.batch_size, length, args.symbols))))
    return losses


def evaluate(model, length: int, args, rng) -> tuple[float, float]:
    inputs, targets = make_batch(rng, args.test_size, length, args.symbols)
    logits = model(inputs, training=False).numpy()
    loss = float(tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)))
    return float(np.mean(logits.argmax(-1) == targets)), loss


def main(argv=None) -> dict:
    flags = common.parser(__doc__)
    flags.add_argument("--lengths", type=int, nargs="+", default=[10, 25, 50, 100, 200], help="the T values")
    flags.add_argument("--symbols", type=int, default=4, help="K symbols: chance accuracy is 1/K")
    flags.add_argument("--lstm-units", type=int, default=32, help="sets the parameter budget of every cell")
    flags.add_argument("--steps", type=int, default=500, help="training steps per cell and T")
    flags.add_argument("--batch-size", type=int, default=64)
    flags.add_argument("--learning-rate", type=float, default=1e-2)
    flags.add_argument("--test-size", type=int, default=1000)
    flags.add_argument("--gradient-length", type=int, default=100, help="the T whose gradients are drawn")
    args = flags.parse_args(argv)
    if args.quick:
        args.lengths, args.steps, args.lstm_units, args.test_size = [4, 8], 10, 8, 100
    if min(args.lengths) < 2 or args.symbols < 2:
        raise ValueError("need every length >= 2 and --symbols >= 2.")
    started = common.Stopwatch()
    budget = parameter_count("lstm", args.lstm_units, args.symbols)
    units = units_for_budget(budget, args.symbols)
    probed = min(args.lengths, key=lambda t: abs(t - args.gradient_length))
    results = {"gradient_probed_at_length": probed, "task": f"recall the marked symbol of step 0 after T steps, {args.symbols} symbols, "
                       f"chance {1 / args.symbols:.3f}", "parameter_budget": budget, "cells": {}}
    for variant, (cell, keep_bias) in VARIANTS.items():
        size = units[cell]
        record = {"cell": cell, "keep_bias": keep_bias, "units": size,
                  "params": build(cell, size, args.symbols).count_params(), "by_length": {}}
        for length in args.lengths:
            common.seed_everything(args.seed)
            rng = np.random.default_rng(args.seed)
            model = build(cell, size, args.symbols, keep_bias)
            probe = make_batch(np.random.default_rng(args.seed + 1), 256, length, args.symbols)
            at_init = gradient_by_steps_back(model, *probe) if length == probed else None
            clock = common.Stopwatch()
            losses = train(model, args.steps, length, args, rng)
            accuracy, loss = evaluate(model, length, args, np.random.default_rng(args.seed + 2))
            row = {"test_accuracy": accuracy, "test_loss": loss, "train_seconds": round(clock.seconds(), 1),
                   "train_loss_first_last_20": [float(np.mean(losses[:20])), float(np.mean(losses[-20:]))]}
            if length == probed:
                row["grad_norm_by_steps_back_at_init"] = at_init
                row["grad_norm_by_steps_back_trained"] = gradient_by_steps_back(model, *probe)
            record["by_length"][str(length)] = row
            print(f"{variant} ({record['params']} params) T={length}: accuracy {accuracy:.3f}, loss {loss:.3f}, "
                  f"{row['train_seconds']} s", flush=True)
        results["cells"][variant] = record
    common.write_results(NAME, args, results, started)
    plot(results, args)
    return results


def plot(results: dict, args) -> None:
    fig, (left, right) = common.figure()
    colours = {"rnn": "tab:red", "gru": "tab:green", "lstm": "tab:blue",
               "gru, keep bias 3": "olive", "lstm, forget bias 3": "tab:purple"}
    probed = str(results["gradient_probed_at_length"])
    for cell, record in results["cells"].items():
        lengths = [int(t) for t in record["by_length"]]
        left.plot(lengths, [r["test_accuracy"] for r in record["by_length"].values()], "o-", color=colours[cell],
                  label=f"{cell} ({record['units']} units, {record['params']:,} p.)")
        row = record["by_length"][probed]
        floor = 1e-30  # exact zeros (below float32) drawn at the floor of the log axis
        right.semilogy(np.maximum(row["grad_norm_by_steps_back_trained"], floor), color=colours[cell],
                       label=f"{cell}, trained")
        right.semilogy(np.maximum(row["grad_norm_by_steps_back_at_init"], floor), "--", color=colours[cell],
                       alpha=0.6, label=f"{cell}, init")
    left.axhline(1 / args.symbols, color="grey", ls=":", label="chance")
    left.set(xscale="log", xlabel="T (steps between the symbol and the question)", ylabel="test accuracy",
             title=f"Recall after T steps ({args.steps} training steps each)")
    right.set(xlabel="steps back from the last input", ylabel="|d loss / d input_t|",
              title=f"Gradient reaching back, T = {probed}")
    left.legend(fontsize=7)
    right.legend(fontsize=7, ncol=2)
    common.save_figure(fig, NAME, args)


if __name__ == "__main__":
    main()
