"""Train the frame-level video tagger (a tag for every frame), score it, and export it for TF Serving.

Usage:
    python apps/video_tagger/train.py --sample                          # generated moving-square videos
    python apps/video_tagger/train.py --sample --temporal none          # the per-frame baseline (chance)
    python apps/video_tagger/train.py --sample --temporal causal        # streaming: sees only the past
    python apps/video_tagger/train.py --data-dir ../shared/data/kth     # DATA_DIR/<action>/<clip>: real KTH
    python apps/video_tagger/train.py --data-dir UCF101/                # UCF101 clips, InceptionV3 features
    python apps/video_tagger/train.py --data-dir UCF101/ --encoder small_cnn   # no pretrained weights
    python apps/video_tagger/train.py --help                            # every flag, with its reason

Writes runs/video_tagger/ (config.json, metrics.json, history.csv, checkpoints/, logs/) and exports
saved_models/video_tagger/<N>/ with serving_default: frames (uint8 [time, height, width, 3], one video)
-> tags (string [time]) and probabilities (float32 [time, classes]); jpeg_frames (frames: string [time],
one JPEG/PNG per frame); and for models that never look ahead (causal, none) stream (a chunk and a state).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np

from apps.video_tagger import clips, data, features, folders
from apps.video_tagger import metrics as scores
from apps.video_tagger.model import CELLS, MOTION, build_frame_encoder, build_model
from apps.video_tagger.endpoints import CHECK_FRAMES, check_requests, export_endpoints
from apps.video_tagger.serving import MAX_FRAMES, MAX_FRAMES_INCEPTION
from shared.runtime import distribute
from shared.modeling.optimizer import make_optimizer
from shared.runtime.config import TrainConfig, option, parse_config
from shared.modeling.masking import MaskedSparseCategoricalAccuracy, masked_sparse_crossentropy
from shared.runtime.training import fit
from shared.runtime.run import export_and_finish, start_run
from shared.modeling.vision import preprocess_pixels


# ---------------------------------------------------------------------------------------------- Config
@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    app: ClassVar[str] = "video_tagger"
    # The generated tags are motion: a small CNN that keeps positions, trained end to end (see model.py).
    # Small batches and a larger step: in a 75 s trial (256 videos) the GRU found the motion after ~100
    # steps and reached 0.99 validation frame accuracy after ~290.
    SAMPLE: ClassVar[dict] = {"encoder": "small_cnn", "image_size": 32, "batch_size": 8,
                              "learning_rate": 3e-3, "layers": 1, "epochs": 10}
    QUICK: ClassVar[dict] = {"epochs": 1, "sample_videos": 16, "max_videos": 16, "batch_size": 8, "layers": 1,
                             "units": 8, "feature_dim": 16, "cnn_width": 4, "clip_frames": 6}

    epochs: int = option(20, "Passes over the training videos; the best by validation accuracy is kept.")
    batch_size: int = option(32, "Videos per step, padded to the longest of the batch.")
    encoder: str = option("auto", "Per-frame encoder: inception (pooled ImageNet features, what is in a "
                          "frame), small_cnn (trained end to end, keeps where things are), motion_cnn (small_cnn "
                          "that also sees each frame's difference from the one before: how fast things move), "
                          "difference_cnn (the difference alone); auto: difference_cnn for a DATA_DIR/<action>/ "
                          "folder, inception for UCF101.",
                          choices=("auto", "inception", "small_cnn", *MOTION))
    inception_weights: str = option("imagenet", "imagenet (download), a local weights file, or none "
                                    "(random features: a smoke test only).")
    image_size: int = option(0, "Frame size the encoder sees; 0: 299 for inception, 64 for small_cnn.")
    cnn_width: int = option(16, "Filters of small_cnn's first convolution (then twice that).")
    feature_dim: int = option(128, "small_cnn's per-frame feature size.")
    pooled: bool = option(False, "small_cnn: a 4th convolution, then global average and max pooling (what "
                          "moves, wherever it is) instead of flattening the map (where it is).")
    temporal: str = option("bidirectional", "bidirectional (sees the whole video), causal (only the past: "
                           "streaming) or none (per-frame baseline).",
                           choices=("bidirectional", "causal", "none"))
    cell: str = option("gru", "Recurrent cell.", choices=tuple(CELLS))
    units: int = option(64, "Recurrent units per direction (hidden units of the baseline).")
    layers: int = option(2, "Stacked recurrent layers.")
    dropout: float = option(0.1, "Dropout on the features and before the softmax.")
    sample_videos: int = option(1000, "Generated training videos (--sample); a quarter as many for test.")
    sample_size: int = option(32, "Side of the generated frames in pixels.")
    frame_step: int = option(0, "Real clips: keep every n-th frame; 0: 4 for UCF101 (25 fps: ~6 tags a second), "
                             "2 for a folder (KTH: 12.5 tags a second, enough to see a stride).")
    clip_frames: int = option(-1, "Real clips: at most this many kept frames per clip; 0: all; -1: 16 for UCF101, "
                              "all for a folder.")
    test_groups: int = option(7, "UCF101 groups 1..n are the test set (official split 1: 7).")
    validation_groups: int = option(2, "The next n groups choose the best epoch.")
    group_pattern: str = option(folders.DEFAULT_GROUP_PATTERN, "Folder clips: a regular expression whose first "
                                "group, found in a clip's file name, is its person/group id (split by it).")
    test_people: str | None = option(None, "Folder clips: comma-separated person ids for the test split; "
                                     "default: chosen so that every action has a test clip (folders.py).")
    validation_people: str | None = option(None, "Folder clips: person ids for validation (default: chosen "
                                           "likewise while every action keeps 2 training clips, else none).")
    piece_frames: str = option("16,64", "Folder clips: training videos join 2-4 random pieces of MIN,MAX kept "
                               "frames from training clips, drawn afresh every epoch.")
    augment: bool = option(True, "Folder clips: mirror training videos and change their contrast and brightness "
                           "at random (folders.augment).")
    steps_per_epoch: int = option(0, "Folder clips: steps per epoch (0: about one pass over the training frames, "
                                  "at least 10).")
    max_request_frames: int = option(0, f"Frames per request the export accepts; 0: {MAX_FRAMES} (small CNNs), "
                                     f"{MAX_FRAMES_INCEPTION} for inception.")
    max_videos: int | None = option(None, "Use at most this many videos per split (--quick sets it).")

    def __post_init__(self):
        super().__post_init__()
        if self.image_size and not 16 <= self.image_size <= 1024:
            raise ValueError(f"--image-size must be 0 (auto) or in 16..1024, got {self.image_size}.")
        if self.frame_step < 0 or self.clip_frames < -1:
            raise ValueError("--frame-step must be 0 (auto) or more, --clip-frames -1 (auto) or more.")

    @property
    def size(self) -> int:
        return self.image_size or (299 if self.encoder == "inception" else 64)

    @property
    def motion(self) -> str | None:
        """The motion input of the encoder (model.with_motion), or None."""
        return MOTION.get(self.encoder)

    @property
    def data_kind(self) -> str:
        """sample, ucf101 (tensorflow-datasets, or a folder of UCF101-named clips) or folder."""
        if self.sample:
            return "sample"
        if self.data_dir is None or clips.is_ucf101_folder(self.data_dir):
            return "ucf101"
        return "folder"

    def resolved(self) -> Config:
        """The config with every automatic (0 / auto) setting made concrete for its data."""
        folder = self.data_kind == "folder"
        encoder = self.encoder if self.encoder != "auto" else ("difference_cnn" if folder else "inception")
        changes = {"encoder": encoder, "frame_step": self.frame_step or (2 if folder else 4),
                   "clip_frames": self.clip_frames if self.clip_frames >= 0 else (0 if folder else 16)}
        changes["max_request_frames"] = self.max_request_frames or (
            MAX_FRAMES_INCEPTION if encoder == "inception" else MAX_FRAMES)
        config = dataclasses.replace(self, **changes)
        return dataclasses.replace(config, image_size=config.size)


def encode_frames(encoder, size: int):
    """uint8 frames [t, size, size, 3] -> float16 features [t, F], through the serving preprocessing."""
    def encode(frames):
        # 16 frames a call: InceptionV3's activations at 299x299 take ~30 MB a frame (64 a call peaked at GBs).
        out = [encoder(preprocess_pixels(frames[i:i + 16], size), training=False).numpy()
               for i in range(0, len(frames), 16)]
        return np.concatenate(out).astype(np.float16)
    return encode


def predict_labels(model, dataset) -> tuple[list, list]:
    """(true, predicted) label arrays per video, each cut to the video's real length."""
    true, predicted = [], []
    for inputs, labels in dataset:
        logits = model(inputs, training=False).numpy()
        guesses = np.argmax(logits[..., 1:], axis=-1) + 1  # class 0 is padding
        for length, y, p in zip(inputs["lengths"].numpy(), labels.numpy(), guesses):
            true.append(y[:length])
            predicted.append(p[:length])
    return true, predicted


def load_data(config, frame_encoder, end_to_end: bool) -> tuple[dict, dict | None]:
    """({"train", "validation", "test"} Videos, people per split or None). For a folder, "train" holds one
    entry per clip (training videos are drawn from their pieces); elsewhere every split holds whole videos."""
    encode = None if end_to_end else encode_frames(frame_encoder, config.size)
    loaders = {"sample": lambda e: data.load_sample(config) if e is None else {
                   k: data.Videos([e(x) for x in v.inputs], v.labels, v.class_names)
                   for k, v in data.load_sample(config).items()},
               "ucf101": lambda e: clips.load_ucf101(config, e),
               "folder": lambda e: folders.load_folder(config, e)[0]}
    load = loaders[config.data_kind]
    people = None
    if end_to_end and config.data_kind == "folder":
        splits, people = folders.load_folder(config)
    elif end_to_end:
        splits = load(None)
    else:  # the frozen encoder's features, computed once (cached across runs and resumes)
        splits = features.cached_features(config, lambda: load(encode))
    return {name: videos.take(config.max_videos) for name, videos in splits.items()}, people


def main(argv=None, extra_callbacks=()):
    config = parse_config(Config, argv, __doc__).resolved()
    start_run(config)

    # ---------------------------------------------------------------------------------------- Data
    with distribute.scope():  # trained end to end (small_cnn): its variables are mirrored too
        frame_encoder = build_frame_encoder(config)
    end_to_end = config.encoder != "inception"  # InceptionV3 stays frozen: its features are computed once
    splits, people = load_data(config, frame_encoder, end_to_end)
    # One test video's frames for the bare-TF check of the export (features cannot be sent).
    raw_example = (data.load_sample(config)["test"].inputs[0] if config.sample
                   else splits["test"].inputs[0] if end_to_end else None)
    class_names = splits["train"].class_names
    pixels = config.size if end_to_end else None
    batch_size = distribute.global_batch_size(config)  # --batch-size x replicas (1 without --distribute)
    if config.data_kind == "folder":
        low, high = (int(n) for n in config.piece_frames.split(","))
        train_data = folders.piece_dataset(splits["train"], batch_size, pixels, config.seed, (low, high),
                                            augmented=config.augment)
        steps_per_epoch = config.steps_per_epoch or max(10, math.ceil(
            splits["train"].frame_count / (batch_size * 3 * (low + high) / 2)))
    else:
        train_data = data.make_dataset(splits["train"], batch_size, pixels, training=True, seed=config.seed)
        steps_per_epoch = math.ceil(len(splits["train"]) / batch_size)
    validation_data = data.make_dataset(splits["validation"], batch_size, pixels)
    test_data = data.make_dataset(splits["test"], batch_size, pixels)

    # --------------------------------------------------------------------------------------- Model
    with distribute.scope():  # variables mirrored on every replica under --distribute
        model, tagger = build_model(config, len(class_names), frame_encoder, end_to_end)
        model.compile(optimizer=make_optimizer(config.learning_rate, config.clipnorm),
                      loss=masked_sparse_crossentropy(pad_id=0),
                      metrics=[MaskedSparseCategoricalAccuracy(pad_id=0, name="accuracy")])
    model.summary(print_fn=lambda line, **_: print(line))

    # --------------------------------------------------------------------------------------- Train
    result = fit(model, train_data, validation_data, config, monitor="val_accuracy", mode="max",
                 steps_per_epoch=steps_per_epoch, extra_callbacks=extra_callbacks)

    # ------------------------------------------------------------------------------------ Evaluate
    true, predicted = predict_labels(model, test_data)
    test_scores = scores.all_scores(true, predicted, class_names)
    train_frames_seen = result.epochs_this_run * steps_per_epoch * batch_size * (
        splits["train"].frame_count / max(len(splits["train"]), 1) if config.data_kind != "folder"
        else 3 * sum(int(n) for n in config.piece_frames.split(",")) / 2)
    metrics = {
        **test_scores, "temporal": config.temporal, "encoder": config.encoder, "classes": class_names,
        "test_videos": len(splits["test"]), "test_frames": splits["test"].frame_count,
        "train_videos": len(splits["train"]), "train_frames": splits["train"].frame_count,
        "epochs_completed": len(result.history), "train_seconds": result.seconds,
        "frames_per_second_training": train_frames_seen / result.seconds, "people": people,
        "data": config.data_kind, "history": result.history, "test_true": [y.tolist() for y in true], "test_predicted": [p.tolist() for p in predicted],
    }
    print(f"test frame accuracy {test_scores['frame_accuracy']:.4f}, F1@50 {test_scores['segment_f1']:.4f}, "
          f"edit {test_scores['edit_score']:.1f} ({config.temporal}); trained {result.seconds:.0f} s")

    # -------------------------------------------------------------------------------------- Export
    endpoints, track = export_endpoints(config, frame_encoder, tagger, class_names)
    requests = [] if raw_example is None else check_requests(raw_example[:CHECK_FRAMES], "stream" in endpoints)
    return export_and_finish(config, endpoints, track=track, metrics=metrics, check_request=requests or None,
                             keep_out=("history", "examples", "test_true", "test_predicted"))


if __name__ == "__main__":
    main()
