"""The frozen encoder's per-frame features, computed once and cached on disk.

InceptionV3 on every kept frame of UCF101 (13,320 clips x 16 frames) takes hours on a CPU, so the features
of each split are stored in <output-dir>/features/<key>.npz, as the captioner does for its images. The key
names everything the features depend on: the encoder (weights, input size), the clip files (names and
sizes) and how they were cut, split and joined. A changed setting gets new features, never stale ones; a
killed extraction leaves only a .partial file, which is never read as a cache.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import typing

import numpy as np

from apps.video_tagger.data import Videos
from apps.video_tagger.folders import VIDEO_SUFFIXES
from apps.video_tagger.ucf101 import CLIP_NAME


def encoder_identity(config) -> str:
    """What the encoder's features depend on: its weights (a file by content) and its input size."""
    weights = config.inception_weights
    if pathlib.Path(weights).is_file():
        weights = hashlib.sha1(pathlib.Path(weights).read_bytes()).hexdigest()[:12]
    elif weights == "none":
        weights = f"random-seed{config.seed}"
    return f"inception-{weights}-{config.size}"


def cache_key(config) -> str:
    """A digest of the encoder identity, the data and every setting that shapes the videos."""
    if config.sample:
        source = ["sample", config.sample_videos, config.sample_size]
    elif config.data_dir is not None:
        root = pathlib.Path(config.data_dir).expanduser()
        source = sorted((str(p.relative_to(root)), p.stat().st_size)
                        for p in root.rglob("*") if CLIP_NAME.match(p.name) or p.suffix.lower() in VIDEO_SUFFIXES
                        or p.parent.name == "groundTruth") if root.is_dir() else []
    else:
        source = ["tfds-ucf101"]
    settings = [encoder_identity(config), source, config.seed, config.frame_step, config.clip_frames,
                config.test_groups, config.validation_groups, config.group_pattern, config.test_people,
                config.validation_people]
    return hashlib.sha1(json.dumps(settings, default=str).encode()).hexdigest()[:16]


def cached_features(config, build: typing.Callable[[], dict[str, Videos]]) -> dict[str, Videos]:
    """`build()`'s feature Videos per split, read from the cache when it holds them, else built and stored."""
    path = config.run_dir / "features" / f"{cache_key(config)}.npz"
    if path.exists():
        with np.load(path) as cache:
            names = [str(name) for name in cache["class_names"]]
            return {split: _unpack(cache, split, names) for split in ("train", "validation", "test")}
    splits = build()
    arrays = {"class_names": np.asarray(splits["train"].class_names)}
    for split, videos in splits.items():
        arrays[f"{split}_lengths"] = np.asarray([len(y) for y in videos.labels], np.int64)
        arrays[f"{split}_inputs"] = np.concatenate(videos.inputs)
        arrays[f"{split}_labels"] = np.concatenate(videos.labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.npz")
    np.savez(partial, **arrays)
    partial.rename(path)  # whole or not at all
    print(f"cached features in {path}")
    return splits


def _unpack(cache, split: str, class_names: list[str]) -> Videos:
    cuts = np.cumsum(cache[f"{split}_lengths"])[:-1]
    return Videos(np.split(cache[f"{split}_inputs"], cuts), np.split(cache[f"{split}_labels"], cuts), class_names)
