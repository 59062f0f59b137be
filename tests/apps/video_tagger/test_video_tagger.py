"""The video tagger end to end on tiny data: generated videos, joined GIF clips, masking, export, bad input."""

import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from apps.video_tagger import cache, data, metrics, predict, serve, train, ucf101
from apps.video_tagger.config import Config
from apps.video_tagger.model import build_tagger
from shared.runtime.config import parse_config
from shared.runtime.data import DataNotFoundError
from shared.modeling.masking import MaskedSparseCategoricalAccuracy, masked_sparse_crossentropy
from shared.runtime.grpc_server import grpc_server
from shared.runtime.serving import LocalModel, ServingError, bare_tf_server, check_saved_model
from shared.runtime.serving_assets import BATCHING_FILE, read_warmup_file


def _argv(tmp_path, *extra):
    return ["--quick", "--output-dir", str(tmp_path / "run"), "--export-dir", str(tmp_path / "export"), *extra]


@pytest.fixture(scope="module")
def quick_run(quick_runs):
    """One quick offline train-and-export on generated videos (tests/conftest.py), for the tests that read it."""
    return quick_runs("video_tagger")


def test_quick_offline_path_writes_everything_and_the_export_answers(quick_run):
    tmp_path, metrics = quick_run
    for name in ("config.json", "metrics.json", "history.csv", "checkpoints/best.weights.h5"):
        assert (tmp_path / "run" / name).exists(), name
    assert 0.0 <= metrics["frame_accuracy"] <= 1.0 and 0.0 <= metrics["edit_score"] <= 100.0
    assert set(metrics["per_class_f1"]) == set(data.DIRECTIONS)
    assert metrics["export_path"].endswith("video_tagger/1")
    raw, jpeg = metrics["bare_tf_check"]  # answered by a TensorFlow-only process; no stream (bidirectional)
    answer = raw["outputs"]
    assert len(jpeg["outputs"]["tags"]) == serve.CHECK_FRAMES
    assert len(answer["tags"]) == serve.CHECK_FRAMES and set(answer["tags"]) <= set(data.DIRECTIONS)
    probabilities = np.asarray(answer["probabilities"])
    assert probabilities.shape == (serve.CHECK_FRAMES, 4)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [data.DIRECTIONS[i] for i in probabilities.argmax(axis=1)] == answer["tags"]
    # TF Serving replays the check requests as warm-up records, under this model's name.
    logs = read_warmup_file(metrics["export_path"])
    assert [(log.predict_log.request.model_spec.name, log.predict_log.request.model_spec.signature_name)
            for log in logs] == [("video_tagger", "serving_default"), ("video_tagger", "jpeg_frames")]
    assert not (pathlib.Path(metrics["export_path"]) / BATCHING_FILE).exists()  # dimension 0 is time: unbatched



def test_the_first_example_request_is_the_demo_and_the_export_tags_it(quick_run):
    """serve.example_requests()[0]: what apps/run_all.py sends, the first 12 frames of generated video 0."""
    demo = serve.example_requests()[0]
    video = data.generate_videos(1, seed=0)
    assert demo.body == {"inputs": {"frames": video.inputs[0][:12].tolist()}}
    assert demo.shows == ["generated video, truly: " + " ".join(data.DIRECTIONS[y - 1] for y in video.labels[0][:12])]
    tags = LocalModel(quick_run[1]["export_path"]).predict(**demo.body)["outputs"]["tags"]
    assert len(tags) == 12 and set(tags) <= set(data.DIRECTIONS)
    # The export is checked and warmed with the other requests: one per signature, of a test video.
    checks = serve.example_requests(video.inputs[0][:serve.CHECK_FRAMES], stream=True)
    assert [r.body.get("signature_name", "serving_default") for r in checks] == [
        "serving_default", "jpeg_frames", "stream"]

def test_bad_shapes_are_refused_clearly(quick_run):
    """Wrong rank, 4 channels, zero frames, tiny or huge frames, too many frames: a clear message each."""
    local = LocalModel(quick_run[1]["export_path"])
    cases = [(np.zeros((32, 32, 3), np.uint8), "one video per request"),
             (np.zeros((1, 2, 32, 32, 3), np.uint8), "one video per request"),
             (np.zeros((2, 32, 32, 4), np.uint8), "3 color channels"),
             (np.zeros((0, 32, 32, 3), np.uint8), "one video per request"),  # JSON [] has no inner shape
             (np.zeros((2, 8, 32, 3), np.uint8), "at least 16"),
             (np.zeros((1, 1100, 16, 3), np.uint8), "at most 1024"),
             (np.zeros((2001, 16, 16, 3), np.uint8), "more than 2000 frames \\(the limit per request\\)")]
    for frames, message in cases:
        with pytest.raises(ServingError, match=message):
            local.predict(inputs={"frames": frames.tolist()})
    # Zero frames that keep their shape (a gRPC TensorProto can say [0, 32, 32, 3]; JSON cannot).
    serve = tf.saved_model.load(quick_run[1]["export_path"]).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="zero frames"):
        serve(frames=tf.zeros((0, 32, 32, 3), tf.uint8))
    # The same refusal from the TensorFlow-only process that stands in for TF Serving.
    report = check_saved_model(quick_run[1]["export_path"], [{"inputs": {"frames": [[[0, 0, 0]]]}}])
    assert report["results"][0]["status"] == 400
    assert "one video per request" in report["results"][0]["response"]["error"]


def test_any_length_and_size_is_tagged_and_rest_and_grpc_equal_local(quick_run):
    export = quick_run[1]["export_path"]
    frames = np.random.default_rng(0).integers(0, 255, (40, 20, 50, 3), np.uint8)  # > one chunk, not square
    local = LocalModel(export).predict(inputs={"frames": frames.tolist()})["outputs"]
    assert len(local["tags"]) == 40
    with bare_tf_server(export, "video_tagger") as url:
        remote = predict.main(["--server", url, "--sample", "--json"])
    assert len(remote["outputs"]["tags"]) == len(data.generate_videos(1, 0).labels[0])
    with grpc_server(export, "video_tagger") as target:  # JSON integers sent as the signature's uint8
        over_grpc = predict.main(["--server", f"grpc://{target}", "--sample", "--json"])
    assert predict.main(["--model-dir", export, "--sample", "--json"]) == remote == over_grpc


class _Interrupt(keras.callbacks.Callback):
    """Simulates a killed job: raises after the first epoch, once its backup is written."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_interrupted_training_resumes_from_the_last_epoch(tmp_path):
    argv = _argv(tmp_path, "--sample", "--epochs", "2", "--no-check-export")
    with pytest.raises(KeyboardInterrupt):
        train.main(argv, extra_callbacks=[_Interrupt()])
    assert (tmp_path / "run" / "backup").exists()
    metrics = train.main(argv + ["--resume"])
    assert [int(row["epoch"]) for row in metrics["history"]] == [0, 1], "an epoch was lost or repeated"


def _tagger_batch(temporal, seed=0):
    config = parse_config(Config, ["--quick", "--temporal", temporal, "--dropout", "0"])
    keras.utils.set_random_seed(seed)
    tagger = build_tagger(config, feature_dim=6, num_classes=3)
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(2, 9, 6)).astype(np.float32)
    lengths = np.array([9, 5], np.int32)
    labels = rng.integers(1, 4, (2, 9)).astype(np.int32)
    labels[1, 5:] = 0  # padding
    return tagger, features, lengths, labels


@pytest.mark.parametrize("temporal", ["bidirectional", "causal"])
def test_padded_frames_change_neither_outputs_nor_loss_nor_accuracy(temporal):
    tagger, features, lengths, labels = _tagger_batch(temporal)
    noisy = features.copy()
    noisy[1, 5:] = 100.0  # whatever sits in the padding...
    results = []
    for x in (features, noisy):
        logits = tagger([x, lengths]).numpy()
        accuracy = MaskedSparseCategoricalAccuracy(pad_id=0)
        accuracy.update_state(labels, logits)
        results.append((logits, float(masked_sparse_crossentropy()(labels, logits)), float(accuracy.result())))
    (a, loss_a, acc_a), (b, loss_b, acc_b) = results
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)          # ... the other video is untouched,
    np.testing.assert_allclose(a[1, :5], b[1, :5], atol=1e-6)  # the real frames are untouched (both ways),
    assert loss_a == pytest.approx(loss_b, abs=1e-6) and acc_a == acc_b  # and loss and accuracy too.
    changed = labels.copy()
    changed[1, 5:] = 0
    other_logits = a.copy()
    other_logits[1, 5:] = -other_logits[1, 5:]  # padded predictions flipped: still no effect
    assert float(masked_sparse_crossentropy()(labels, other_logits)) == pytest.approx(loss_a, abs=1e-6)


def test_causal_tags_never_depend_on_future_frames():
    tagger, features, lengths, _ = _tagger_batch("causal")
    full = tagger([features[:1], lengths[:1]]).numpy()[0]
    prefix = tagger([features[:1, :4], np.array([4], np.int32)]).numpy()[0]
    np.testing.assert_allclose(prefix, full[:4], atol=1e-5)


def test_generated_videos_follow_their_segments():
    videos = data.generate_videos(20, seed=1)
    for frames, labels in zip(videos.inputs, videos.labels):
        assert 20 <= len(labels) <= 60 and frames.shape == (len(labels), 32, 32, 3) and frames.dtype == np.uint8
        runs = [(label, end - start) for label, start, end in metrics.segments(labels)]
        assert all(5 <= length <= 15 for _, length in runs[:-1])  # the last run may be cut by the end
        # The square moves 4 pixels a frame in its tag's direction: the brightest pixels say so.
        for t in range(1, len(labels)):
            dy, dx = _square_shift(frames[t - 1], frames[t])
            assert (dy, dx) == {1: (0, -4), 2: (0, 4), 3: (-4, 0), 4: (4, 0)}[int(labels[t])]


def _square_shift(before, after, size=32):
    def corner(frame):
        mask = frame.min(axis=-1) >= 150
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        # The top-left corner on a torus: the lit row (column) whose predecessor is dark.
        return (next(r for r in rows if (r - 1) % size not in rows), next(c for c in cols if (c - 1) % size not in cols))
    (r0, c0), (r1, c1) = corner(before), corner(after)
    wrap = lambda d: (d + size // 2) % size - size // 2
    return wrap(r1 - r0), wrap(c1 - c0)


def _write_clips(folder, actions=("Archery", "Biking", "Diving"), groups=4, frames=5, size=24):
    """GIF clips named like UCF101's; every frame of action k is filled with the grey level 60 * (k + 1)."""
    for k, action in enumerate(actions):
        for group in range(1, groups + 1):
            for clip in (1, 2):
                shade = 60 * (k + 1)
                images = [Image.new("RGB", (size, size), (shade, shade, shade)) for _ in range(frames + clip)]
                path = folder / action / f"v_{action}_g{group:02d}_c{clip:02d}.gif"
                path.parent.mkdir(parents=True, exist_ok=True)
                images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)


def test_joined_clip_labels_line_up_with_frames_and_groups_never_mix(tmp_path):
    _write_clips(tmp_path)
    config = parse_config(Config, ["--data-dir", str(tmp_path), "--encoder", "small_cnn",
                                         "--image-size", "16", "--frame-step", "1", "--test-groups", "1",
                                         "--validation-groups", "1"])
    all_clips = ucf101.read_clip_folder(tmp_path, 16, 1, 16)
    splits = ucf101.split_by_group(all_clips, 1, 1)
    assert [{c.group for c in splits[s]} for s in ("test", "validation", "train")] == [{1}, {2}, {3, 4}]
    videos = ucf101.load_ucf101(config)
    assert videos["train"].class_names == ["Archery", "Biking", "Diving"]
    for split in videos.values():
        for frames, labels in zip(split.inputs, split.labels):
            shade = frames.reshape(len(frames), -1).mean(axis=1)
            np.testing.assert_allclose(shade, 60 * labels, atol=2)  # each frame carries its own clip's action
            assert 1 <= len(metrics.segments(labels)) <= 4  # 2-4 clips of different actions (fewer at the end)
    assert any(len(metrics.segments(y)) >= 2 for y in videos["train"].labels)
    assert sum(len(v) for s in videos.values() for v in s.labels) == sum(len(c.inputs) for c in all_clips)


def test_real_clip_path_trains_and_exports_offline(tmp_path):
    _write_clips(tmp_path / "clips")
    metrics = train.main(_argv(tmp_path, "--data-dir", str(tmp_path / "clips"), "--encoder", "small_cnn",
                               "--image-size", "16", "--test-groups", "1", "--validation-groups", "1",
                               "--frame-step", "1", "--no-check-export"))
    assert metrics["classes"] == ["Archery", "Biking", "Diving"] and metrics["data"] == "ucf101"
    answer = LocalModel(metrics["export_path"]).predict(
        inputs={"frames": np.full((7, 40, 30, 3), 120, np.uint8).tolist()})["outputs"]
    assert len(answer["tags"]) == 7 and set(answer["tags"]) <= {"Archery", "Biking", "Diving"}
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["encoder"] == "small_cnn" and saved["image_size"] == 16


def test_missing_data_gives_a_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="--sample"):
        train.main(_argv(tmp_path, "--data-dir", str(tmp_path / "nowhere"), "--encoder", "small_cnn"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="UCF101"):
        train.main(_argv(tmp_path, "--data-dir", str(tmp_path / "empty"), "--encoder", "small_cnn"))


@pytest.mark.slow
def test_inception_feature_path_trains_and_exports(tmp_path):
    """InceptionV3 (random weights here: ImageNet's cannot be downloaded offline) as a frozen feature
    extractor: features computed once, the tagger trained on them, the export running InceptionV3 in-graph."""
    metrics = train.main(_argv(tmp_path, "--sample", "--encoder", "inception", "--inception-weights", "none",
                               "--image-size", "75"))
    assert metrics["encoder"] == "inception"
    answer = metrics["bare_tf_check"][0]["outputs"]
    assert len(answer["tags"]) == serve.CHECK_FRAMES and set(answer["tags"]) <= set(data.DIRECTIONS)
    # The features are cached: the same config reads them back instead of running InceptionV3 again.
    config = parse_config(Config, _argv(tmp_path, "--sample", "--encoder", "inception",
                                              "--inception-weights", "none", "--image-size", "75"))
    config = config.resolved()  # as train.py does: the frame step and clip length made concrete
    cached = cache.cached_features(config, lambda: pytest.fail("features were computed again"))
    assert cached["train"].inputs[0].shape[1] == 2048
    assert len(cached["test"]) == metrics["test_videos"]
