"""Any user's own clips: DATA_DIR/<action>/<clip>.(avi|mp4|gif), optionally with per-frame label files.

The layout of Keras' `*_dataset_from_directory`: one folder per action, the folder name is every frame's
label. A clip may instead carry one label per frame in MS-TCN's format, `DATA_DIR/groundTruth/<clip>.txt`
(one label per line; `mapping.txt` beside it lists the labels): KTH's files say where the person is out of
view (`background`) inside a clip. A label file belongs to a clip when its name is the clip's name or the
start of it followed by "_" (KTH's `person09_walking_d1.txt` labels `person09_walking_d1_uncomp.avi`).

Who is in a clip (the person or group) comes from the file name, with `--group-pattern` (a regular
expression whose first group is the id; default: `personNN_...` as KTH and Weizmann name their files, or
UCF101's `_gNN_`). The split is by person: no person is in two splits. Unless given (`--test-people`,
`--validation-people`), test people are chosen so that every action has a test clip (people with fewest
clips first, at least 30% of all people), then validation people likewise, but only while every action
keeps two training clips (KTH's 10 people cannot spare them: it then has no validation people, and the
epoch is chosen on the training videos).

Training videos are drawn afresh every epoch from random pieces of the training clips, 2-4 pieces of
different actions joined end to end (`piece_dataset`): KTH has only ten training clips, and always joining
them the same way would teach the model where the joins are. Validation and test videos join whole clips,
each clip once (`data.join_clips`), with their own per-frame labels (background included).
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import tensorflow as tf

from apps.video_tagger.data import Clip, Videos, join_clips, read_frames, subsample
from shared.runtime.data import DataCorruptError, DataNotFoundError
from shared.runtime.progress import progress
from shared.modeling.vision import preprocess_pixels

VIDEO_SUFFIXES = (".avi", ".mp4", ".gif")
DEFAULT_GROUP_PATTERN = r"(?:person|_g)(\d+)"
_LAYOUT = ("Expected DATA_DIR/<action>/<clip>.avi|.mp4|.gif (subfolders allowed), optionally with "
           "DATA_DIR/groundTruth/<clip>.txt holding one label per frame.")


def label_file(clip_path: pathlib.Path, truth_dir: pathlib.Path) -> pathlib.Path | None:
    """The clip's per-frame label file: <stem>.txt, or the longest <prefix>.txt with stem = prefix_..."""
    if not truth_dir.is_dir():
        return None
    exact = truth_dir / f"{clip_path.stem}.txt"
    if exact.is_file():
        return exact
    prefixes = [p for p in truth_dir.glob("*.txt") if clip_path.stem.startswith(p.stem + "_")]
    return max(prefixes, key=lambda p: len(p.stem)) if prefixes else None


def frame_labels(path: pathlib.Path, frames: int) -> list[str]:
    """One label per frame from an MS-TCN label file; a file of the wrong length is refused."""
    labels = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(labels) != frames:
        raise DataCorruptError(f"{path} has {len(labels)} labels but its clip has {frames} frames: "
                               f"one label per frame is needed.")
    return labels


def read_folder(directory, size: int, frame_step: int, clip_frames: int, group_pattern: str) -> list[Clip]:
    """Every clip under DATA_DIR/<action>/, subsampled and resized, with per-frame label names."""
    root = pathlib.Path(directory).expanduser()
    truth_dir, pattern = root / "groundTruth", re.compile(group_pattern)
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.parent != root)
    if not paths:
        raise DataNotFoundError(f"--data-dir {root} holds no video clip. {_LAYOUT}")
    clips = []
    for path in progress(paths, total=len(paths), label=f"reading {len(paths)} clips"):
        match = pattern.search(path.stem)
        if match is None:
            raise DataNotFoundError(f"{path.name}: --group-pattern {group_pattern!r} finds no person/group id "
                                    f"in it (the split is by person; name clips like personNN_<action>...).")
        frames = read_frames(path)
        truth = label_file(path, truth_dir)
        names = frame_labels(truth, len(frames)) if truth else [path.parent.name] * len(frames)
        count = clip_frames or len(frames)
        clips.append(Clip(path.parent.name, int(match.group(1)), path.stem,
                          subsample(frames, size, frame_step, count), frame_names=names[::frame_step][:count]))
    return clips


def _pick(people: dict, actions: set, minimum: int, keep: dict | None) -> list[int]:
    """People (fewest clips first) until every action has one and there are `minimum`; with `keep`
    (training clips per action), only people whose leaving keeps every action at two or more."""
    chosen, covered = [], set()
    for person in sorted(people, key=lambda p: (len(people[p]), p)):
        if covered >= actions and len(chosen) >= minimum:
            break
        if not (set(people[person]) - covered) and len(chosen) >= minimum:
            continue
        if keep is not None:
            after = {a: keep[a] - people[person].count(a) for a in keep}
            if min(after.values()) < 2:
                continue
            keep.update(after)
        chosen.append(person)
        covered |= set(people[person])
    return chosen


def split_by_person(clips: list[Clip], test_people=None, validation_people=None) -> dict[str, list[Clip]]:
    """{"train", "validation", "test"} clip lists; no person in two of them (see the module docstring)."""
    people = {}
    for clip in clips:
        people.setdefault(clip.group, []).append(clip.action)
    actions = {clip.action for clip in clips}
    if test_people is None:
        test_people = _pick(people, actions, round(0.3 * len(people)), None)
    rest = {p: a for p, a in people.items() if p not in test_people}
    if validation_people is None:
        keep = {a: sum(x.count(a) for x in rest.values()) for a in actions}
        validation_people = _pick(rest, actions, round(0.1 * len(people)), keep)
    overlap = set(test_people) & set(validation_people)
    if overlap:
        raise ValueError(f"people {sorted(overlap)} are in both the test and the validation split.")
    splits = {"train": [], "validation": [], "test": []}
    for clip in clips:
        name = ("test" if clip.group in test_people else
                "validation" if clip.group in validation_people else "train")
        splits[name].append(clip)
    for name in ("train", "test"):
        if not splits[name]:
            raise DataNotFoundError(f"no clip falls in the {name} split (people {sorted(people)}): "
                                    f"the folder needs clips of more people.")
    return splits


def label_ids(clips: list[Clip], class_names: list[str]) -> None:
    """Turn each clip's frame label names into ids 1..C (`clip.labels`)."""
    index = {name: i + 1 for i, name in enumerate(class_names)}
    for clip in clips:
        clip.labels = np.asarray([index[name] for name in clip.frame_names], np.int32)


def augment(pixels: tf.Tensor) -> tf.Tensor:
    """One video [t, s, s, 3] in [-1, 1], mirrored left-right half the time, its contrast and brightness
    changed at random: ten training clips show few scenes, and KTH's test people stand in other ones."""
    pixels = tf.cond(tf.random.uniform([]) < 0.5, lambda: tf.reverse(pixels, [2]), lambda: pixels)
    contrast, brightness = tf.random.uniform([], 0.6, 1.4), tf.random.uniform([], -0.3, 0.3)
    return tf.clip_by_value(pixels * contrast + brightness, -1.0, 1.0)


def piece_dataset(clips: Videos, batch_size: int, image_size: int | None, seed: int,
                  piece_frames: tuple[int, int], pieces: tuple[int, int] = (2, 4),
                  augmented: bool = True) -> tf.data.Dataset:
    """An endless stream of batches of videos joined from random pieces of `clips` (one Videos entry per
    clip: uint8 frames, or cached features without `image_size`), drawn afresh every time; frames are
    `augment`ed per video unless `augmented` is False (features never are)."""
    rng = np.random.default_rng(seed)
    actions = [int(np.bincount(labels).argmax()) for labels in clips.labels]  # a clip's action: its main label

    def videos():
        while True:
            count, chosen, frames, labels = int(rng.integers(pieces[0], pieces[1] + 1)), [], [], []
            while len(chosen) < count:
                options = [k for k in range(len(clips)) if not chosen or actions[k] != actions[chosen[-1]]]
                if not options:
                    break
                k = options[int(rng.integers(len(options)))]
                length = min(int(rng.integers(piece_frames[0], piece_frames[1] + 1)), len(clips.labels[k]))
                start = int(rng.integers(0, len(clips.labels[k]) - length + 1))
                chosen.append(k)
                frames.append(clips.inputs[k][start:start + length])
                labels.append(clips.labels[k][start:start + length])
            yield np.concatenate(frames), np.concatenate(labels)

    first = clips.inputs[0]
    data = tf.data.Dataset.from_generator(videos, output_signature=(
        tf.TensorSpec((None, *first.shape[1:]), tf.as_dtype(first.dtype)), tf.TensorSpec((None,), tf.int32)))

    def prepare(x, y):
        if image_size:
            x = preprocess_pixels(x, image_size)
            x = augment(x) if augmented else x
        return {"inputs": tf.cast(x, tf.float32), "lengths": tf.shape(y)[0]}, y

    return data.map(prepare).padded_batch(batch_size).prefetch(2)


def load_folder(config, encode=None) -> tuple[dict[str, Videos], dict[str, list[int]]]:
    """({"train": one Videos entry per clip, "validation"/"test": whole clips joined}, people per split).

    With `encode` (a frozen encoder), every clip's frames are replaced by their features first.
    """
    config = config.resolved()  # automatic frame step and clip length made concrete (idempotent)
    people = lambda text: None if text is None else [int(p) for p in text.split(",") if p.strip()]  # noqa: E731
    all_clips = read_folder(config.data_dir, config.size, config.frame_step, config.clip_frames,
                            config.group_pattern)
    splits = split_by_person(all_clips, people(config.test_people), people(config.validation_people))
    class_names = sorted({name for clip in all_clips for name in clip.frame_names})
    label_ids(all_clips, class_names)
    if encode is not None:
        for clip in progress(all_clips, total=len(all_clips), label=f"features of {len(all_clips)} clips"):
            clip.inputs = encode(clip.inputs)
    videos = {"train": Videos([c.inputs for c in splits["train"]], [c.labels for c in splits["train"]],
                              class_names)}
    for k, name in enumerate(("validation", "test")):
        members = splits[name] or splits["train"]  # no validation people: the epoch is chosen on training clips
        videos[name] = join_clips(members, class_names, config.seed + k)
    return videos, {name: sorted({c.group for c in members}) for name, members in splits.items()}
