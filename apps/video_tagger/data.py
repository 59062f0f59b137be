"""Videos whose every frame carries a tag: the generated sample set, and padded tf.data batches.

The generated set (`--sample`) is built so that a frame's tag CANNOT be read from that frame alone. A
square drifts over a noisy background; its tag is the direction it is moving (left, right, up, down), which
changes every 5-15 frames. The square wraps around the edges (the picture is a torus), so in every
direction its position on a single frame is uniformly random: one frame says nothing about the direction,
and a per-frame classifier is at chance (25%). Two consecutive frames say everything. That gap is what a
recurrent tagger is for.

Real videos are clip files (`read_frames`: .gif by TensorFlow, .avi/.mp4 by OpenCV), each one action (or
one label per frame), kept every n-th frame and resized (`subsample`), then joined end to end into
multi-action videos (`join_clips`). Where the clips come from and how they are split is the job of
ucf101.py (UCF101-named clips, split by group) and folders.py (DATA_DIR/<action>/<clip>, split by person).
Everything ends up here as `Videos`: one uint8 array [time, size, size, 3] (or one feature array [time,
features]) per video and one int32 label array [time] with classes 1..C. Label 0 is padding: batches are
padded to their longest video and padded frames carry label 0, which the loss and the metrics ignore.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import tensorflow as tf

from shared.modeling.vision import preprocess_pixels
from shared.runtime.data import DataCorruptError

DIRECTIONS = ("left", "right", "up", "down")
_STEP = {1: (0, -1), 2: (0, 1), 3: (-1, 0), 4: (1, 0)}  # class -> (dy, dx) per unit of speed


@dataclasses.dataclass
class Videos:
    inputs: list          # per video: uint8 frames [time, h, w, 3], or float features [time, features]
    labels: list          # per video: int32 [time], classes 1..len(class_names)
    class_names: list

    def __len__(self):
        return len(self.labels)

    def take(self, count: int | None) -> Videos:
        """The first `count` videos (all of them for None)."""
        return self if count is None else Videos(self.inputs[:count], self.labels[:count], self.class_names)

    @property
    def frame_count(self) -> int:
        return int(sum(len(y) for y in self.labels))


@dataclasses.dataclass
class Clip:
    """One clip file, read: its action, who is in it (UCF101 group or person: the splits keep them apart),
    its kept frames, and, from a per-frame label file, one label per frame."""

    action: str
    group: int
    name: str
    inputs: np.ndarray   # uint8 frames [time, size, size, 3], or features [time, features]
    frame_names: list | None = None  # one label name per kept frame (per-frame label files), else None
    labels: np.ndarray | None = None  # those names as class ids 1..C (folders.label_ids), else None


def segment_labels(length: int, rng, min_segment: int, max_segment: int, classes: int) -> np.ndarray:
    """Labels [length] in 1..classes made of runs of min..max frames, each run's class unlike the last."""
    labels, previous = [], 0
    while len(labels) < length:
        label = int(rng.choice([c for c in range(1, classes + 1) if c != previous]))
        labels += [label] * int(rng.integers(min_segment, max_segment + 1))
        previous = label
    return np.asarray(labels[:length], np.int32)


def moving_square_video(labels: np.ndarray, rng, size: int = 32, square: int = 6, speed: float = 4.0,
                        noise: int = 40) -> np.ndarray:
    """uint8 frames [len(labels), size, size, 3]: frame t shows the square moved one step in labels[t]."""
    position = rng.uniform(0, size, 2)
    color = rng.integers(150, 256, 3)
    grid = np.arange(size)
    frames = rng.integers(0, noise, (len(labels), size, size, 3)).astype(np.uint8)
    for t, label in enumerate(labels):
        position = (position + speed * np.asarray(_STEP[int(label)])) % size
        top, left = np.round(position).astype(int)
        rows = (grid - top) % size < square     # wrapping: a square leaving one side enters the other
        cols = (grid - left) % size < square
        frames[t][rows[:, None] & cols[None, :]] = color
    return frames


def generate_videos(count: int, seed: int, size: int = 32, min_frames: int = 20, max_frames: int = 60,
                    min_segment: int = 5, max_segment: int = 15) -> Videos:
    """`count` moving-square videos of min..max frames, each joining several direction segments."""
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    for _ in range(count):
        y = segment_labels(int(rng.integers(min_frames, max_frames + 1)), rng, min_segment, max_segment,
                           len(DIRECTIONS))
        frames.append(moving_square_video(y, rng, size))
        labels.append(y)
    return Videos(frames, labels, list(DIRECTIONS))


def load_sample(config) -> dict[str, Videos]:
    """Train / validation / test sets of generated videos (different seeds: no video is shared)."""
    sizes = {"train": config.sample_videos, "validation": max(config.sample_videos // 8, 8),
             "test": max(config.sample_videos // 4, 8)}
    return {name: generate_videos(count, config.seed * 3 + offset, config.sample_size)
            for offset, (name, count) in enumerate(sizes.items())}


def read_frames(path: pathlib.Path) -> np.ndarray:
    """All frames of a .gif (TensorFlow) or .avi/.mp4 (OpenCV) clip as uint8 [time, height, width, 3]."""
    if path.suffix.lower() == ".gif":
        try:
            return tf.io.decode_gif(tf.io.read_file(str(path))).numpy()
        except tf.errors.OpError as error:
            raise DataCorruptError(f"{path} is not a readable GIF ({error.message[:200]}).") from None
    try:
        import cv2
    except ImportError:
        raise ImportError(f"reading {path.suffix} clips needs OpenCV: pip install opencv-python "
                          f"(or convert the clips to .gif).") from None
    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    if not frames:
        raise DataCorruptError(f"{path}: OpenCV read no frame from it; re-download the clip.")
    return np.stack(frames)


def frame_rate(path: pathlib.Path, default: float = 25.0) -> float:
    """Frames per second of a clip: OpenCV's reading for .avi/.mp4, the frame duration for a GIF."""
    if path.suffix.lower() == ".gif":
        try:
            from PIL import Image
            with Image.open(path) as image:
                return 1000.0 / image.info["duration"] if image.info.get("duration") else default
        except ImportError:
            return default
    import cv2
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return float(fps) if fps and fps > 0 else default


def subsample(frames: np.ndarray, size: int, frame_step: int, clip_frames: int) -> np.ndarray:
    """Every `frame_step`-th frame, at most `clip_frames` of them, resized to uint8 [t, size, size, 3]."""
    frames = frames[::frame_step][:clip_frames]
    resized = tf.image.resize(tf.cast(frames, tf.float32), [size, size], antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8).numpy()


def join_clips(clips: list[Clip], class_names: list[str], seed: int, min_clips: int = 2,
               max_clips: int = 4) -> Videos:
    """Videos of min..max clips each, consecutive clips of different actions; every clip used once."""
    rng = np.random.default_rng(seed)
    pool = [clips[i] for i in rng.permutation(len(clips))]
    index = {name: i + 1 for i, name in enumerate(class_names)}
    inputs, labels = [], []
    while pool:
        wanted, chosen = int(rng.integers(min_clips, max_clips + 1)), [pool.pop()]
        while len(chosen) < wanted:
            other = next((k for k, c in enumerate(pool) if c.action != chosen[-1].action), None)
            if other is None:
                break
            chosen.append(pool.pop(other))
        inputs.append(np.concatenate([c.inputs for c in chosen]))
        labels.append(np.concatenate([np.full(len(c.inputs), index[c.action], np.int32) if c.labels is None
                                      else c.labels for c in chosen]))
    return Videos(inputs, labels, class_names)


def make_dataset(videos: Videos, batch_size: int, image_size: int | None, training: bool = False,
                 seed: int = 0) -> tf.data.Dataset:
    """Batches ({"inputs": [batch, time, ...], "lengths": [batch]}, labels [batch, time]), right-padded.

    With `image_size` the inputs are uint8 frames, preprocessed here exactly as the exported graph does
    (`shared.modeling.vision.preprocess_pixels`); without it they are cached features, passed on as float32.
    """
    lengths = np.asarray([len(y) for y in videos.labels], np.int64)
    inputs = tf.RaggedTensor.from_row_lengths(np.concatenate(videos.inputs), lengths)
    labels = tf.RaggedTensor.from_row_lengths(np.concatenate(videos.labels).astype(np.int32), lengths)
    data = tf.data.Dataset.from_tensor_slices((inputs, labels))
    if training:
        data = data.shuffle(len(videos), seed=seed, reshuffle_each_iteration=True).repeat()

    def prepare(x, y):
        x = preprocess_pixels(x, image_size) if image_size else tf.cast(x, tf.float32)
        return {"inputs": x, "lengths": tf.shape(y)[0]}, y

    return (data.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
            .padded_batch(batch_size)  # pads frames with 0 and labels with 0 (= padding, ignored)
            .prefetch(tf.data.AUTOTUNE))
