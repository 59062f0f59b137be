"""The captioner's training set as sharded TFRecords: written once by prepare.py, streamed by tf.data.

    write_shards(folder, "train", feature_batches, captions, shards=8)   # train-00000-of-00008.tfrecord ...
    dataset = caption_stream(shard_files(folder, "train"), vectorizer, max_tokens=20, batch_size=64,
                             training=True, seed=1337)

One record per image: its pooled encoder features (float16 bytes) and all its reference captions. Images go
round-robin into the shards as the encoder produces them, so neither writing nor training ever holds the
whole split's features in memory: the stream reads a few shards at a time, expands each image into one
(features, caption) pair per caption and shuffles within a bounded buffer.

Under `--distribute multi-worker` the stream shards by FILE: each worker reads only its own shards
(`shared.runtime.distribute.shard_by_file`), which is why there are several shards even for small data. Captions
are stored as text, so the shards do not depend on the caption vocabulary of a run.
"""

from __future__ import annotations

import pathlib
import typing

import numpy as np
import tensorflow as tf

from shared.runtime import distribute
from shared.modeling.teacher_forcing import shift_for_teacher_forcing
from shared.modeling.text import frame_targets

SHUFFLE_PAIRS = 4096  # caption pairs in the shuffle buffer: bounded memory whatever the data's size


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
        raise ValueError("no TFRecord shards to read: run apps/captioner/prepare.py (or train.py) first.")
    dataset = tf.data.Dataset.from_tensor_slices(list(files))
    if training:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(files)),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.flat_map(lambda record: _parse(record, dim))
    if training:
        dataset = dataset.shuffle(SHUFFLE_PAIRS, seed=seed, reshuffle_each_iteration=True).repeat()

    def frame(features, captions):
        caption_input, caption_target = shift_for_teacher_forcing(frame_targets(vectorizer(captions), max_tokens))
        return (features, caption_input), caption_target

    dataset = dataset.batch(batch_size).map(frame, num_parallel_calls=tf.data.AUTOTUNE)
    return distribute.shard_by_file(dataset).prefetch(tf.data.AUTOTUNE)
