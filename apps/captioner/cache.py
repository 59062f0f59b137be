"""The feature cache: every image through the encoder once, the training split as sharded TFRecords.

Usage:
    python apps/captioner/cache.py --data-dir ../shared/data/flickr8k --inception-weights none
    (train.py calls the same functions and reuses whatever is already cached)

The encoder is fixed while the decoder trains, so each image goes once through
`shared.modeling.vision.decode_and_preprocess` (the exported graph's own function) and the float32 encoder
(encoder.py trains it first when it must); the pooled vectors are stored in <output-dir>/features/<key>/, the
key naming the encoder weights, input size and data, so a new encoder never reuses stale features.
Validation and test, small, go to eval.npz. The training split is written as it is computed:

    write_shards(folder, "train", feature_batches, captions, shards=8)   # train-00000-of-00008.tfrecord ...
    dataset = caption_stream(shard_files(folder, "train"), vectorizer, dim=2048, max_tokens=20,
                             batch_size=64, training=True, seed=1337)

One record per image: its pooled encoder features (float16 bytes) and all its reference captions. Images go
round-robin into the shards as the encoder produces them, so neither writing nor training ever holds the
whole split's features in memory: the stream reads a few shards at a time, expands each image into one
(features, caption) pair per caption, shuffles within a bounded buffer and batches them for teacher forcing
(`data.teacher_forcing_batches`, as validation does).

Under `--distribute multi-worker` the stream shards by FILE: each worker reads only its own shards
(`shared.runtime.distribute.shard_by_file`), which is why there are several shards even for small data.
Captions are stored as text, so the shards do not depend on the caption vocabulary of a run.
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import typing
import uuid

import keras
import numpy as np
import tensorflow as tf

from apps.captioner.config import Config, resolve_config
from apps.captioner.data import image_dataset, load_splits, teacher_forcing_batches
from apps.captioner.encoder import resolve_encoder
from shared.runtime import distribute
from shared.runtime.config import parse_config
from shared.runtime.progress import progress

SHUFFLE_PAIRS = 4096  # caption pairs in the shuffle buffer: bounded memory whatever the data's size


# ------------------------------------------------------------------------------------ encoder features
def feature_batches(encoder: keras.Model, images: list[bytes], size: int,
                    batch_size: int = 32) -> typing.Iterator[np.ndarray]:
    """Pooled encoder features, [batch, 2048] float16 at a time, through the serving graph's preprocessing."""
    batches = image_dataset(images, size, batch_size)
    for pixels in progress(batches, total=-(-len(images) // batch_size), label=f"features of {len(images)} images"):
        yield encoder(pixels, training=False).numpy().astype(np.float16)


def extract_features(encoder: keras.Model, images: list[bytes], size: int, batch_size: int = 32) -> np.ndarray:
    """Pooled encoder features [len(images), 2048] as float16, all in memory (validation and test)."""
    features = list(feature_batches(encoder, images, size, batch_size))
    return np.concatenate(features) if features else np.zeros((0, encoder.output_shape[-1]), np.float16)


class FeatureShards(typing.NamedTuple):
    """The training split's features on disk: TFRecord shards that `caption_stream` reads."""
    files: list[str]
    shape: tuple[int, int]  # (images, feature size), like the array it stands for


def cached_features(config, splits, encoder: keras.Model, identity: str) -> dict:
    """{"train": FeatureShards, other split: features array}, from the cache when its key matches.

    Otherwise the features are extracted into a staging folder that is renamed into place whole, so an
    interrupted extraction is never read as a cache.
    """
    data_key = hashlib.sha1("".join(i for s in splits.values() for i in s.image_ids).encode()).hexdigest()[:8]
    folder = config.run_dir / "features" / f"{identity}-{data_key}"
    if not folder.exists():
        staging = folder.with_name(f".{folder.name}.partial-{uuid.uuid4().hex[:8]}")
        try:
            staging.mkdir(parents=True)
            if "train" in splits:  # written batch by batch as the encoder goes: never all in memory
                train = splits["train"]
                write_shards(staging, "train", feature_batches(encoder, train.images, config.image_size),
                             train.captions, max(1, min(config.feature_shards, len(train.images))))
            np.savez(staging / "eval.npz", **{name: extract_features(encoder, split.images, config.image_size)
                                              for name, split in splits.items() if name != "train"})
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    dim = encoder.output_shape[-1]
    with np.load(folder / "eval.npz") as cache:
        features = {name: cache[name] for name in splits if name != "train"}
    if "train" in splits:
        features["train"] = FeatureShards(shard_files(folder, "train"), (len(splits["train"].images), dim))
    return features


def encoder_and_features(config, splits) -> tuple[keras.Model, str, dict]:
    """(encoder, its identity, `cached_features`): the run's encoder, trained first if it must be, and its features."""
    encoder, identity = resolve_encoder(config, splits)
    return encoder, identity, cached_features(config, splits, encoder, identity)


# ------------------------------------------------------------------------------------ TFRecord shards
def shard_name(split: str, index: int, shards: int) -> str:
    return f"{split}-{index:05d}-of-{shards:05d}.tfrecord"


def write_shards(folder: str | pathlib.Path, split: str, feature_batches: typing.Iterable[np.ndarray],
                 captions: typing.Sequence[typing.Sequence[str]], shards: int) -> list[pathlib.Path]:
    """Write one record per image (features, captions) round-robin into `shards` files; returns them.

    `feature_batches` yields [batch, dim] arrays in image order (as the encoder produces them).
    """
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}.")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / shard_name(split, index, shards) for index in range(shards)]
    writers = [tf.io.TFRecordWriter(str(path)) for path in paths]
    image = 0
    try:
        for batch in feature_batches:
            for row in np.asarray(batch, np.float16):
                example = tf.train.Example(features=tf.train.Features(feature={
                    "features": tf.train.Feature(bytes_list=tf.train.BytesList(value=[row.tobytes()])),
                    "captions": tf.train.Feature(bytes_list=tf.train.BytesList(
                        value=[caption.encode("utf-8") for caption in captions[image]])),
                }))
                writers[image % shards].write(example.SerializeToString())
                image += 1
    finally:
        for writer in writers:
            writer.close()
    if image != len(captions):
        raise ValueError(f"{image} feature rows for {len(captions)} images in split {split!r}.")
    return paths


def shard_files(folder: str | pathlib.Path, split: str) -> list[str]:
    """The shard files of `split` in `folder`, in order (an empty list when there are none)."""
    return sorted(str(path) for path in pathlib.Path(folder).glob(f"{split}-*-of-*.tfrecord"))


def _parse(record, dim: int):
    parsed = tf.io.parse_single_example(record, {
        "features": tf.io.FixedLenFeature([], tf.string),
        "captions": tf.io.VarLenFeature(tf.string)})
    features = tf.cast(tf.reshape(tf.io.decode_raw(parsed["features"], tf.float16), [dim]), tf.float32)
    captions = tf.sparse.to_dense(parsed["captions"], default_value="")
    # One (features, caption) pair per reference caption.
    return tf.data.Dataset.from_tensor_slices(
        (tf.repeat(features[tf.newaxis], tf.shape(captions)[0], axis=0), captions))


def caption_stream(files: typing.Sequence[str], vectorizer, dim: int, max_tokens: int, batch_size: int, *,
                   training: bool, seed: int = 0) -> tf.data.Dataset:
    """Batches of ((features [batch, dim], caption input), caption target), read from `files`.

    Training streams repeat forever in a seeded shuffled order (the caller sets steps_per_epoch). Targets
    are framed `[start] w1 .. wn [end]` rows padded to the batch's longest caption.
    """
    if not files:
        raise ValueError("no TFRecord shards to read: run apps/captioner/cache.py (or train.py) first.")
    dataset = tf.data.Dataset.from_tensor_slices(list(files))
    if training:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.flat_map(lambda record: _parse(record, dim))
    if training:
        dataset = dataset.shuffle(SHUFFLE_PAIRS, seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = teacher_forcing_batches(dataset, vectorizer, max_tokens, batch_size)
    return distribute.shard_by_file(dataset).prefetch(tf.data.AUTOTUNE)


def main(argv=None):
    config = resolve_config(parse_config(Config, argv, __doc__))  # train.py's flags and defaults
    splits = load_splits(config)
    _, identity, features = encoder_and_features(config, splits)
    print({name: value.shape for name, value in features.items()}, "encoder:", identity,
          f"training shards: {len(features['train'].files)}")


if __name__ == "__main__":
    main()
