"""Rare words in the translator: how often a word vocabulary misses, and what copying [UNK]s is worth.

Usage:
    python benchmarks/translator_rare_words.py --data-dir ../shared/data/spa_eng \
        --runs runs/benchmarks/translator/es-en runs/benchmarks/translator/en-es

For each run folder (a `benchmarks/translator.py` run: config.json, and the export metrics.json names)
it rebuilds the run's split and target vocabulary (adapting is deterministic), translates the strict test
sources with the export's serving_default (beam search, in this process) and measures:
- how many source and reference words fall outside the vocabularies (the rare words);
- the words the export *copied* from the source in place of an [UNK] (Luong et al., 2015; a copied word
  is an output word outside the target vocabulary) and how many of those are right (in the reference:
  names, numbers) or wrong (a Spanish word left in English, "afectarán");
- cased BLEU with the copies, and with them removed (what the same decoder writes without copying:
  nothing where the [UNK] was), on all test sentences and on those whose source has a rare word.
Writes benchmarks/results/translator_rare_words.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib

import sacrebleu
import tensorflow as tf

from apps.translator import data
from apps.translator.config import Config
from apps.translator.metrics import translate_all
from benchmarks.common import machine
from shared.modeling.text import join_words, make_target_vectorizer, make_word_vectorizer, words_of
from shared.runtime.config import load_config
from shared.runtime.run import RunFolder

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def translate(export_path: str, sources: list[str]) -> list[str]:
    """The export's serving_default (beam search) on every source, loaded as TF Serving would load it."""
    signature = tf.saved_model.load(export_path).signatures["serving_default"]
    return translate_all(lambda text: signature(text=text), sources)[0]


def measure(run_dir: pathlib.Path, data_dir: str) -> dict:
    config = dataclasses.replace(load_config(run_dir, Config), data_dir=data_dir)
    splits = data.oriented_splits(config)
    (train_src, train_tgt), (test_src, test_tgt) = splits["train"], splits["test"]
    source_vocabulary = set(make_word_vectorizer(config.source_vocab_size, train_src).get_vocabulary())
    target_vocabulary = set(make_target_vectorizer(config.target_vocab_size, train_tgt).get_vocabulary())
    export = json.loads(RunFolder(run_dir).metrics.read_text())["export_path"]
    hypotheses = translate(export, test_src)

    source_words, reference_words = words_of(test_src), words_of(test_tgt)
    rare_source = [[w for w in row if w not in source_vocabulary] for row in source_words]
    cased_output = words_of(hypotheses, lower=False)
    copies = [[w for w in row if w.lower() not in target_vocabulary] for row in cased_output]
    right = sum(w.lower() in set(ref) for row, ref in zip(copies, reference_words) for w in row)
    without = [[w for w in row if w.lower() in target_vocabulary] for row in cased_output]
    width = max([len(row) for row in without] + [1])
    no_copy = [t.decode("utf-8") for t in join_words(tf.constant(
        [row + [""] * (width - len(row)) for row in without], tf.string)).numpy()]

    def bleu(picks):
        picked = [i for i in range(len(test_src)) if picks(i)]
        if not picked:
            return None
        refs = [[test_tgt[i] for i in picked]]
        return {"sentences": len(picked),
                "with_copies": sacrebleu.corpus_bleu([hypotheses[i] for i in picked], refs).score,
                "copies_removed": sacrebleu.corpus_bleu([no_copy[i] for i in picked], refs).score}

    copied = sum(map(len, copies))
    return {
        "direction": config.direction, "test_pairs": len(test_src), "export": export,
        "source_vocab_size": config.source_vocab_size, "target_vocab_size": config.target_vocab_size,
        "source_words_outside_vocabulary": sum(map(len, rare_source)) / max(sum(map(len, source_words)), 1),
        "reference_words_outside_vocabulary": sum(w not in target_vocabulary for row in reference_words
                                                  for w in row) / max(sum(map(len, reference_words)), 1),
        "sentences_with_a_rare_source_word": sum(bool(row) for row in rare_source) / len(test_src),
        "copied_words": copied, "copied_words_in_reference": right,
        "copy_precision": right / copied if copied else None,
        "copy_examples": [{"source": test_src[i], "reference": test_tgt[i], "translation": hypotheses[i],
                           "copied": copies[i]} for i in range(len(test_src)) if copies[i]][:12],
        "bleu_all": bleu(lambda i: True),
        "bleu_rare_source": bleu(lambda i: bool(rare_source[i])),
        "bleu_no_rare_source": bleu(lambda i: not rare_source[i]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", nargs="+", required=True, help="benchmarks/translator.py run folders")
    parser.add_argument("--data-dir", required=True, help="the spa-eng corpus the runs were trained on")
    parser.add_argument("--tag", default="translator_rare_words", help="results file name: results/<tag>.json")
    args = parser.parse_args(argv)
    result = {"app": "translator", "directions": {}, "machine": machine(),
              "command": "python benchmarks/translator_rare_words.py --data-dir " + args.data_dir
              + " --runs " + " ".join(args.runs)}
    for run in args.runs:
        measured = measure(pathlib.Path(run), args.data_dir)
        result["directions"][measured["direction"]] = measured
        print(json.dumps({k: v for k, v in measured.items() if k != "copy_examples"}, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.tag}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


if __name__ == "__main__":
    main()
