"""Train the frame-level video tagger (a tag for every frame), score it, and export it for TF Serving.

Usage:
    python apps/video_tagger/train.py --sample                          # generated moving-square videos
    python apps/video_tagger/train.py --sample --temporal none          # the per-frame baseline (chance)
    python apps/video_tagger/train.py --sample --temporal causal        # streaming: sees only the past
    python apps/video_tagger/train.py --data-dir UCF101/                # real clips, InceptionV3 features
    python apps/video_tagger/train.py --data-dir UCF101/ --encoder small_cnn   # no pretrained weights
    python apps/video_tagger/train.py --help                            # every flag, with its reason

Writes runs/video_tagger/ (config.json, metrics.json, history.csv, checkpoints/, logs/) and exports
saved_models/video_tagger/<N>/ with serving_default: frames (uint8 [time, height, width, 3], one video)
-> tags (string [time]) and probabilities (float32 [time, classes]).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np

from apps.video_tagger import clips, data, features
from apps.video_tagger import metrics as scores
from apps.video_tagger.model import CELLS, build_frame_encoder, build_model
from apps.video_tagger.serving import make_serving_function, serving_signature
from shared import distribute
from shared.clipping import make_optimizer
from shared.config import TrainConfig, option, parse_config
from shared.export import export_and_finish
from shared.masking import MaskedSparseCategoricalAccuracy, masked_sparse_crossentropy
from shared.training import fit, start_run
from shared.vision import preprocess_pixels

CHECK_FRAMES = 6  # frames of a test video sent to the export in the bare-TF check


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
    encoder: str = option("inception", "Per-frame encoder: inception (pooled ImageNet features, what is in "
                          "a frame) or small_cnn (trained end to end, keeps where things are).",
                          choices=("inception", "small_cnn"))
    inception_weights: str = option("imagenet", "imagenet (download), a local weights file, or none "
                                    "(random features: a smoke test only).")
    image_size: int = option(0, "Frame size the encoder sees; 0: 299 for inception, 64 for small_cnn.")
    cnn_width: int = option(16, "Filters of small_cnn's first convolution (then twice that).")
    feature_dim: int = option(128, "small_cnn's per-frame feature size.")
    temporal: str = option("bidirectional", "bidirectional (sees the whole video), causal (only the past: "
                           "streaming) or none (per-frame baseline).",
                           choices=("bidirectional", "causal", "none"))
    cell: str = option("gru", "Recurrent cell.", choices=tuple(CELLS))
    units: int = option(64, "Recurrent units per direction (hidden units of the baseline).")
    layers: int = option(2, "Stacked recurrent layers.")
    dropout: float = option(0.1, "Dropout on the features and before the softmax.")
    sample_videos: int = option(1000, "Generated training videos (--sample); a quarter as many for test.")
    sample_size: int = option(32, "Side of the generated frames in pixels.")
    frame_step: int = option(4, "Real clips: keep every n-th frame (UCF101 is 25 fps: ~6 tags a second).")
    clip_frames: int = option(16, "Real clips: at most this many kept frames per clip.")
    test_groups: int = option(7, "UCF101 groups 1..n are the test set (official split 1: 7).")
    validation_groups: int = option(2, "The next n groups choose the best epoch.")
    max_videos: int | None = option(None, "Use at most this many videos per split (--quick sets it).")

    def __post_init__(self):
        super().__post_init__()
        if self.image_size and not 16 <= self.image_size <= 1024:
            raise ValueError(f"--image-size must be 0 (auto) or in 16..1024, got {self.image_size}.")
        if self.frame_step < 1 or self.clip_frames < 1:
            raise ValueError("--frame-step and --clip-frames must be at least 1.")

    @property
    def size(self) -> int:
        return self.image_size or (299 if self.encoder == "inception" else 64)


def encode_frames(encoder, size: int):
    """uint8 frames [t, size, size, 3] -> float16 features [t, F], through the serving preprocessing."""
    def encode(frames):
        out = [encoder(preprocess_pixels(frames[i:i + 64], size), training=False).numpy()
               for i in range(0, len(frames), 64)]
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


def main(argv=None, extra_callbacks=()):
    config = parse_config(Config, argv, __doc__)
    config = dataclasses.replace(config, image_size=config.size)
    start_run(config)

    # ---------------------------------------------------------------------------------------- Data
    with distribute.scope():  # trained end to end (small_cnn): its variables are mirrored too
        frame_encoder = build_frame_encoder(config)
    end_to_end = config.encoder == "small_cnn"  # InceptionV3 stays frozen: its features are computed once
    encode = None if end_to_end else encode_frames(frame_encoder, config.size)
    raw_example = None  # one test video's frames, for the bare-TF check of the export
    if config.sample:
        sample = data.load_sample(config)
        raw_example = sample["test"].inputs[0]
    if end_to_end:
        splits = sample if config.sample else clips.load_ucf101(config)
    else:  # the frozen encoder's features, computed once (cached across runs and resumes)
        splits = features.cached_features(config, lambda: (
            {k: data.Videos([encode(x) for x in v.inputs], v.labels, v.class_names) for k, v in sample.items()}
            if config.sample else clips.load_ucf101(config, encode)))
    splits = {name: videos.take(config.max_videos) for name, videos in splits.items()}
    if end_to_end and raw_example is None:
        raw_example = splits["test"].inputs[0]
    class_names = splits["train"].class_names
    pixels = config.size if end_to_end else None
    batch_size = distribute.global_batch_size(config)  # --batch-size x replicas (1 without --distribute)
    train_data = data.make_dataset(splits["train"], batch_size, pixels, training=True, seed=config.seed)
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
    steps_per_epoch = math.ceil(len(splits["train"]) / batch_size)
    result = fit(model, train_data, validation_data, config, monitor="val_accuracy", mode="max",
                 steps_per_epoch=steps_per_epoch, extra_callbacks=extra_callbacks)

    # ------------------------------------------------------------------------------------ Evaluate
    true, predicted = predict_labels(model, test_data)
    test_scores = scores.all_scores(true, predicted, class_names)
    metrics = {
        **test_scores, "temporal": config.temporal, "encoder": config.encoder, "classes": class_names,
        "test_videos": len(splits["test"]), "test_frames": splits["test"].frame_count,
        "train_videos": len(splits["train"]), "train_frames": splits["train"].frame_count,
        "epochs_completed": len(result.history), "train_seconds": result.seconds,
        "frames_per_second_training": result.epochs_this_run * steps_per_epoch * batch_size
        * splits["train"].frame_count / max(len(splits["train"]), 1) / result.seconds,
        "data": "sample" if config.sample else "ucf101", "history": result.history,
    }
    print(f"test frame accuracy {test_scores['frame_accuracy']:.4f}, F1@50 {test_scores['segment_f1']:.4f}, "
          f"edit {test_scores['edit_score']:.1f} ({config.temporal}); trained {result.seconds:.0f} s")

    # -------------------------------------------------------------------------------------- Export
    serve = make_serving_function(frame_encoder, tagger, class_names, config.size)
    # The first frames of a test video (a whole one would overflow the checker's command line).
    request = None if raw_example is None else {"inputs": {"frames": raw_example[:CHECK_FRAMES].tolist()}}
    return export_and_finish(config, {"serving_default": (serve, serving_signature())},
                             track=[frame_encoder, tagger], metrics=metrics, check_request=request)


if __name__ == "__main__":
    main()
