"""Truncated BPTT: how long a chunk to backpropagate through, at a fixed time budget, on tinyshakespeare.

The char_lm app trains with truncated backpropagation through time: the text is cut into contiguous
streams, each batch is the next chunk of every stream, the recurrent state is carried from one chunk to the
next (stateful layers), and gradients stop at chunk borders. The chunk length is the one knob:
    short chunks   many small updates per second of training, but no gradient reaches further back than
                   the chunk, so what the model learns to *carry* is learnt only indirectly
    long chunks    gradients through more steps, fewer updates per second (each batch is more characters),
                   and longer sequential work per step
This lesson trains the app's own model (`apps.char_lm.model.build_model`, stateful, `tbptt_batches`,
`ResetStates`) once per chunk length under the same budget of *CPU* seconds (`CpuBudget`: this process's
processor time, so other jobs on a shared machine do not shorten one run and not another; the suite's
wall-clock `shared.runtime.time_budget.TimeBudget` would) and scores every run the same way: validation loss over
the last 10% of the text read as carried-state streams with 100-character chunks.

What to look for in lessons/images/truncated_bptt.png: validation loss against chunk length (left) and
training characters per second and optimizer updates (right). The best chunk length is where more updates
stop paying for the shorter gradient horizon.

    python lessons/truncated_bptt.py            # the full run (4 x 90 CPU seconds; 12 minutes on 2 shared cores)
    python lessons/truncated_bptt.py --quick    # seconds, for the tests
"""

from __future__ import annotations

import time
import types

import keras

from apps.char_lm import data
from apps.char_lm.model import ResetStates, build_model, reset_states
from lessons import common
from shared.modeling.optimizer import make_optimizer

NAME = "truncated_bptt"
VALIDATION_CHUNK = 100


class CpuBudget(keras.callbacks.Callback):
    """Stops `fit` once this process has used `seconds` of CPU time since training began; counts the steps."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.steps, self.used = seconds, 0, 0.0

    def on_train_begin(self, logs=None):
        self.started = time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.used = time.process_time() - self.started
        if self.used >= self.seconds:
            self.model.stop_training = True


def train_one(ids_train, ids_valid, vocab_size: int, chunk: int, args) -> dict:
    common.seed_everything(args.seed)
    config = types.SimpleNamespace(cell="lstm", units=args.units, layers=1, embedding_dim=32, dropout=0.0)
    model = build_model(config, vocab_size, batch_size=args.batch_size)
    model.compile(optimizer=make_optimizer(args.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    budget = CpuBudget(args.budget_cpu_seconds)
    clock = common.Stopwatch()
    history = model.fit(data.make_dataset(ids_train, args.batch_size, chunk), epochs=1000, verbose=0,
                        callbacks=[ResetStates(), budget])
    seconds = clock.seconds()
    updates = budget.steps  # optimizer updates made within the budget
    reset_states(model)
    validation = model.evaluate(data.make_dataset(ids_valid, args.batch_size, VALIDATION_CHUNK), verbose=0)
    chars = updates * args.batch_size * chunk
    return {"chunk": chunk, "val_loss_nats": float(validation), "updates": updates,
            "train_cpu_seconds": round(budget.used, 1), "train_wall_seconds": round(seconds, 1),
            "train_chars": chars, "chars_per_cpu_second": round(chars / budget.used),
            "chars_per_wall_second": round(chars / seconds),
            "epochs_started": len(history.history.get("loss", [])),
            "last_epoch_train_loss": float(history.history["loss"][-1])}


def main(argv=None) -> dict:
    flags = common.parser(__doc__)
    flags.add_argument("--chunks", type=int, nargs="+", default=[25, 50, 100, 200], help="chunk lengths")
    flags.add_argument("--budget-cpu-seconds", type=float, default=90.0,
                       help="training CPU time per chunk length (this process, all its threads)")
    flags.add_argument("--units", type=int, default=256)
    flags.add_argument("--batch-size", type=int, default=32, help="streams")
    flags.add_argument("--learning-rate", type=float, default=3e-3)
    args = flags.parse_args(argv)
    if args.quick:
        args.chunks, args.budget_cpu_seconds, args.units = [10, 40], 1.5, 16
    started = common.Stopwatch()
    text, source = common.load_text(args.quick, max_chars=60_000 if args.quick else None)
    ids, vocabulary = common.char_ids(text)
    cut = int(len(ids) * 0.9)
    runs = []
    for chunk in args.chunks:
        runs.append(train_one(ids[:cut], ids[cut:], len(vocabulary) + 1, chunk, args))
        print(runs[-1], flush=True)
    results = {"data": source, "model": f"embedding 32 -> LSTM {args.units} -> Dense, stateful (apps/char_lm)",
               "validation_chunk": VALIDATION_CHUNK, "runs": runs,
               "best_chunk": min(runs, key=lambda r: r["val_loss_nats"])["chunk"]}
    common.write_results(NAME, args, results, started)
    plot(results, args)
    return results


def plot(results: dict, args) -> None:
    fig, (left, right) = common.figure()
    chunks = [r["chunk"] for r in results["runs"]]
    left.plot(chunks, [r["val_loss_nats"] for r in results["runs"]], "o-", color="tab:blue")
    left.set(xscale="log", xticks=chunks, xticklabels=[str(c) for c in chunks], xlabel="chunk length (BPTT steps)",
             ylabel="validation loss (nats/char)", title=f"Same {args.budget_cpu_seconds:.0f} CPU s of training each")
    right.plot(chunks, [r["chars_per_cpu_second"] for r in results["runs"]], "o-", color="tab:green",
               label="training chars per CPU second")
    right.set(xscale="log", xticks=chunks, xticklabels=[str(c) for c in chunks], xlabel="chunk length",
              ylabel="characters per CPU second")
    right.set_ylim(0, 1.15 * max(r["chars_per_cpu_second"] for r in results["runs"]))
    for axis in (left, right):
        axis.minorticks_off()  # the log axis' minor labels would crowd the chunk lengths
    twin = right.twinx()
    twin.plot(chunks, [r["updates"] for r in results["runs"]], "s--", color="tab:orange", label="updates")
    twin.set_ylabel("optimizer updates in the budget")
    right.legend(handles=right.get_lines() + twin.get_lines(), fontsize=8)
    right.set_title("Throughput and updates")
    common.save_figure(fig, NAME, args)


if __name__ == "__main__":
    main()
