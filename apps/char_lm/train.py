"""Train the character-level language model with truncated BPTT, measure it, and export the generator.

Usage:
    python apps/char_lm/train.py --sample                                  # offline: stdlib source, ~1 min
    python apps/char_lm/train.py --data-dir ../shared/data/tinyshakespeare # Karpathy's tinyshakespeare
    python apps/char_lm/train.py --corpus mysterious_island --data-dir ../shared/data/mysterious_island
    python apps/char_lm/train.py --cell gru --layers 1 --units 1024 ...    # any architecture
    python apps/char_lm/train.py --data-dir ... --resume                   # continue an interrupted run
    python apps/char_lm/train.py --help                                    # every flag, with its reason

Writes runs/char_lm/ (config.json, vocabulary.json, metrics.json, history.csv, checkpoints/, logs/) and
exports saved_models/char_lm/<N>/ with three signatures:
    serving_default  prompt (string [batch]), num_chars (int32), temperature (float32) -> text (string [batch])
    generate         the same plus top_k (int32) and seed (int64)
    score            text (string [batch]) -> bits_per_char (float [batch]), num_chars (int32 [batch])
"""

from __future__ import annotations

import json
import math

from apps.char_lm import data
from apps.char_lm.config import Config
from apps.char_lm.model import ResetStates, build_model, compile_for_training, reset_states
from apps.char_lm.serve import CharStepper, check_requests, export_endpoints
from shared.runtime import distribute
from shared.runtime.config import parse_config
from shared.runtime.run import export_and_finish, start_run
from shared.runtime.time_budget import TimeBudget
from shared.runtime.training import fit


def main(argv=None, extra_callbacks=()):
    # -------------------------------------------------------------------------------------- Config
    config = parse_config(Config, argv, __doc__)
    run_dir = start_run(config)
    if not (run_dir / "backup").exists():  # a fresh start: forget earlier runs' training time
        (run_dir / "train_seconds.json").unlink(missing_ok=True)

    # ---------------------------------------------------------------------------------------- Data
    text = data.load_text(config)
    train_text, validation_text = data.split_text(text, config.validation_fraction)
    vocabulary = data.build_vocabulary(train_text)  # from the training part only
    (run_dir / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False) + "\n")
    train_ids, validation_ids = data.encode(train_text, vocabulary), data.encode(validation_text, vocabulary)
    # --batch-size streams per replica. The strategy hands each replica the same rows of every global
    # batch, so a replica's streams stay contiguous from one TBPTT chunk to the next.
    batch_size = distribute.global_batch_size(config)
    train_data = data.make_dataset(train_ids, batch_size, config.seq_length)
    validation_data = data.make_dataset(validation_ids, batch_size, config.seq_length)
    steps_per_epoch = int(train_data.cardinality())
    vocab_size = len(vocabulary) + 1  # + OOV (id 0)
    print(f"{len(train_text):,} training and {len(validation_text):,} validation characters, "
          f"{vocab_size} ids; {steps_per_epoch} TBPTT steps per epoch")

    # --------------------------------------------------------------------------------------- Model
    with distribute.scope():  # variables mirrored on every replica under --distribute
        model = build_model(config, vocab_size, batch_size=config.batch_size)  # stateful, per replica
        compile_for_training(model, config, steps_per_epoch)
    model.summary(print_fn=lambda line, **_: print(line))

    # --------------------------------------------------------------------------------------- Train
    budget = TimeBudget(config.max_train_minutes, run_dir / "train_seconds.json")
    result = fit(model, train_data, validation_data, config, monitor="val_loss", mode="min",
                 extra_callbacks=[ResetStates(), budget, *extra_callbacks])
    budget.record(result.seconds)
    train_seconds = budget.total_seconds()  # every process of this run (resumes included)

    # ------------------------------------------------------------------------------------ Evaluate
    # The best checkpoint is loaded; one more pass over the validation streams from a zero state.
    reset_states(model)
    val_loss = float(model.evaluate(validation_data, verbose=0))
    history = result.history
    metrics = {
        "val_loss_nats": val_loss, "bits_per_char": val_loss / math.log(2),
        "train_seconds": train_seconds, "epochs_completed": len(history),
        # Training characters per second of wall time (validation passes included in the time).
        "train_chars_per_second": budget.steps * batch_size * config.seq_length / result.seconds,
        "train_chars": len(train_text), "validation_chars": len(validation_text), "vocab_size": vocab_size,
        "data": "sample" if config.sample else config.corpus,
        "history": history,
    }
    print(f"validation loss {val_loss:.4f} nats/char = {metrics['bits_per_char']:.4f} bits/char; "
          f"trained {train_seconds:.0f} s")

    # -------------------------------------------------------------------------------------- Export
    inference = build_model(config, vocab_size)  # stateless twin: any batch size, same weights
    inference.set_weights(model.get_weights())
    stepper = CharStepper(inference, vocabulary)
    return export_and_finish(config, export_endpoints(stepper, seed=config.seed, top_k=config.top_k),
                             track=[stepper.lookup, inference], metrics=metrics,
                             check_request=check_requests(validation_text))


if __name__ == "__main__":
    main()
