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

import dataclasses
import math
import time
from typing import ClassVar

import keras
import sacrebleu
import tensorflow as tf

from apps.translator import data
from apps.translator.model import ATTENTION, CELLS, build_model
from apps.translator.translate import MAX_TEXTS, Decoders, make_vectorizers
from shared.runtime import distribute
from shared.modeling.optimizer import make_optimizer
from shared.runtime.config import TrainConfig, option, parse_config
from shared.runtime.data import PARTIAL_DATA_HELP
from shared.modeling.masking import MaskedSparseCategoricalAccuracy, masked_sparse_crossentropy
from shared.runtime.progress import progress
from shared.modeling.text import frame_targets, normalize_reference, truncate_ids
from shared.runtime.time_budget import TimeBudget
from shared.runtime.training import fit
from shared.runtime.run import export_and_finish, start_run


# ---------------------------------------------------------------------------------------------- Config
@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    app: ClassVar[str] = "translator"
    # The sample grammar is learnt by epoch 4 (validation token accuracy 1.0 there, measured); 6 leaves margin
    # and keeps `apps/run_all.py` short (15 epochs took 408 s of a loaded machine for the same answers).
    SAMPLE: ClassVar[dict] = {"epochs": 6}
    QUICK: ClassVar[dict] = {"epochs": 1, "max_examples": 512, "source_vocab_size": 300,
                             "target_vocab_size": 300, "embedding_dim": 16, "units": 16,
                             "eval_examples": 48, "beam_size": 2}

    direction: str = option("en-es", "Which way to translate: English->Spanish or Spanish->English.",
                            choices=data.DIRECTIONS)
    epochs: int = option(15, "Passes over the ~107k training pairs; --max-train-minutes may stop sooner.")
    max_train_minutes: float | None = option(
        None, "Stop training after this many minutes (mid-epoch); the best checkpoint is kept.")
    batch_size: int = option(256, "Sentences are short (7 words on average); on 2 CPU cores 256 pairs per "
                             "step trained ~1.9x as many pairs/s as 128 (fixed per-step costs).")
    learning_rate: float = option(2e-3, "Adam's step size: 2e-3 learned ~2x faster than 1e-3 on the sample.")
    clipnorm: float = option(0.0, "Off: gradient norms stayed below ~3 here, and with clipping on, "
                             "Keras' Adam learned ~2x slower (dense embedding updates; see README).")
    source_vocab_size: int = option(15000, "Source words kept (rest -> [UNK]); 15k covers 98.7% of Spanish.")
    target_vocab_size: int = option(10000, "Target words kept (99.6% of English, 97.4% of Spanish tokens); "
                                    "each costs output-layer time at every step.")
    max_source_tokens: int = option(40, "Longer sources are cut (99% of sentences have at most 16 tokens).")
    max_target_tokens: int = option(40, "Training pairs with longer targets are dropped.")
    max_output_tokens: int = option(60, "Hard bound on a translation's length (also 2 x source + 10).")
    embedding_dim: int = option(256, "Word vector size, both languages; also the size before the softmax.")
    cell: str = option("gru", "GRU: as good as LSTM here, cheaper on CPU.", choices=tuple(CELLS))
    units: int = option(256, "Encoder units per direction; the decoder has twice as many.")
    attention: str = option("luong", "Attention over the source at every output step, or none (see README).",
                            choices=ATTENTION)
    dropout: float = option(0.2, "Dropout before the output layer.")
    embedding_dropout: float = option(0.1, "Drops embedding channels per sentence.")
    beam_size: int = option(4, "Beams kept by the serving_default signature's beam search.")
    length_penalty: float = option(1.0, "Beam answers are ranked by log-probability / length ** this.")
    halve_lr_on_plateau: bool = option(
        True, "Halve the learning rate after an epoch whose validation loss did not improve.")
    max_examples: int | None = option(None, "Use only this many training pairs (--quick sets it).")
    partial_data: bool = option(False, PARTIAL_DATA_HELP)
    eval_examples: int | None = option(None, "Score BLEU on only this many test pairs (default: all).")
    mixed_precision: bool = option(
        True, "Train with bfloat16 matrix products (fast on AMX/AVX512-BF16 CPUs); export in float32.")

    def __post_init__(self):
        super().__post_init__()
        if min(self.source_vocab_size, self.target_vocab_size) < 8:
            raise ValueError("--source-vocab-size and --target-vocab-size must be at least 8.")
        if self.beam_size < 1 or self.max_source_tokens < 1 or self.max_output_tokens < 1:
            raise ValueError("--beam-size, --max-source-tokens and --max-output-tokens must be >= 1.")


def translate_all(function, texts: list[str], batch_size: int = MAX_TEXTS) -> tuple[list[str], float]:
    """Run a serving function over `texts` in batches (at most the signature's limit): (translations, seconds)."""
    started, out = time.perf_counter(), []
    starts = range(0, len(texts), batch_size)
    for begin in progress(starts, total=len(starts), label=f"translating {len(texts)} sentences"):
        result = function(tf.constant(texts[begin:begin + batch_size]))["translation"]
        out += [t.decode("utf-8") for t in result.numpy()]
    return out, time.perf_counter() - started


def main(argv=None, extra_callbacks=()):
    config = parse_config(Config, argv, __doc__.split("\n")[0])
    start_run(config)

    # ---------------------------------------------------------------------------------------- Data
    pairs = data.load_sample(config.seed) if config.sample else data.load_real(config.data_dir, config.partial_data)
    splits = data.split(pairs, config.seed)
    train, validation, test = splits["train"].take(config.max_examples), splits["validation"], splits["test"]
    if config.max_examples is not None:  # a quick run also validates on a small slice
        validation = validation.take(max(config.max_examples // 8, 16))
    (train_src, train_tgt), (val_src, val_tgt), (test_src, test_tgt) = (
        part.oriented(config.direction) for part in (train, validation, test))
    test_src, test_tgt = test_src[:config.eval_examples], test_tgt[:config.eval_examples]
    source_vectorizer, target_vectorizer = make_vectorizers(
        train_src, train_tgt, config.source_vocab_size, config.target_vocab_size)

    def encode(sources, targets, drop_long):
        target_ids = target_vectorizer(tf.constant(targets))
        keep = target_ids.row_lengths() <= config.max_target_tokens if drop_long else None
        source_ids = truncate_ids(source_vectorizer(tf.constant(sources)), config.max_source_tokens, "head")
        framed = frame_targets(target_ids, config.max_target_tokens)
        if keep is not None:  # a cut target would teach the decoder to stop mid-sentence
            source_ids, framed = tf.boolean_mask(source_ids, keep), tf.boolean_mask(framed, keep)
        return source_ids, framed

    train_ids = encode(train_src, train_tgt, drop_long=True)
    batch_size = distribute.global_batch_size(config)  # --batch-size x replicas (1 without --distribute)
    train_data = data.make_dataset(*train_ids, batch_size, training=True, seed=config.seed)
    validation_data = data.make_dataset(*encode(val_src, val_tgt, False), batch_size, training=False)
    test_data = data.make_dataset(*encode(test_src, test_tgt, False), batch_size, training=False)
    print(f"{config.direction}: {len(train_ids[0])} training pairs, {len(val_src)} validation, "
          f"{len(test_src)} test; vocabularies {source_vectorizer.vocabulary_size()} -> "
          f"{target_vectorizer.vocabulary_size()}")

    # --------------------------------------------------------------------------------------- Model
    vocab_sizes = (source_vectorizer.vocabulary_size(), target_vectorizer.vocabulary_size())
    with distribute.scope():  # variables mirrored on every replica under --distribute
        model = build_model(config, *vocab_sizes, "mixed_bfloat16" if config.mixed_precision else "float32")
        model.compile(optimizer=make_optimizer(config.learning_rate, config.clipnorm),
                      loss=masked_sparse_crossentropy(pad_id=0),
                      metrics=[MaskedSparseCategoricalAccuracy(pad_id=0, name="accuracy")])
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
        trained, model = model, build_model(config, *vocab_sizes, "float32")
        model.set_weights(trained.get_weights())
        model.compile(loss=masked_sparse_crossentropy(pad_id=0),
                      metrics=[MaskedSparseCategoricalAccuracy(pad_id=0, name="accuracy")])
    test_loss, test_accuracy = model.evaluate(test_data, verbose=0)
    decoders = Decoders(source_vectorizer, target_vectorizer, model, config)
    spec = [tf.TensorSpec([None], tf.string, name="text")]
    functions = {"greedy": tf.function(decoders.greedy, input_signature=spec),
                 "beam": tf.function(decoders.beam, input_signature=spec)}
    references = [r.decode("utf-8") for r in normalize_reference(tf.constant(test_tgt)).numpy()]
    bleu, speed, examples = {}, {}, {}
    for name, function in functions.items():
        hypotheses, seconds = translate_all(function, test_src)
        bleu[name] = sacrebleu.corpus_bleu(hypotheses, [references]).score
        speed[name] = len(test_src) / seconds
        examples[name] = [{"source": s, "reference": r, "translation": h}
                          for s, r, h in list(zip(test_src, references, hypotheses))[:8]]
    metrics = {
        "direction": config.direction, "bleu_greedy": bleu["greedy"], "bleu_beam": bleu["beam"],
        "test_accuracy": float(test_accuracy), "test_loss": float(test_loss),
        "best_val_loss": min((h.get("val_loss", math.inf) for h in result.history), default=None),
        "train_pairs": len(train_ids[0]), "test_pairs": len(test_src),
        "epochs_completed": len(result.history), "train_seconds": result.seconds,
        "pairs_per_second": result.epochs_this_run * steps_per_epoch * batch_size / result.seconds,
        "eval_translations_per_second": speed, "examples": examples,
        "data": "sample" if config.sample else "spa_eng", "history": result.history,
    }
    print(f"{config.direction} test BLEU greedy {bleu['greedy']:.2f}, beam({config.beam_size}) "
          f"{bleu['beam']:.2f}; token accuracy {test_accuracy:.4f}; trained {result.seconds:.0f} s")

    # -------------------------------------------------------------------------------------- Export
    endpoints = {"serving_default": (decoders.beam, spec), "greedy": (decoders.greedy, spec),
                 "attention": (decoders.with_attention, spec)}
    return export_and_finish(config, endpoints, track=[source_vectorizer, model], metrics=metrics,
                             check_request={"instances": [test_src[0], ""]})

if __name__ == "__main__":
    main()
