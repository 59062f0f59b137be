"""Masking: the same padded batches through the same model, with the padding mask and without it.

Sequences of different lengths share a batch by right-padding with id 0. The task: read 3 to 20 symbols
and name the *last real* one (many-to-one). Two models, identical but for one flag:
    masked      `shared.modeling.embeddings.TokenEmbedding(mask_zero=True)`: the mask (id != 0) flows on; the GRU
                carries its state unchanged across padded steps and `shared.modeling.masking.MaskedGlobalPooling
                ("last")` reads the output at the last real step
    unmasked    `mask_zero=False`: padding is just another input; the GRU runs through it and the pooling
                reads the very last step, which is padding
Both train on the same batches, each padded to its longest row (as a tf.data padded batch would be). Then the
same test sequences are padded to widths from 20 (no extra padding beyond the longest) to 200.

Second part, the loss and the metric (synced many-to-many): a tagger predicts, at every step, the next
symbol. The symbols are random, so on real steps nothing can be learnt: the honest accuracy is chance
(1/symbols) and the honest loss ln(symbols). It is trained the careless way, with a plain cross-entropy
over every position, so padding positions (target 0, after the sequence's end) count as steps to learn. The same test predictions are then scored two ways
as the padding grows: counting padding (plain `SparseCategoricalAccuracy` and cross-entropy) and over real
steps only (`shared.modeling.masking.MaskedSparseCategoricalAccuracy`, `masked_sparse_crossentropy`).

What to look for in lessons/images/masking.png: top, the masked model's accuracy and loss do not move with
the width (its logits are identical: the JSON's `max_logit_change`), while the unmasked model's logits and
loss change with the amount of padding it reads, because without the mask padding is an input. Bottom, the
metrics that count padding get *better* the more padding there is (predicting "padding" after padding is
easy), while the real-step figures stay at chance: an unmasked metric measures the padding.

    python lessons/masking.py            # the full run (98 s on 2 shared cores)
    python lessons/masking.py --quick    # seconds, for the tests
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from lessons import common
from shared.modeling.optimizer import make_optimizer
from shared.modeling.embeddings import TokenEmbedding
from shared.modeling.masking import MaskedGlobalPooling, MaskedSparseCategoricalAccuracy, masked_sparse_crossentropy

NAME = "masking"
PAD = 0


def make_rows(rng: np.random.Generator, count: int, symbols: int, max_length: int) -> tuple[list, np.ndarray]:
    """`count` sequences of ids 1..symbols, 3..max_length long, and the class of each one's last symbol."""
    lengths = rng.integers(3, max_length + 1, size=count)
    rows = [rng.integers(1, symbols + 1, size=n) for n in lengths]
    return rows, np.array([row[-1] - 1 for row in rows], np.int32)


def pad(rows: list, width: int | None = None) -> np.ndarray:
    """Right-pad with 0 to `width` (default: the longest row)."""
    width = width or max(map(len, rows))
    out = np.full((len(rows), width), PAD, np.int32)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def build(symbols: int, units: int, masked: bool) -> keras.Model:
    ids = keras.Input((None,), dtype="int32")
    x = TokenEmbedding(symbols + 1, 16, mask_zero=masked, name="embedding")(ids)
    x = keras.layers.GRU(units, return_sequences=True, name="gru")(x)
    x = MaskedGlobalPooling("last", name="last_step")(x)
    return keras.Model(ids, keras.layers.Dense(symbols, name="logits")(x), name="masked" if masked else "unmasked")


def train(model: keras.Model, args, rng) -> list[float]:
    step = common.train_step(model, make_optimizer(args.learning_rate),
                             [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)])
    losses = []
    for _ in range(args.steps):
        rows, targets = make_rows(rng, args.batch_size, args.symbols, args.max_length)
        losses.append(float(step(pad(rows), targets)))
    return losses


def build_tagger(symbols: int, units: int) -> keras.Model:
    """ids -> a class per step (0 = padding, 1..symbols = the next symbol): no mask anywhere."""
    ids = keras.Input((None,), dtype="int32")
    x = TokenEmbedding(symbols + 1, 16, mask_zero=False, name="embedding")(ids)
    x = keras.layers.GRU(units, return_sequences=True, name="gru")(x)
    return keras.Model(ids, keras.layers.Dense(symbols + 1, name="logits")(x), name="tagger")


def next_symbol(padded: np.ndarray) -> np.ndarray:
    """Per-step targets: the next id (0 after the last real step and on padding), as a language model's."""
    return np.concatenate([padded[:, 1:], np.full((len(padded), 1), PAD, padded.dtype)], axis=1)


def tagger_metrics(args, rows: list) -> dict:
    """Train the tagger with an unmasked loss, then score its test predictions with and without the mask."""
    common.seed_everything(args.seed)
    model = build_tagger(args.symbols, args.units)
    model.compile(make_optimizer(args.learning_rate), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(args.seed + 3)
    for _ in range(args.steps):
        batch = pad(make_rows(rng, args.batch_size, args.symbols, args.max_length)[0])
        model.train_on_batch(batch, next_symbol(batch))
    plain_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    by_width = {}
    for width in args.widths:
        padded = pad(rows, width)
        targets, logits = next_symbol(padded), model(padded, training=False)
        counted, real = keras.metrics.SparseCategoricalAccuracy(), MaskedSparseCategoricalAccuracy(pad_id=PAD)
        counted.update_state(targets, logits)
        real.update_state(targets, logits)
        by_width[str(width)] = {"accuracy_counting_padding": float(counted.result()),
                                "accuracy_real_steps": float(real.result()),
                                "loss_counting_padding": float(plain_loss(targets, logits)),
                                "loss_real_steps": float(masked_sparse_crossentropy(PAD)(targets, logits)),
                                "padding_share": float(np.mean(padded == PAD))}
    print("tagger", by_width, flush=True)
    return {"task": "predict the next (random) symbol at every step; trained with an unmasked loss",
            "by_width": by_width}


def main(argv=None) -> dict:
    flags = common.parser(__doc__)
    flags.add_argument("--symbols", type=int, default=8, help="classes: chance accuracy is 1/symbols")
    flags.add_argument("--max-length", type=int, default=20, help="longest real sequence")
    flags.add_argument("--widths", type=int, nargs="+", default=[20, 30, 50, 100, 200], help="test padding widths")
    flags.add_argument("--units", type=int, default=32)
    flags.add_argument("--steps", type=int, default=400)
    flags.add_argument("--batch-size", type=int, default=64)
    flags.add_argument("--learning-rate", type=float, default=1e-2)
    flags.add_argument("--test-size", type=int, default=1000)
    args = flags.parse_args(argv)
    if args.quick:
        args.steps, args.units, args.test_size, args.widths = 20, 8, 100, [20, 60]
    if min(args.widths) < args.max_length:
        raise ValueError(f"every --widths value must hold the longest sequence ({args.max_length}).")
    started = common.Stopwatch()
    rows, targets = make_rows(np.random.default_rng(args.seed + 1), args.test_size, args.symbols, args.max_length)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    results = {"task": f"name the last real symbol of 3-{args.max_length} symbols, {args.symbols} classes",
               "chance": 1 / args.symbols, "widths": args.widths, "models": {}}
    for masked in (True, False):
        common.seed_everything(args.seed)
        model = build(args.symbols, args.units, masked)
        losses = train(model, args, np.random.default_rng(args.seed))
        by_width, logits_at = {}, {}
        for width in args.widths:
            logits = model(pad(rows, width), training=False).numpy()
            logits_at[width] = logits
            by_width[str(width)] = {"accuracy": float(np.mean(logits.argmax(-1) == targets)),
                                    "loss": float(loss_fn(targets, logits))}
        narrowest = logits_at[min(args.widths)]
        name = "masked" if masked else "unmasked"
        results["models"][name] = {
            "train_loss_last_20": float(np.mean(losses[-20:])), "by_width": by_width,
            "max_logit_change": {str(w): float(np.max(np.abs(logits_at[w] - narrowest))) for w in args.widths}}
        print(name, by_width, flush=True)
    results["tagger"] = tagger_metrics(args, rows)
    common.write_results(NAME, args, results, started)
    plot(results, args)
    return results


def plot(results: dict, args) -> None:
    fig, ((left, right), (bottom_left, bottom_right)) = common.figure(2, 2, size=(10, 7))
    for (name, record), colour in zip(results["models"].items(), ("tab:blue", "tab:red")):
        widths = [int(w) for w in record["by_width"]]
        left.plot(widths, [r["accuracy"] for r in record["by_width"].values()], "o-", color=colour, label=name)
        right.plot(widths, [r["loss"] for r in record["by_width"].values()], "o-", color=colour, label=name)
    left.axhline(results["chance"], color="grey", ls=":", label="chance")
    left.axvline(args.max_length, color="grey", ls="--", lw=0.8)
    right.axvline(args.max_length, color="grey", ls="--", lw=0.8, label="widest training batch")
    left.set(xlabel="padded width of the test batch", ylabel="test accuracy", ylim=(0, 1.05),
             title="Same sequences, more padding")
    right.set(xlabel="padded width of the test batch", ylabel="test loss (nats)", yscale="log",
              title="Loss (many-to-one, last real symbol)")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    tagger = results["tagger"]["by_width"]
    widths = [int(w) for w in tagger]
    for key, colour, label in (("counting_padding", "tab:red", "counting padding (unmasked metric)"),
                               ("real_steps", "tab:blue", "real steps only (masked metric)")):
        bottom_left.plot(widths, [r[f"accuracy_{key}"] for r in tagger.values()], "o-", color=colour, label=label)
        bottom_right.plot(widths, [r[f"loss_{key}"] for r in tagger.values()], "o-", color=colour, label=label)
    bottom_left.axhline(results["chance"], color="grey", ls=":", label="chance (nothing to learn)")
    bottom_left.set(xlabel="padded width", ylabel="per-step accuracy", ylim=(0, 1.05),
                    title="Next random symbol (trained unmasked): the metric")
    bottom_right.set(xlabel="padded width", ylabel="per-step loss (nats)", title="... and the loss")
    bottom_left.legend(fontsize=8)
    bottom_right.legend(fontsize=8)
    common.save_figure(fig, NAME, args)


if __name__ == "__main__":
    main()
