"""Does the IMDb classifier hold up on short, one-sentence reviews in other styles? Accuracy of its exports.

Usage:
    python benchmarks/imdb_short_reviews.py --data-dir DIR --imdb-dir ../shared/data/imdb \
        --model-dirs runs/benchmarks/imdb_sentiment/saved_models/imdb_sentiment/1 ...

The reviews are UCI's "Sentiment Labelled Sentences" (Kotzias, Denil, de Freitas and Smyth, KDD 2015;
https://archive.ics.uci.edu/dataset/331/sentiment+labelled+sentences, CC BY 4.0): 1,000 one-sentence
reviews from each of Amazon (phones and accessories), Yelp (restaurants) and IMDb, 500 positive and 500
negative, each line `sentence<TAB>label`. `--data-dir` is the folder holding `amazon_cells_labelled.txt`,
`yelp_labelled.txt` and `imdb_labelled.txt`; without it the zip is downloaded (needs internet).

For comparison, `--imdb-dir` adds the IMDb test split's reviews by length (the shortest 1,000, and all).
Each export (one per benchmark seed) is loaded with TensorFlow and its serving_default signature answers
every sentence, exactly as TF Serving would. Writes benchmarks/results/imdb_short_reviews.json.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics

import numpy as np
import tensorflow as tf

from apps.imdb_sentiment import data
from apps.imdb_sentiment.serve import MAX_TEXTS
from benchmarks.common import machine
from shared.runtime.data import DataCorruptError

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
URL = "https://archive.ics.uci.edu/static/public/331/sentiment+labelled+sentences.zip"
SOURCES = {"amazon": "amazon_cells_labelled.txt", "yelp": "yelp_labelled.txt", "imdb_one_sentence": "imdb_labelled.txt"}


def _download() -> pathlib.Path:
    import zipfile

    import keras

    archive = keras.utils.get_file("sentiment_labelled_sentences.zip", URL, cache_subdir="datasets/uci_sentiment")
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(pathlib.Path(archive).parent)
    return pathlib.Path(archive).parent / "sentiment labelled sentences"


def load_sentences(data_dir: str | None) -> dict[str, tuple[list[str], np.ndarray]]:
    """{source: (sentences, labels)}; each line is `sentence<TAB>0|1` (split on the last tab)."""
    root = pathlib.Path(data_dir) if data_dir else _download()
    out = {}
    for name, file in SOURCES.items():
        path = root / file
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: --data-dir must hold {', '.join(SOURCES.values())}.")
        texts, labels = [], []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            text, _, label = line.rpartition("\t")
            if label.strip() not in ("0", "1") or not text.strip():
                raise DataCorruptError(f"{path} line {number} is not 'sentence<TAB>0|1': {line[:80]!r}")
            texts.append(text.strip())
            labels.append(int(label))
        out[name] = (texts, np.asarray(labels, np.int32))
    return out


def probabilities(export: str, texts: list[str]) -> np.ndarray:
    """P(positive) of every text from the export's serving_default, in requests of MAX_TEXTS."""
    serve = tf.saved_model.load(export).signatures["serving_default"]
    return np.concatenate([serve(text=tf.constant(texts[i:i + MAX_TEXTS]))["probability"].numpy()
                           for i in range(0, len(texts), MAX_TEXTS)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dirs", nargs="+", required=True, help="IMDb exports (one per seed)")
    parser.add_argument("--data-dir", help="folder with the UCI *_labelled.txt files (default: download)")
    parser.add_argument("--imdb-dir", help="IMDb data (as for train.py) for the test split by length")
    args = parser.parse_args(argv)

    sets = load_sentences(args.data_dir)
    if args.imdb_dir:
        test = data.load_real(args.imdb_dir)["test"]
        words = np.asarray([len(t.split()) for t in test.texts])
        shortest = np.argsort(words, kind="stable")[:1000]
        sets["imdb_test_shortest_1000"] = ([test.texts[i] for i in shortest], test.labels[shortest])
        sets["imdb_test_all"] = (list(test.texts), test.labels)
    result = {"app": "imdb_sentiment", "exports": args.model_dirs, "sets": {}}
    for name, (texts, labels) in sets.items():
        accuracy, false_negative, false_positive = [], [], []
        for export in args.model_dirs:
            predicted = probabilities(export, texts) >= 0.5
            accuracy.append(float(np.mean(predicted == labels.astype(bool))))
            false_negative.append(float(np.mean(~predicted[labels == 1])))
            false_positive.append(float(np.mean(predicted[labels == 0])))
        result["sets"][name] = {
            "reviews": len(texts), "mean_words": float(np.mean([len(t.split()) for t in texts])),
            "accuracy": statistics.mean(accuracy), "accuracy_per_export": accuracy,
            "positives_called_negative": statistics.mean(false_negative),
            "negatives_called_positive": statistics.mean(false_positive)}
        print(f"{name}: {len(texts)} reviews, accuracy {statistics.mean(accuracy):.4f} "
              f"(per export {', '.join(f'{a:.4f}' for a in accuracy)})")
    result["machine"] = machine()
    result["command"] = "python benchmarks/imdb_short_reviews.py " + " ".join(
        (["--data-dir", args.data_dir] if args.data_dir else []) + (["--imdb-dir", args.imdb_dir] if args.imdb_dir else [])
        + ["--model-dirs", *args.model_dirs])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "imdb_short_reviews.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
