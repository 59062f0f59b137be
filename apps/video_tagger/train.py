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

import math

import numpy as np

from apps.video_tagger import data, folders, ucf101
from apps.video_tagger import metrics as scores
from apps.video_tagger.cache import cached_features
from apps.video_tagger.config import Config
from apps.video_tagger.encoder import build_frame_encoder, encode_frames
from apps.video_tagger.model import build_model
from apps.video_tagger.serve import CHECK_FRAMES, example_requests, export_endpoints
from shared.modeling.masking import MaskedSparseCategoricalAccuracy, masked_sparse_crossentropy
from shared.modeling.optimizer import make_optimizer
from shared.runtime import distribute
from shared.runtime.config import parse_config
from shared.runtime.run import export_and_finish, start_run
from shared.runtime.training import fit


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
               "ucf101": lambda e: ucf101.load_ucf101(config, e),
               "folder": lambda e: folders.load_folder(config, e)[0]}
    load = loaders[config.data_kind]
    people = None
    if end_to_end and config.data_kind == "folder":
        splits, people = folders.load_folder(config)
    elif end_to_end:
        splits = load(None)
    else:  # the frozen encoder's features, computed once (cached across runs and resumes)
        splits = cached_features(config, lambda: load(encode))
    return {name: videos.take(config.max_videos) for name, videos in splits.items()}, people


def main(argv=None, extra_callbacks=()):
    # -------------------------------------------------------------------------------------- Config
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
        "data": config.data_kind, "history": result.history,
        "test_true": [y.tolist() for y in true], "test_predicted": [p.tolist() for p in predicted],
    }
    print(f"test frame accuracy {test_scores['frame_accuracy']:.4f}, F1@50 {test_scores['segment_f1']:.4f}, "
          f"edit {test_scores['edit_score']:.1f} ({config.temporal}); trained {result.seconds:.0f} s")

    # -------------------------------------------------------------------------------------- Export
    endpoints, track = export_endpoints(config, frame_encoder, tagger, class_names)
    requests = [] if raw_example is None else [
        r.body for r in example_requests(raw_example[:CHECK_FRAMES], stream="stream" in endpoints)]
    return export_and_finish(config, endpoints, track=track, metrics=metrics, check_request=requests or None,
                             keep_out=("history", "examples", "test_true", "test_predicted"))


if __name__ == "__main__":
    main()
