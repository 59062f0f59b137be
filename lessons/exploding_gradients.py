"""Exploding gradients and clipping: one recurrent model, three optimizers, loss and gradient norm per step.

The model is a vanilla RNN character LM on tinyshakespeare (100-character windows), by default with ReLU
units and a norm-preserving orthogonal recurrent matrix (`--gain` 1, as in the IRNN recipe), plain SGD. Nothing
bounds a ReLU state, so once training stretches the recurrent matrix beyond norm 1, backpropagation through
time multiplies one growing Jacobian per step and the gradient norm can jump by orders of magnitude from one
batch to the next. (`--activation tanh --gain 3` starts in the exploding regime instead.) Three runs from
the same initial weights and the same batches:
    none         no clipping (`make_optimizer(clipnorm=0)`)
    clipnorm     Keras' per-variable `clipnorm`: each weight tensor's gradient capped separately, which
                 changes the update's direction when one tensor explodes and the others do not
    global norm  `shared.modeling.optimizer.make_optimizer` with the suite's default (global norm 1.0): all gradients
                 rescaled together, direction kept, size capped
The gradient norm recorded is the global norm *before* clipping: what the optimizer was handed.

What to look for in lessons/images/exploding_gradients.png: the unclipped run's spikes in the gradient norm
(right, log scale) and what each spike does to its loss (left); the clipped runs see the same kind of
spikes but take a bounded step. The JSON says which run diverged (loss NaN or above its starting value).

    python lessons/exploding_gradients.py            # the full run (85 s on 2 shared cores)
    python lessons/exploding_gradients.py --quick    # seconds, for the tests
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from lessons import common
from shared.modeling.optimizer import DEFAULT_CLIPNORM, make_optimizer

NAME = "exploding_gradients"


def build(vocab: int, units: int, gain: float, seed: int, activation: str = "tanh") -> keras.Model:
    return keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(vocab, 32, embeddings_initializer=keras.initializers.RandomNormal(seed=seed)),
        keras.layers.SimpleRNN(units, return_sequences=True, activation=activation,
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1),
                               recurrent_initializer=keras.initializers.Orthogonal(gain=gain, seed=seed + 2)),
        keras.layers.Dense(vocab, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 3)),
    ])


def optimizers(learning_rate: float) -> dict[str, keras.optimizers.Optimizer]:
    return {"none": make_optimizer(learning_rate, clipnorm=0, algorithm="sgd"),
            "clipnorm": keras.optimizers.SGD(learning_rate, clipnorm=DEFAULT_CLIPNORM),
            "global norm": make_optimizer(learning_rate, algorithm="sgd")}


def batches(ids: np.ndarray, steps: int, batch: int, length: int, seed: int):
    """The same `steps` random (inputs, targets) windows for every run."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        starts = rng.integers(0, len(ids) - length - 1, size=batch)
        window = np.stack([ids[s:s + length + 1] for s in starts])
        yield window[:, :-1], window[:, 1:]


def run(model: keras.Model, optimizer, data) -> tuple[list[float], list[float], list[float]]:
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        # Dense: the embedding's gradient arrives as slices with repeated rows, whose norm is not the norm of
        # the gradient the optimizer applies (repeated rows are summed first).
        gradients = [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]
        norm = tf.linalg.global_norm(gradients)  # before the optimizer clips them
        before = [tf.identity(v) for v in model.trainable_variables]
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        # The step actually taken: learning rate x the (clipped) gradient, for SGD.
        taken = tf.linalg.global_norm([v - b for v, b in zip(model.trainable_variables, before)])
        return loss, norm, taken

    losses, norms, steps = [], [], []
    for x, y in data:
        loss, norm, taken = step(x, y)
        losses.append(float(loss))
        norms.append(float(norm))
        steps.append(float(taken))
    return losses, norms, steps


def summary(losses: list[float], norms: list[float]) -> dict:
    finite = [v for v in losses if math.isfinite(v)]
    last = losses[-10:]
    final = float(np.mean(last)) if all(math.isfinite(v) for v in last) else float("nan")
    start = float(np.mean(losses[:5]))
    first_nan = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    return {"start_loss": start, "final_loss_last_10": final, "best_loss": min(finite) if finite else None,
            "max_grad_norm": float(np.nanmax(norms)) if any(map(math.isfinite, norms)) else None,
            "median_grad_norm": float(np.nanmedian(norms)),
            "steps_with_grad_norm_above_10x_median": int(np.sum(np.array(norms) > 10 * np.nanmedian(norms))),
            "first_nan_step": first_nan,
            "diverged": bool(not math.isfinite(final) or final > start)}


def main(argv=None) -> dict:
    flags = common.parser(__doc__)
    flags.add_argument("--activation", default="relu", choices=["relu", "tanh"],
                       help="relu: nothing bounds the state, so gradients can grow without limit")
    flags.add_argument("--gain", type=float, default=1.0, help="recurrent matrix = orthogonal x gain")
    flags.add_argument("--learning-rate", type=float, default=0.2, help="SGD step size")
    flags.add_argument("--units", type=int, default=128)
    flags.add_argument("--steps", type=int, default=300)
    flags.add_argument("--batch-size", type=int, default=32)
    flags.add_argument("--seq-length", type=int, default=100)
    args = flags.parse_args(argv)
    if args.quick:  # tanh with gain 3 explodes at the first step, which is all a test has time for
        args.steps, args.units, args.seq_length, args.activation, args.gain = 12, 16, 30, "tanh", 3.0
    started = common.Stopwatch()
    text, source = common.load_text(args.quick, max_chars=200_000 if args.quick else None)
    ids, vocabulary = common.char_ids(text)
    results = {"data": source, "characters": len(ids), "clip_bound": DEFAULT_CLIPNORM, "runs": {}}
    for name, optimizer in optimizers(args.learning_rate).items():
        common.seed_everything(args.seed)
        model = build(len(vocabulary) + 1, args.units, args.gain, args.seed, args.activation)
        clock = common.Stopwatch()
        losses, norms, steps = run(model, optimizer,
                                   batches(ids, args.steps, args.batch_size, args.seq_length, args.seed))
        results["runs"][name] = {**summary(losses, norms), "seconds": round(clock.seconds(), 1),
                                 "max_step_norm": float(np.nanmax(steps)) if any(map(math.isfinite, steps)) else None,
                                 "loss_per_step": losses, "grad_norm_per_step": norms, "step_norm_per_step": steps}
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in summary(losses, norms).items()), flush=True)
    common.write_results(NAME, args, results, started)
    plot(results, args)
    return results


def plot(results: dict, args) -> None:
    fig, (left, right) = common.figure()
    colours = {"none": "tab:red", "clipnorm": "tab:orange", "global norm": "tab:blue"}
    for name, r in results["runs"].items():
        label = f"{name}{' (diverged)' if r['diverged'] else ''}"
        left.plot(r["loss_per_step"], color=colours[name], lw=1, label=label, zorder=3 if name == "none" else 2)
        right.semilogy(r["grad_norm_per_step"], color=colours[name], lw=1, label=label)
        if r["first_nan_step"] is not None:  # the curve just stops there: mark where
            for axis in (left, right):
                axis.axvline(r["first_nan_step"], color=colours[name], ls=":", lw=1.5,
                             label=f"{name}: NaN from step {r['first_nan_step']}" if axis is left else None)
    right.axhline(results["clip_bound"], color="grey", ls=":", label="clip bound")
    left.set(xlabel="training step", ylabel="training loss (nats/char)",
             title=f"SimpleRNN ({args.activation}), recurrent gain {args.gain}, SGD {args.learning_rate}")
    right.set(xlabel="training step", ylabel="global gradient norm (before clipping)",
              title="Gradient norm per step")
    top = max(r["start_loss"] for r in results["runs"].values() if math.isfinite(r["start_loss"]))
    left.set_ylim(0, 2.5 * top)
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    common.save_figure(fig, NAME, args)


if __name__ == "__main__":
    main()
