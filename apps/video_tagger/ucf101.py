"""UCF101 for frame tagging: find its clips, split them by group, join them into multi-action videos.

UCF101 has 13,320 clips of 101 actions, named v_<Action>_g<GG>_c<CC>.avi: group GG (1-25) holds clips cut
from the same long recording (same person, same place). Clips of one group look alike, so the split is by
group, as in UCF101's official split 1: groups 1-7 are the test set (`--test-groups 7`); the next
`--validation-groups` groups pick the best epoch; the rest train. No clip, and no group, is in two sets.

Each clip is one action; a tagging video is made by joining 2-4 clips of *different* actions end to end,
so every frame carries its clip's action and the model must find where one action turns into the next
(`data.join_clips`; the clip files are read by `data.read_frames`).

Sources, in order: `--data-dir` (a folder, searched recursively, of .avi clips, or .gif clips, which
TensorFlow decodes itself: the tests write a few), then tensorflow-datasets' `ucf101` (downloads 6.5 GB;
`pip install tensorflow-datasets opencv-python`). Reading .avi needs OpenCV.
"""

from __future__ import annotations

import pathlib
import re
import typing

from apps.video_tagger.data import Clip, Videos, join_clips, read_frames, subsample
from shared.runtime.data import DataNotFoundError
from shared.runtime.progress import progress

CLIP_NAME = re.compile(r"^v_(?P<action>[A-Za-z0-9]+)_g(?P<group>\d+)_c(?P<clip>\d+)\.(avi|gif)$", re.IGNORECASE)
_WAY_OUT = ("Pass --data-dir DIR pointing at a folder of UCF101 clips (v_<Action>_g<GG>_c<CC>.avi or .gif), "
            "or --sample to use the small offline dataset the project generates itself.")


def is_ucf101_folder(directory) -> bool:
    """True when `directory` holds UCF101-named clips (or nothing readable: its errors then say what to do);
    False for any other clips (a DATA_DIR/<action>/<clip> folder: folders.py)."""
    directory = pathlib.Path(directory).expanduser()
    if not directory.is_dir():
        return True
    names = [p.name for p in directory.rglob("*") if p.suffix.lower() in (".avi", ".mp4", ".gif")]
    return not names or any(CLIP_NAME.match(name) for name in names)


def read_clip_folder(directory, size: int, frame_step: int, clip_frames: int,
                     encode: typing.Callable | None = None) -> list[Clip]:
    """Every UCF101-named clip under `directory`, subsampled, resized and (optionally) encoded."""
    directory = pathlib.Path(directory).expanduser()
    if not directory.is_dir():
        raise DataNotFoundError(f"--data-dir {directory} does not exist or is not a folder. {_WAY_OUT}")
    paths = sorted(p for p in directory.rglob("*") if CLIP_NAME.match(p.name))
    if not paths:
        raise DataNotFoundError(f"--data-dir {directory} holds no UCF101-named clip. {_WAY_OUT}")
    clips = []
    label = f"reading {len(paths)} clips" + (" and their features" if encode else "")
    for path in progress(paths, total=len(paths), label=label):
        match = CLIP_NAME.match(path.name)
        frames = subsample(read_frames(path), size, frame_step, clip_frames)
        clips.append(Clip(match["action"], int(match["group"]), path.stem,
                          encode(frames) if encode else frames))
    return clips


def read_tfds(size: int, frame_step: int, clip_frames: int, encode=None) -> dict[str, list[Clip]]:
    """UCF101 split 1 from tensorflow-datasets (train/test already split by group; download on first use)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataNotFoundError("tensorflow-datasets is not installed (pip install tensorflow-datasets) "
                                f"and no --data-dir was given. {_WAY_OUT}") from None
    try:
        splits, info = tfds.load("ucf101/ucf101_1_256", split=["train", "test"], with_info=True)
    except Exception as error:  # noqa: BLE001  (network and download errors come in many types)
        raise DataNotFoundError(f"tensorflow-datasets could not load ucf101 ({error}). {_WAY_OUT}") from None
    names = info.features["label"].names
    result = {}
    for split_name, split in zip(("train", "test"), splits):
        clips = []
        examples = progress(split.as_numpy_iterator(), total=None,
                            label=f"ucf101 {split_name} clips" + (" and their features" if encode else ""))
        for index, example in enumerate(examples):
            frames = subsample(example["video"], size, frame_step, clip_frames)
            # tfds keeps no group ids: every clip is its own "group" within its (group-split) half.
            clips.append(Clip(names[int(example["label"])], -index - 1, f"{split_name}-{index}",
                              encode(frames) if encode else frames))
        result[split_name] = clips
    return result


def split_by_group(clips: list[Clip], test_groups: int, validation_groups: int) -> dict[str, list[Clip]]:
    """Groups 1..test_groups -> test, the next validation_groups -> validation, the rest -> train."""
    def part(group):
        if group <= test_groups:
            return "test"
        return "validation" if group <= test_groups + validation_groups else "train"
    splits = {"train": [], "validation": [], "test": []}
    for clip in clips:
        splits[part(clip.group)].append(clip)
    empty = [name for name, members in splits.items() if not members]
    if empty:
        raise DataNotFoundError(f"no clip falls in the {empty} split(s) with --test-groups {test_groups} "
                                f"--validation-groups {validation_groups}: the folder needs more groups.")
    return splits


def load_ucf101(config, encode=None) -> dict[str, Videos]:
    """Train / validation / test Videos joined from UCF101 clips, split by group."""
    config = config.resolved()  # automatic frame step and clip length made concrete (idempotent)
    size, step, count = config.image_size, config.frame_step, config.clip_frames
    if config.data_dir is not None:
        clip_splits = split_by_group(read_clip_folder(config.data_dir, size, step, count, encode),
                                     config.test_groups, config.validation_groups)
    else:
        both = read_tfds(size, step, count, encode)
        cut = len(both["train"]) // 10
        clip_splits = {"train": both["train"][cut:], "validation": both["train"][:cut], "test": both["test"]}
    class_names = sorted({c.action for members in clip_splits.values() for c in members})
    return {name: join_clips(members, class_names, config.seed + k)
            for k, (name, members) in enumerate(clip_splits.items())}
