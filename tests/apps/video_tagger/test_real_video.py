"""Real-video paths on tiny data: DATA_DIR/<action>/<clip> folders with per-frame labels, the person split,
the jpeg_frames and stream signatures (a stream fed chunk by chunk equals the whole video), their limits,
and predict.py on a video file. Real KTH / Weizmann tests are marked slow and skip without the data."""

import base64
import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from apps.video_tagger import folders, predict, serve, train
from apps.video_tagger.config import Config
from apps.video_tagger.serve import jpeg_files
from shared.runtime.config import parse_config
from shared.runtime.serving import LocalModel, check_saved_model
from tests.conftest import quick_argv, real_data

ACTIONS = ("bend", "jack", "walking")


def _write_folder(root, people=(1, 2, 3, 4, 5, 6), frames=8, size=20):
    """GIF clips root/<action>/personNN_<action>.gif; action k has a bright bar moving k + 1 pixels a frame.
    walking clips get a groundTruth file whose first 2 frames are `background`."""
    for k, action in enumerate(ACTIONS):
        for person in people:
            images = []
            for t in range(frames + person % 3):
                pixels = np.full((size, size, 3), 30 * (k + 1), np.uint8)
                pixels[:, (t * (k + 1)) % size] = 255
                images.append(Image.fromarray(pixels))
            path = root / action / f"person{person:02d}_{action}_d1.gif"
            path.parent.mkdir(parents=True, exist_ok=True)
            images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)
            if action == "walking":
                truth = root / "groundTruth" / f"person{person:02d}_{action}.txt"  # a prefix of the clip name
                truth.parent.mkdir(exist_ok=True)
                truth.write_text("\n".join(["background"] * 2 + ["walking"] * (len(images) - 2)) + "\n")


@pytest.fixture(scope="module")
def causal_export(tmp_path_factory):
    """A quick causal GRU (two layers: a state of several parts) on the tiny folder, exported and checked."""
    tmp_path = tmp_path_factory.mktemp("folder")
    _write_folder(tmp_path / "clips")
    metrics = train.main(quick_argv(tmp_path, "--data-dir", str(tmp_path / "clips"), "--temporal", "causal",
                                    "--layers", "2", "--image-size", "16", "--frame-step", "1",
                                    "--piece-frames", "3,6", "--steps-per-epoch", "2"))
    return tmp_path, metrics


def test_folder_labels_split_and_background(tmp_path):
    _write_folder(tmp_path)
    clips = folders.read_folder(tmp_path, 16, 1, 0, folders.DEFAULT_GROUP_PATTERN)
    assert len(clips) == 18 and {c.group for c in clips} == {1, 2, 3, 4, 5, 6}
    walking = next(c for c in clips if c.action == "walking")
    assert walking.frame_names[:3] == ["background", "background", "walking"]
    splits = folders.split_by_person(clips)
    people = {name: {c.group for c in members} for name, members in splits.items()}
    assert not (people["train"] & people["test"]) and not (people["train"] & people["validation"])
    assert not (people["test"] & people["validation"]) and len(people["test"]) == 2  # 30% of 6 people
    assert {c.action for c in splits["test"]} == set(ACTIONS)  # every action has a test clip
    assert folders.split_by_person(clips, [6], [5])["test"][0].group == 6
    with pytest.raises(ValueError, match="both"):
        folders.split_by_person(clips, [6], [6])


def test_a_label_file_of_the_wrong_length_is_refused(tmp_path):
    _write_folder(tmp_path, people=(1,))
    (tmp_path / "groundTruth" / "person01_walking.txt").write_text("walking\n")
    with pytest.raises(folders.DataCorruptError, match="one label per frame"):
        folders.read_folder(tmp_path, 16, 1, 0, folders.DEFAULT_GROUP_PATTERN)


def test_stream_chunk_by_chunk_equals_the_causal_model_on_the_whole_video(causal_export):
    _, metrics = causal_export
    assert metrics["data"] == "folder" and metrics["encoder"] == "difference_cnn"
    assert "background" in metrics["classes"]
    assert [len(answer["outputs"]["tags"]) for answer in metrics["bare_tf_check"]] == [serve.CHECK_FRAMES] * 3
    loaded = tf.saved_model.load(metrics["export_path"])
    video = np.random.default_rng(3).integers(0, 256, (41, 24, 30, 3), np.uint8)  # > CHUNK, not square
    whole = loaded.signatures["serving_default"](frames=tf.constant(video))
    tags, probabilities, state = [], [], tf.zeros([0])
    for start, end in ((0, 1), (1, 8), (8, 40), (40, 41)):  # uneven chunks, single frames at both ends
        answer = loaded.signatures["stream"](frames=tf.constant(video[start:end]), state=state)
        tags += answer["tags"].numpy().tolist()
        probabilities.append(answer["probabilities"].numpy())
        state = answer["state"]
    assert tags == whole["tags"].numpy().tolist()
    np.testing.assert_allclose(np.concatenate(probabilities), whole["probabilities"].numpy(), atol=1e-5)
    config = parse_config(Config, ["--temporal", "causal", "--layers", "2", "--units", "8",
                                               "--image-size", "16", "--encoder", "motion_cnn"])
    assert state.shape == (16 * 16 * 3 + 2 * 8,) and config.motion


def test_jpeg_frames_answers_like_the_decoded_frames(causal_export):
    export = causal_export[1]["export_path"]
    video = np.random.default_rng(4).integers(0, 256, (5, 20, 24, 3), np.uint8)
    files = jpeg_files(video)
    decoded = np.stack([tf.io.decode_jpeg(f).numpy() for f in files])
    local = LocalModel(export)
    by_jpeg = local.predict(inputs={"frames": [{"b64": base64.b64encode(f).decode()} for f in files]},
                            signature_name="jpeg_frames")["outputs"]
    by_pixels = local.predict(inputs={"frames": decoded.tolist()})["outputs"]
    assert by_jpeg["tags"] == by_pixels["tags"]
    np.testing.assert_allclose(by_jpeg["probabilities"], by_pixels["probabilities"], atol=1e-5)
    png = io.BytesIO()
    Image.fromarray(video[0]).save(png, "PNG")
    assert len(local.predict(inputs={"frames": [{"b64": base64.b64encode(png.getvalue()).decode()}]},
                             signature_name="jpeg_frames")["outputs"]["tags"]) == 1


def _png_header(width, height):
    """The first 33 bytes of a PNG (signature and IHDR) declaring width x height, and no pixel data."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + ihdr + b"\0\0\0\0"


def test_requests_just_over_a_limit_are_refused_naming_it(causal_export):
    loaded = tf.saved_model.load(causal_export[1]["export_path"])
    jpeg, stream = loaded.signatures["jpeg_frames"], loaded.signatures["stream"]
    small = jpeg_files(np.zeros((1, 16, 16, 3), np.uint8))[0]
    wide = jpeg_files(np.zeros((1, 16, serve.MAX_SIDE + 1, 3), np.uint8))[0]
    cases = [([small] * (serve.MAX_FRAMES + 1), "more than 2000 frames \\(the limit per request\\)"),
             ([small, wide], "declared frame height and width must be at most 1024"),
             ([_png_header(60000, 60000)], "at most 1024"),  # a decompression bomb: refused before decoding
             ([_png_header(16, 15)], "at least 16"),
             ([b"GIF89a" + small], "every frame must be a JPEG or PNG"),
             ([b"\xff\xd8\xff" + b"\0" * (serve.MAX_FRAME_BYTES - 2)], f"more than {serve.MAX_FRAME_BYTES} bytes")]
    for frames, message in cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            jpeg(frames=tf.constant(frames))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one JPEG or PNG file per frame"):
        jpeg(frames=tf.constant([[small]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="numbers the previous answer returned"):
        stream(frames=tf.zeros((2, 16, 16, 3), tf.uint8), state=tf.zeros([5]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than 2000 frames"):
        stream(frames=tf.zeros((2001, 16, 16, 3), tf.uint8), state=tf.zeros([0]))
    # The same refusal from the TensorFlow-only process, as a REST 400.
    body = {"signature_name": "jpeg_frames", "inputs": {"frames": [{"b64": base64.b64encode(
        _png_header(1025, 16)).decode()}]}}
    result = check_saved_model(causal_export[1]["export_path"], [body])["results"][0]
    assert result["status"] == 400 and "at most 1024" in result["response"]["error"]


def test_predict_tags_a_video_file_whole_as_jpeg_and_in_chunks(causal_export, capsys):
    tmp_path, metrics = causal_export
    clip = sorted((tmp_path / "clips" / "walking").glob("*.gif"))[0]  # person01: 9 frames
    argv = [str(clip), "--model-dir", metrics["export_path"]]
    whole = predict.main(argv + ["--send", "raw", "--json"])["outputs"]
    chunks = predict.main(argv + ["--stream", "--chunk", "3", "--json"])["outputs"]
    assert chunks["tags"] == whole["tags"] and len(whole["tags"]) == 8 + 1  # person01: 8 + 1 % 3 frames
    np.testing.assert_allclose(chunks["probabilities"], whole["probabilities"], atol=1e-5)
    capsys.readouterr()
    predict.main(argv)  # JPEG frames to jpeg_frames, segments with times (GIF: 40 ms a frame)
    out = capsys.readouterr().out
    assert "9 frames of 20x20" in out and " s  frames    0-" in out


@pytest.mark.slow
@pytest.mark.parametrize("name, classes, people", [
    ("kth", ["background", "boxing", "handwaving", "jogging", "running", "walking"], 10),
    ("weizmann", ["bend", "jack", "wave1", "wave2"], 9)])
def test_real_folders_read_with_their_labels_and_split_by_person(name, classes, people):
    root = real_data(name)
    clips = folders.read_folder(root, 32, 2, 0, folders.DEFAULT_GROUP_PATTERN)
    assert sorted({n for c in clips for n in c.frame_names}) == classes
    assert len({c.group for c in clips}) == people
    splits = folders.split_by_person(clips)
    groups = [{c.group for c in splits[s]} for s in ("train", "validation", "test")]
    assert not (groups[0] & groups[2]) and not (groups[1] & groups[2]) and not (groups[0] & groups[1])
    assert {c.action for c in splits["test"]} == {c.action for c in clips}
    if name == "kth":  # person09_walking_d1: 272 walking frames of 685, the rest out of view
        walking = next(c for c in clips if c.name == "person09_walking_d1_uncomp")
        every = (root / "groundTruth" / "person09_walking_d1.txt").read_text().split()
        assert every.count("walking") == 272 and len(every) == 685
        assert walking.frame_names == every[::2] and len(walking.inputs) == 343
    assert json.dumps([c.name for c in clips])  # names are plain text (used in the feature cache key)
