"""The captioner's TFRecord shards (cache.py): what is written is what the stream yields, a shard at a time."""

import numpy as np
import pytest
import tensorflow as tf

from apps.captioner import cache
from shared.modeling.text import END, START, make_target_vectorizer


def _write(tmp_path, images=7, dim=4, count=3):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(images, dim)).astype(np.float16)
    captions = [[f"a shape number {i}"] + ([f"another one {i}"] if i % 2 else []) for i in range(images)]
    batches = (features[begin:begin + 3] for begin in range(0, images, 3))  # as the encoder yields them
    paths = cache.write_shards(tmp_path, "train", batches, captions, count)
    return features, captions, paths


def test_every_image_lands_in_one_shard_round_robin(tmp_path):
    features, captions, paths = _write(tmp_path)
    assert [p.name for p in paths] == [f"train-0000{i}-of-00003.tfrecord" for i in range(3)]
    assert cache.shard_files(tmp_path, "train") == [str(p) for p in paths]
    per_shard = [sum(1 for _ in tf.data.TFRecordDataset(str(p))) for p in paths]
    assert per_shard == [3, 2, 2]


def test_stream_yields_one_pair_per_caption_with_its_features(tmp_path):
    features, captions, _ = _write(tmp_path)
    vectorizer = make_target_vectorizer(50, [c for image in captions for c in image])
    stream = cache.caption_stream(cache.shard_files(tmp_path, "train"), vectorizer, 4, max_tokens=10,
                                   batch_size=4, training=False)
    options = stream.options().experimental_distribute
    assert options.auto_shard_policy == tf.data.experimental.AutoShardPolicy.FILE
    seen = []
    for (batch_features, inputs), targets in stream:
        assert inputs.shape == targets.shape and np.all(inputs.numpy()[:, 0] == START)
        # Shifted by one wherever the target is a real token (shared.modeling.teacher_forcing); [end] is never
        # an input, and an input is padding exactly where its target is.
        real = targets.numpy()[:, 1:] != 0
        np.testing.assert_array_equal(inputs.numpy()[:, 1:][real], targets.numpy()[:, :-1][real])
        assert not np.any(inputs.numpy() == END)
        np.testing.assert_array_equal(inputs.numpy() == 0, targets.numpy() == 0)
        for row, target in zip(batch_features.numpy(), targets.numpy()):
            image = next(i for i in range(len(features)) if np.array_equal(features[i].astype(np.float32), row))
            seen.append(image)
            assert END in target
    pairs = sum(len(c) for c in captions)
    assert len(seen) == pairs and sorted(set(seen)) == list(range(len(features)))


def test_training_stream_repeats_and_missing_shards_are_a_clear_error(tmp_path):
    _, captions, _ = _write(tmp_path)
    vectorizer = make_target_vectorizer(50, [c for image in captions for c in image])
    stream = cache.caption_stream(cache.shard_files(tmp_path, "train"), vectorizer, 4, max_tokens=10,
                                   batch_size=4, training=True, seed=1)
    assert len(list(stream.take(20))) == 20  # more batches than one pass holds
    with pytest.raises(ValueError, match="no TFRecord shards"):
        cache.caption_stream([], vectorizer, 4, 10, 4, training=True)
    with pytest.raises(ValueError, match="feature rows for"):
        cache.write_shards(tmp_path / "bad", "train", [np.zeros((2, 4))], captions, 2)
