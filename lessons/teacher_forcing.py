"""Teacher forcing and exposure bias: a char LM scored on the true history vs. on its own predictions.

A sequence model is trained with teacher forcing: at every position it reads the *true* previous character
and predicts the next one. At generation time there is no true history; the model reads what it wrote
itself (free running). This lesson trains a small character LM (the char_lm app's `build_model`: embedding
-> GRU -> Dense) on tinyshakespeare for a fixed time, then, on validation text after a 20-character prompt,
measures per position p:
    teacher forced   the model read the true characters up to p: is its top guess the true character p?
    free running     the model read its own greedy characters since the prompt: is its character p the true
                     one? One early mistake changes every later input, so the errors compound.
    still on track   the share of rows whose free-running text still equals the true text up to p.

What to look for in lessons/images/teacher_forcing.png: the teacher-forced curve is flat (every position
starts from the truth); the free-running curve starts at the same value and falls within a few characters to
the level of two unrelated texts agreeing by chance. The gap is what teacher forcing hides: the training
loss is measured on histories the model will never see when it writes. (Part of the gap is simply that
text has many right continuations; "still on track" shows how quickly any single one is lost.)

    python lessons/teacher_forcing.py            # the full run (3 minutes on 2 shared cores)
    python lessons/teacher_forcing.py --quick    # seconds, for the tests
"""

from __future__ import annotations

import types

import keras
import numpy as np

from apps.char_lm.model import build_model
from lessons import common
from shared.modeling.optimizer import make_optimizer

NAME = "teacher_forcing"


def windows(ids: np.ndarray, count: int, length: int, rng: np.random.Generator) -> np.ndarray:
    starts = rng.integers(0, len(ids) - length, size=count)
    return np.stack([ids[s:s + length] for s in starts])


def train(model: keras.Model, ids: np.ndarray, args) -> dict:
    """Teacher forcing: random windows, every position predicts the next true character, for --train-seconds."""
    step = common.train_step(model, make_optimizer(args.learning_rate))
    rng = np.random.default_rng(args.seed)
    clock, losses = common.Stopwatch(), []
    while clock.seconds() < args.train_seconds:
        batch = windows(ids, args.batch_size, args.seq_length + 1, rng)
        losses.append(float(step(batch[:, :-1], batch[:, 1:])))
    return {"steps": len(losses), "seconds": round(clock.seconds(), 1),
            "train_loss_last_50": float(np.mean(losses[-50:]))}


def per_position_accuracy(model: keras.Model, text: np.ndarray, prompt: int) -> dict:
    """Teacher-forced and free-running accuracy at each position after the prompt, on rows `text` [n, L]."""
    horizon = text.shape[1] - prompt
    forced = model(text[:, :-1], training=False).numpy().argmax(-1)[:, prompt - 1:]  # predicts text[:, prompt:]
    generated = text[:, :prompt].copy()
    for _ in range(horizon):  # greedy: feed back the model's own top choice
        logits = model(generated, training=False)[:, -1]
        generated = np.concatenate([generated, np.asarray(logits).argmax(-1)[:, None].astype(text.dtype)], axis=1)
    truth, free = text[:, prompt:], generated[:, prompt:]
    on_track = np.cumprod(free == truth, axis=1)
    return {"teacher_forced": (forced == truth).mean(axis=0), "free_running": (free == truth).mean(axis=0),
            "still_on_track": on_track.mean(axis=0), "horizon": horizon}


def chance_agreement(ids: np.ndarray) -> float:
    """How often two unrelated characters of the text agree: the floor a lost free-running row falls to."""
    frequencies = np.bincount(ids) / len(ids)
    return float(np.sum(frequencies ** 2))


def main(argv=None) -> dict:
    flags = common.parser(__doc__)
    flags.add_argument("--train-seconds", type=float, default=90.0, help="teacher-forced training time")
    flags.add_argument("--units", type=int, default=256)
    flags.add_argument("--seq-length", type=int, default=100)
    flags.add_argument("--batch-size", type=int, default=32)
    flags.add_argument("--learning-rate", type=float, default=3e-3)
    flags.add_argument("--prompt", type=int, default=20, help="true characters read before position 1")
    flags.add_argument("--horizon", type=int, default=60, help="positions scored after the prompt")
    flags.add_argument("--rows", type=int, default=256, help="validation windows scored")
    args = flags.parse_args(argv)
    if args.quick:
        args.train_seconds, args.units, args.seq_length, args.horizon, args.rows = 2.0, 16, 30, 8, 16
    started = common.Stopwatch()
    common.seed_everything(args.seed)
    text, source = common.load_text(args.quick, max_chars=100_000 if args.quick else None)
    ids, vocabulary = common.char_ids(text)
    cut = int(len(ids) * 0.9)  # the char LM app's split: validation is the last 10 percent
    config = types.SimpleNamespace(cell="gru", units=args.units, layers=1, embedding_dim=32, dropout=0.0)
    model = build_model(config, len(vocabulary) + 1)
    training = train(model, ids[:cut], args)
    rows = windows(ids[cut:], args.rows, args.prompt + args.horizon, np.random.default_rng(args.seed + 1))
    curves = per_position_accuracy(model, rows, args.prompt)
    results = {"data": source, "model": "embedding 32 -> GRU -> Dense (apps/char_lm/model.py)",
               "units": args.units, "training": training, "chance_agreement": chance_agreement(ids),
               **{k: np.round(v, 4) if isinstance(v, np.ndarray) else v for k, v in curves.items()}}
    for key in ("teacher_forced", "free_running", "still_on_track"):
        results[f"{key}_mean"] = float(np.mean(curves[key]))
    print(f"trained {training}; accuracy teacher-forced {results['teacher_forced_mean']:.3f}, free-running "
          f"{results['free_running_mean']:.3f}, chance {results['chance_agreement']:.3f}", flush=True)
    common.write_results(NAME, args, results, started)
    plot(results, args)
    return results


def plot(results: dict, args) -> None:
    fig, axis = common.figure(1, 1, size=(7, 3.8))
    positions = np.arange(1, results["horizon"] + 1)
    axis.plot(positions, results["teacher_forced"], color="tab:blue", label="teacher forced (true history)")
    axis.plot(positions, results["free_running"], color="tab:red", label="free running (its own greedy history)")
    axis.plot(positions, results["still_on_track"], color="tab:red", ls="--", alpha=0.6,
              label="free running, no mistake yet")
    axis.axhline(results["chance_agreement"], color="grey", ls=":", label="two unrelated characters agree")
    axis.set(xlabel=f"position after a {args.prompt}-character prompt", ylabel="next-character accuracy",
             ylim=(0, 1), title=f"Exposure bias: GRU {args.units} char LM, {results['training']['steps']} steps")
    axis.legend(fontsize=8)
    common.save_figure(fig, NAME, args)


if __name__ == "__main__":
    main()
