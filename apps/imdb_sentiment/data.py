"""IMDb reviews: load the real dataset (or the offline sample) and build `tf.data` pipelines.

Real data: the Large Movie Review Dataset (Maas et al., 2011), 25,000 training and 25,000 test reviews,
half positive, half negative. `--data-dir` may point at either layout:
    imdb_reviews.jsonl.gz         one JSON object per review: split, label, text (../shared/data/imdb)
    aclImdb/{train,test}/{pos,neg}/*.txt   the original archive
Without `--data-dir`, the download goes through TensorFlow Datasets (`imdb_reviews`), which writes
the first layout into the cache, and falls back to the original archive.
The validation set is a seeded slice of the training split; the test split is only for the final figure.

Offline sample (`--sample`): `sample_reviews` writes short reviews from a small grammar. Their label hangs on
word order ("not good" is negative, "not bad" positive), so a bag of words cannot solve them but a
recurrent model can: a small lesson in why sequence models exist.
"""

from __future__ import annotations

import gzip
import json
import pathlib
import random
import tarfile
import typing

import numpy as np
import tensorflow as tf

from shared.modeling.text import truncate_ids
from shared.runtime.data import DataCorruptError, check_counts, read_jsonl_gz, require_keys, resolve_data_dir

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
LABELS = ("negative", "positive")  # index = label id
FULL_COUNTS = {"train reviews": 25000, "test reviews": 25000}  # what a whole copy holds (checked on load)


class Reviews(typing.NamedTuple):
    texts: list[str]
    labels: np.ndarray  # int32, 1 = positive


def download_with_tfds(cache: pathlib.Path) -> pathlib.Path:
    """IMDb through TensorFlow Datasets (`imdb_reviews`, as the TensorFlow tutorials load it), written to
    `cache/imdb_reviews.jsonl.gz`: the same file `--data-dir` reads, so every later run reads it alike.

    Needs the `datasets` extra (`pip install rnn-suite[datasets]`; requirements.txt has it).
    """
    import tensorflow_datasets as tfds  # only this download path needs it

    target = cache / "imdb_reviews.jsonl.gz"
    records = [{"split": split, "label": int(label), "text": text.decode("utf-8", errors="replace")}
               for split in ("train", "test")
               for text, label in tfds.as_numpy(tfds.load("imdb_reviews", split=split, as_supervised=True,
                                                          data_dir=str(cache / "tfds")))]
    partial = target.with_name(target.name + ".partial")  # renamed into place whole: never half a file
    with gzip.open(partial, "wt", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    partial.replace(target)
    return target


def _download(cache: pathlib.Path) -> None:
    """TensorFlow Datasets first; the Stanford archive (keras.utils.get_file) if that fails."""
    try:
        download_with_tfds(cache)
        return
    except Exception as error:  # noqa: BLE001  (a missing extra, or network errors of many types)
        print(f"TensorFlow Datasets could not provide imdb_reviews ({type(error).__name__}: {error}); "
              f"downloading {URL} instead.")
    import keras  # only the download needs it

    archive = keras.utils.get_file("aclImdb_v1.tar.gz", URL, cache_dir=str(cache), cache_subdir="")
    with tarfile.open(archive) as tar:
        tar.extractall(cache, filter="data")


def _read_acl_folder(root: pathlib.Path, split: str) -> Reviews:
    texts, labels = [], []
    for label, folder in enumerate(("neg", "pos")):
        files = sorted((root / split / folder).glob("*.txt"))
        if not files:
            raise DataCorruptError(f"{root / split / folder} holds no review files (*.txt).")
        for path in files:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
            labels.append(label)
    return Reviews(texts, np.asarray(labels, np.int32))


def load_real(data_dir: str | None, partial: bool = False) -> dict[str, Reviews]:
    """{"train": ..., "test": ...} from `data_dir`, the cache or a download.

    Unless `partial` (--partial-data: a subset of your own), a copy without all 25,000 + 25,000 reviews
    raises DataCorruptError naming the file and the counts.
    """
    root = resolve_data_dir("imdb_sentiment", data_dir, ["imdb_reviews.jsonl.gz", "aclImdb/train"],
                            download=_download)
    if (root / "imdb_reviews.jsonl.gz").exists():
        source = root / "imdb_reviews.jsonl.gz"
        records = read_jsonl_gz(source)
        require_keys(records, ("split", "label", "text"), str(source))
        splits = {}
        for split in ("train", "test"):
            rows = [r for r in records if r["split"] == split]
            if not rows:
                raise DataCorruptError(f"{source} has no '{split}' reviews.")
            splits[split] = Reviews([r["text"] for r in rows], np.asarray([r["label"] for r in rows], np.int32))
    else:
        source = root / "aclImdb"
        splits = {split: _read_acl_folder(source, split) for split in ("train", "test")}
    check_counts(source, {f"{split} reviews": len(reviews.texts) for split, reviews in splits.items()},
                 FULL_COUNTS, "IMDb dataset", partial)
    return splits


# The sample grammar. A review is two to four clauses; each clause's polarity comes from an adjective,
# flipped by a negation in front of it. The review's label is the polarity of its *last* clause ("At first
# I thought it was good, but in the end it was not"), so order matters twice over.
_SUBJECTS = ["the film", "this movie", "the acting", "the plot", "the ending", "the script", "the score",
             "the cast", "the director's work", "the dialogue"]
_POSITIVE = ["good", "great", "wonderful", "moving", "brilliant", "funny", "clever", "beautiful"]
_NEGATIVE = ["bad", "boring", "awful", "dull", "terrible", "silly", "weak", "painful"]
_NEGATIONS = ["not", "never", "hardly"]
_OPENERS = ["at first", "honestly", "to be fair", "i admit", "for a while"]
_TURNS = ["but in the end", "however", "yet overall", "still, in the end"]


def _clause(rng: random.Random, polarity: int) -> str:
    negate = rng.random() < 0.5
    words = _POSITIVE if (polarity == 1) != negate else _NEGATIVE
    negation = rng.choice(_NEGATIONS) + " " if negate else ""
    return f"{rng.choice(_SUBJECTS)} was {negation}{rng.choice(words)}"


def sample_reviews(count: int, seed: int) -> Reviews:
    """`count` generated reviews, half positive, deterministic for a seed."""
    rng = random.Random(seed)
    texts, labels = [], []
    for index in range(count):
        label = index % 2
        clauses = [_clause(rng, rng.randint(0, 1)) for _ in range(rng.randint(1, 3))]
        review = f"{rng.choice(_OPENERS)} {', '.join(clauses)}. {rng.choice(_TURNS)} {_clause(rng, label)}."
        texts.append(review.capitalize())
        labels.append(label)
    order = list(range(count))
    rng.shuffle(order)
    return Reviews([texts[i] for i in order], np.asarray([labels[i] for i in order], np.int32))


def load_sample(seed: int, count: int = 4000) -> dict[str, Reviews]:
    """The offline dataset: a generated train split and a test split from a different seed."""
    return {"train": sample_reviews(count, seed), "test": sample_reviews(count // 4, seed + 1)}


def split_validation(reviews: Reviews, fraction: float, seed: int) -> tuple[Reviews, Reviews]:
    """(train, validation): a seeded shuffle of `reviews`, the last `fraction` held out."""
    order = np.random.default_rng(seed).permutation(len(reviews.texts))
    cut = len(order) - max(1, int(len(order) * fraction))
    pick = lambda ids: Reviews([reviews.texts[i] for i in ids], reviews.labels[ids])  # noqa: E731
    return pick(order[:cut]), pick(order[cut:])


def limit(reviews: Reviews, count: int | None) -> Reviews:
    """The first `count` reviews (all when count is None); used by --quick."""
    if count is None:
        return reviews
    return Reviews(reviews.texts[:count], reviews.labels[:count])


def encode(vectorizer, texts, config) -> tf.Tensor:
    """Review strings -> token ids [batch, at most config.max_tokens], cut as `--keep` says.

    One function for training and serving (serve.py), so the export reads a review exactly as training did.
    """
    return truncate_ids(vectorizer(texts), config.max_tokens, config.keep)


def make_dataset(token_ids: tf.Tensor, labels: np.ndarray, batch_size: int, *, training: bool,
                 seed: int = 0) -> tf.data.Dataset:
    """Batches of (ids [batch, time], label [batch]), padded only to the batch's longest review.

    Training batches are built from length-sorted windows of 32 batches, then shuffled: reviews of
    similar length share a batch, so little time is spent stepping the RNN over padding. The training
    stream repeats forever (the caller sets steps_per_epoch), because bucketing makes the number of
    batches per pass vary and Keras would otherwise stop early when a pass comes up short.
    """
    lengths = tf.reduce_sum(tf.cast(token_ids != 0, tf.int32), axis=1)
    dataset = tf.data.Dataset.from_tensor_slices((token_ids, lengths, labels))
    if training:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).repeat()
        window = 32 * batch_size
        dataset = dataset.batch(window).map(
            lambda ids, n, y: tuple(tf.gather(t, tf.argsort(n)) for t in (ids, n, y))).unbatch()
    dataset = dataset.batch(batch_size).map(
        lambda ids, n, y: (ids[:, :tf.maximum(tf.reduce_max(n), 1)], y))
    if training:
        dataset = dataset.shuffle(64, seed=seed)
    return dataset.prefetch(tf.data.AUTOTUNE)
