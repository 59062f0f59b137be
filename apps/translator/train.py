"""Train the English <-> Spanish seq2seq translator, measure BLEU, and export it for TF Serving.

Usage:
    python apps/translator/train.py --sample                                  # offline grammar, ~1 minute
    python apps/translator/train.py --data-dir ../shared/data/spa_eng --direction es-en
    python apps/translator/train.py --direction en-es                          # download (needs internet)
    python apps/translator/train.py --data-dir ... --max-train-minutes 40      # a time budget
    python apps/translator/train.py --data-dir ... --resume                    # continue an interrupted run
    python apps/translator/train.py --help                                     # every flag, with its reason

Writes runs/translator/ (config.json, metrics.json, history.csv, checkpoints/, logs/) and exports
saved_models/translator/<N>/ with three signatures, all taking `text` (string [batch], raw sentences):
    serving_default  -> translation (string [batch]), beam search (--beam-size beams)
    greedy           -> translation, greedy decoding (faster)
    attention        -> translation, source_tokens, target_tokens, attention [batch, out, in] (greedy)
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from apps.translator import data
from apps.translator.config import Config
from apps.translator.metrics import score_decoders
from apps.translator.model import build_model, compile_model, float32_copy
from apps.translator.serve import TEXT_SPEC, Decoders, endpoints, example_requests
from shared.modeling.casing import TrueCaser, learn_casing
from shared.modeling.optimizer import make_optimizer
from shared.runtime import distribute
from shared.runtime.config import parse_config
from shared.runtime.run import export_and_finish, start_run
from shared.runtime.time_budget import TimeBudget
from shared.runtime.training import fit


def main(argv=None, extra_callbacks=()):
    # ---------------------------------------------------------------------------------------- Config
    config = parse_config(Config, argv, __doc__.split("\n")[0])
    start_run(config)

    # ---------------------------------------------------------------------------------------- Data
    splits = data.oriented_splits(config)
    (train_src, train_tgt), (val_src, val_tgt), (test_src, test_tgt) = (
        splits[name] for name in ("train", "validation", "test"))
    vectorizers = data.make_vectorizers(train_src, train_tgt, config.source_vocab_size, config.target_vocab_size)
    train_ids = data.encode_pairs(train_src, train_tgt, *vectorizers, config, drop_long=True)
    batch_size = distribute.global_batch_size(config)  # --batch-size x replicas (1 without --distribute)
    train_data = data.make_dataset(*train_ids, batch_size, training=True, seed=config.seed)
    validation_data, test_data = (
        data.make_dataset(*data.encode_pairs(sources, targets, *vectorizers, config), batch_size, training=False)
        for sources, targets in ((val_src, val_tgt), (test_src, test_tgt)))
    vocab_sizes = tuple(vectorizer.vocabulary_size() for vectorizer in vectorizers)
    print(f"{config.direction}: {len(train_ids[0])} training pairs, {len(val_src)} validation, "
          f"{len(test_src)} test; vocabularies {vocab_sizes[0]} -> {vocab_sizes[1]}")

    # --------------------------------------------------------------------------------------- Model
    with distribute.scope():  # variables mirrored on every replica under --distribute
        model = build_model(config, *vocab_sizes, "mixed_bfloat16" if config.mixed_precision else "float32")
        compile_model(model, make_optimizer(config.learning_rate, config.clipnorm))
    model.summary(print_fn=lambda line, **_: print(line))

    # --------------------------------------------------------------------------------------- Train
    steps_per_epoch = math.ceil(len(train_ids[0]) / batch_size)
    plateau = [keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=0, verbose=1)
               ] if config.halve_lr_on_plateau else []
    result = fit(model, train_data, validation_data, config, monitor="val_loss", mode="min",
                 steps_per_epoch=steps_per_epoch,
                 extra_callbacks=[TimeBudget(config.max_train_minutes), *plateau, *extra_callbacks])

    # ------------------------------------------------------------------------------------ Evaluate
    if config.mixed_precision:  # the same weights in a float32 model: what is measured is what is served
        model = float32_copy(model, config, *vocab_sizes)
    test_loss, test_accuracy = model.evaluate(test_data, verbose=0)
    caser = TrueCaser(learn_casing(train_tgt))  # the model writes lower case; people read "Tom", "I", "Japón"
    decoders = Decoders(vectorizers[0], vectorizers[1], model, config, caser)
    functions = {"greedy": tf.function(decoders.greedy, input_signature=TEXT_SPEC),
                 "beam": tf.function(decoders.beam, input_signature=TEXT_SPEC)}
    scores = score_decoders(functions, test_src, test_tgt)
    bleu = scores["bleu"]
    metrics = {
        "direction": config.direction, "split": config.split, "bleu_greedy": bleu["greedy"],
        "bleu_beam": bleu["beam"], **{f"{name}_{decoder}": value for name in ("bleu_lowercase", "chrf")
                                      for decoder, value in scores[name].items()},
        "test_accuracy": float(test_accuracy), "test_loss": float(test_loss),
        "best_val_loss": min((h.get("val_loss", math.inf) for h in result.history), default=None),
        "train_pairs": len(train_ids[0]), "test_pairs": len(test_src),
        "epochs_completed": len(result.history), "train_seconds": result.seconds,
        "pairs_per_second": result.epochs_this_run * steps_per_epoch * batch_size / result.seconds,
        "eval_translations_per_second": scores["speed"], "examples": scores["examples"],
        "data": "sample" if config.sample else "spa_eng", "history": result.history,
    }
    if config.split == "strict":  # the random split's test set, for continuity (near duplicates included)
        random_src, random_tgt = splits["test_random"]
        random_scores = score_decoders({"beam": functions["beam"]}, random_src, random_tgt, shown=0)
        metrics["random_split"] = {"test_pairs": len(random_src), **{
            f"{name}_beam": random_scores[name]["beam"] for name in ("bleu", "bleu_lowercase", "chrf")}}
    print(f"{config.direction} {config.split} test, cased BLEU greedy {bleu['greedy']:.2f}, beam({config.beam_size}) "
          f"{bleu['beam']:.2f}, chrF beam {scores['chrf']['beam']:.2f}; token accuracy {test_accuracy:.4f}; trained {result.seconds:.0f} s")

    # -------------------------------------------------------------------------------------- Export
    # Checked and warmed with the first test sentence and an empty one (serve.example_requests says why
    # not with the English demo, which comes first). One request: metrics.json's bare_tf_check is its answer.
    check = example_requests(check_sentence=test_src[0])[1].body
    return export_and_finish(config, endpoints(decoders), track=[vectorizers[0], model, caser], metrics=metrics,
                             check_request=check)


if __name__ == "__main__":
    main()
