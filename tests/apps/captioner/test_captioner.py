"""The captioner end to end on tiny data: encoder, feature cache, teacher forcing, export, bad images."""

import base64
import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.captioner import cache, data, encoder, serve, train
from apps.captioner.config import Config, resolve_config
from apps.captioner.metrics import bleu_scores, constant_baseline
from apps.captioner.model import build_model
from apps.captioner.serve import CaptionWriter
from shared.modeling.text import END, START, frame_targets, make_target_vectorizer
from shared.modeling.vision import build_encoder, decode_and_preprocess
from shared.runtime.config import parse_config
from shared.runtime.grpc_server import grpc_server
from shared.runtime.serving import check_saved_model
from shared.runtime.serving_assets import BATCHING_FILE, read_warmup_file
from tests.conftest import real_data


def _argv(tmp_path, *extra):
    return ["--sample", "--quick", "--output-dir", str(tmp_path / "run"), "--export-dir", str(tmp_path / "export"),
            *extra]


@pytest.fixture(scope="module")
def quick_run(quick_runs):
    """One quick offline train-and-export (tests/conftest.py), shared by the tests that read it."""
    return quick_runs("captioner")


def test_quick_offline_path(quick_run):
    tmp_path, metrics = quick_run
    assert metrics["encoder_weights"] == "none" and metrics["encoder_identity"].startswith("trained-")
    for decoder in ("greedy", "beam"):
        assert set(metrics["bleu"][decoder]) == {"bleu1", "bleu2", "bleu3", "bleu4"}
    [encoder_folder] = (tmp_path / "run" / "encoder").iterdir()  # one recipe, one trained encoder
    assert (encoder_folder / "encoder.weights.h5").exists() and (encoder_folder / "recipe.json").exists()
    encoder_history = (encoder_folder / "history.csv").read_text().splitlines()
    assert len(encoder_history) == 2 and "nan" not in encoder_history[1].lower()
    assert all(np.isfinite(row["loss"]) for row in metrics["history"]), metrics["history"]
    # --select-by bleu (the default): every epoch's validation captions were written and scored.
    assert all(0.0 <= row["val_bleu4"] <= 1.0 for row in metrics["history"]), metrics["history"]
    features = tmp_path / "run" / "features"
    assert list(features.rglob("eval.npz")) and list(features.rglob("train-00000-of-*.tfrecord"))
    saved = json.loads((tmp_path / "export" / "captioner" / "1" / "assets.extra" / "metrics.json").read_text())
    assert saved["encoder_weights"] == "none"
    # TF Serving replays the check requests as warm-up records, under this model's name.
    logs = read_warmup_file(metrics["export_path"])
    assert [(log.predict_log.request.model_spec.name, log.predict_log.request.model_spec.signature_name)
            for log in logs] == [("captioner", "serving_default")]
    assert (pathlib.Path(metrics["export_path"]) / BATCHING_FILE).exists()  # every input is a batch


def test_exported_model_captions_jpeg_and_refuses_garbage(quick_run):
    """A bare-TF process captions real JPEG and PNG bytes; corrupt bytes get an error, not a crash."""
    export = quick_run[1]["export_path"]
    rng = np.random.default_rng(0)
    jpeg, _ = data.sample_scene(rng)
    png = tf.io.encode_png(np.full((500, 700, 3), 128, np.uint8)).numpy()  # big and not square: resized
    b64 = lambda raw: {"b64": base64.b64encode(raw).decode()}  # noqa: E731
    report = check_saved_model(export, [
        {"instances": [b64(jpeg), b64(png)]},
        {"instances": [b64(jpeg), b64(b"this is not an image")]},
        {"instances": [b64(jpeg[: len(jpeg) // 3])]},
        {"signature_name": "greedy", "instances": [b64(jpeg)]}])
    good, garbage, truncated, greedy = report["results"]
    assert good["status"] == 200 and len(good["response"]["predictions"]) == 2
    assert all(isinstance(caption, str) for caption in good["response"]["predictions"])
    assert garbage["status"] == 400 and "not a JPEG, PNG, GIF or BMP" in garbage["response"]["error"]
    assert truncated["status"] == 400 and "error" in truncated["response"]
    assert greedy["status"] == 200


def test_example_requests_are_the_demo_and_the_exports_check(quick_run):
    """serve.example_requests(): run_all's two generated scenes; with a split, the check and warm-up request."""
    tmp_path, metrics = quick_run
    rng = np.random.default_rng(2024)
    scenes = [data.sample_scene(rng) for _ in range(2)]
    [demo] = serve.example_requests()
    assert demo.body == {"instances": [{"b64": base64.b64encode(jpeg).decode()} for jpeg, _ in scenes]}
    assert demo.shows == [f"generated scene, truly: {captions[0]!r}" for _, captions in scenes]
    answers = check_saved_model(metrics["export_path"], [demo.body])["results"][0]["response"]["predictions"]
    assert len(answers) == 2 and all(isinstance(answer, str) for answer in answers)
    test = data.load_splits(resolve_config(parse_config(Config, _argv(tmp_path))))["test"]
    [check] = serve.example_requests(test)
    [warmup] = read_warmup_file(metrics["export_path"])
    assert warmup.predict_log.request.inputs["image_bytes"].string_val == [test.images[0]] == [
        base64.b64decode(item["b64"]) for item in check.body["instances"]]
    assert check.shows == [f"{test.image_ids[0]}, truly: {test.captions[0][0]!r}"]


def test_cache_preprocessing_equals_the_exported_graph(quick_run):
    """Features in the cache are exactly what the exported graph computes from the same bytes."""
    tmp_path, metrics = quick_run
    config = resolve_config(parse_config(Config, _argv(tmp_path)))
    splits = data.load_splits(config)  # --quick: 16 images per split
    image_encoder, identity = encoder.resolve_encoder(config, splits)
    assert identity == metrics["encoder_identity"]  # the trained encoder was reused, not retrained
    cached = cache.cached_features(config, splits, image_encoder, identity)["test"][:3]
    served = tf.saved_model.load(metrics["export_path"])
    pixels = tf.stack([decode_and_preprocess(tf.constant(image), config.image_size)
                       for image in splits["test"].images[:3]])
    graph_features = image_encoder(pixels).numpy()
    np.testing.assert_allclose(cached.astype(np.float32), graph_features, rtol=2e-3, atol=2e-3)
    assert "serving_default" in served.signatures


def test_a_trained_encoder_is_reused_only_for_the_same_recipe(quick_run):
    """Regression: a --sample run once picked up the 1-epoch encoder a --quick run had left in runs/captioner."""
    tmp_path, _ = quick_run
    config = resolve_config(parse_config(Config, _argv(tmp_path)))
    splits = data.load_splits(config)  # --quick: 16 images per split
    same = resolve_config(parse_config(Config, _argv(tmp_path)))
    assert encoder.encoder_folder(same, splits) == encoder.encoder_folder(config, splits)
    for change in (["--encoder-epochs", "3"], ["--image-size", "96"], ["--encoder-words", "25"], ["--seed", "7"],
                   ["--encoder-precision", "mixed_bfloat16"], ["--encoder-crop", "0.9"],
                   ["--encoder-schedule", "cosine"]):
        other = resolve_config(parse_config(Config, _argv(tmp_path, *change)))
        assert encoder.encoder_folder(other, splits) != encoder.encoder_folder(config, splits), change
        assert not (encoder.encoder_folder(other, splits) / "encoder.weights.h5").exists()
    more_images = data.load_sample(config.seed, {"train": 20, "validation": 16, "test": 16})
    assert encoder.encoder_folder(config, more_images) != encoder.encoder_folder(config, splits)


def test_encoder_training_crops_only_training_batches():
    """Training batches are random crops (same size and scale); every other batch is the serving graph's pixels."""
    rng = np.random.default_rng(1)
    images = [data.sample_scene(rng)[0] for _ in range(4)]
    labels = np.zeros((4, 3), np.float32)
    pixels, _ = next(iter(data.image_dataset(images, 75, 4, labels, training=True, seed=1, crop=0.5)))
    assert pixels.shape == (4, 75, 75, 3)
    assert -1.0 <= float(tf.reduce_min(pixels)) <= float(tf.reduce_max(pixels)) <= 1.0
    served = tf.stack([decode_and_preprocess(tf.constant(image), 75) for image in images])
    plain = next(iter(data.image_dataset(images, 75, 4, crop=0.5)))  # not training: no crop, no mirror
    np.testing.assert_array_equal(plain.numpy(), served.numpy())
    mirrored = tf.image.flip_left_right(served)
    # Each side is cut to int(side x fraction) < side pixels, so no crop is the whole picture.
    assert any(not (np.allclose(pixels[i], served[i]) or np.allclose(pixels[i], mirrored[i])) for i in range(4))
    with pytest.raises(ValueError, match="--encoder-crop"):
        parse_config(Config, ["--sample", "--encoder-crop", "0"])


def test_image_every_step_reaches_every_word():
    """With --image-every-step the image changes the logits even when the LSTM's state is the same."""
    config = resolve_config(parse_config(Config, ["--sample", "--quick", "--image-every-step"]))
    decoder = build_model(config, vocab_size=12, feature_dim=8)
    features = tf.random.stateless_normal([2, 8], seed=[1, 2])
    states = decoder.encode(features)
    assert len(states) == 3  # h, c and the image input the decoding loops carry along
    other_image = decoder.encode(-features)[2]
    logits, carried = decoder.decode(tf.constant([[START, 5, 6]] * 2), states)
    swapped, _ = decoder.decode(tf.constant([[START, 5, 6]] * 2), [states[0], states[1], other_image])
    assert not np.allclose(logits[:, -1].numpy(), swapped[:, -1].numpy())
    np.testing.assert_array_equal(carried[2].numpy(), states[2].numpy())
    vectorizer = make_target_vectorizer(12, ["a red circle", "a blue square"])
    decoder = build_model(config, vectorizer.vocabulary_size(), feature_dim=8)
    writer = CaptionWriter(build_encoder(None, 75), decoder, vectorizer, config)
    assert len(writer.beam_from_features(features).numpy()) == 2
    assert len(writer.greedy_from_features(features).numpy()) == 2


def test_teacher_forcing_shifts_targets_by_one():
    vectorizer = make_target_vectorizer(50, ["a red circle", "a blue square"])
    framed = frame_targets(vectorizer(tf.constant(["a red circle"])), 20).numpy()[0]
    decoder_input, target = framed[:-1], framed[1:]
    assert decoder_input[0] == START and target[len("a red circle".split())] == END
    np.testing.assert_array_equal(decoder_input[1:4], target[0:3])


def test_weights_file_loading_path(tmp_path):
    keras.utils.set_random_seed(3)
    original = build_encoder(None, 75)
    path = tmp_path / "inception.weights.h5"
    original.save_weights(str(path))
    loaded = build_encoder(str(path), 75)
    for a, b in zip(original.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError, match="--inception-weights"):
        build_encoder(str(tmp_path / "missing.h5"), 75)


def test_bleu_and_baseline():
    references = [["a dog runs on the grass", "a brown dog is running"], ["a man rides a bike", "a cyclist"]]
    perfect = bleu_scores(["a dog runs on the grass", "a man rides a bike"], references)
    assert perfect["bleu4"] == pytest.approx(1.0)
    poor = bleu_scores(["a man rides a bike", "a dog runs on the grass"], references)
    assert poor["bleu1"] < perfect["bleu1"]
    assert constant_baseline(references * 5, candidates=4, images=10) in {
        "a dog runs on the grass", "a man rides a bike"}


def test_a_short_split_list_is_refused_unless_partial(tmp_path):
    """Flickr8k's layout with 2 images per split: refused by name and count, loaded with --partial-data."""
    ids = {split: [f"{split}{n}.jpg" for n in range(2)] for split in data.SPLIT_FILES}
    (tmp_path / "Flicker8k_Dataset").mkdir()
    for split, names in ids.items():
        (tmp_path / data.SPLIT_FILES[split]).write_text("\n".join(names) + "\n")
        for name in names:
            (tmp_path / "Flicker8k_Dataset" / name).write_bytes(b"\xff\xd8\xff")
    (tmp_path / "Flickr8k.token.txt").write_text(
        "".join(f"{name}#0\ta caption\n" for names in ids.values() for name in names))
    with pytest.raises(ValueError, match=r"Flickr_8k.trainImages.txt holds 2 train images.*6,000 train images"
                                         r" \(5,998 train images missing\)"):
        data.load_flickr8k(str(tmp_path), limit=1)  # a limit cuts after the check: it is no subset flag
    splits = data.load_flickr8k(str(tmp_path), partial=True)
    assert [len(splits[s].images) for s in ("train", "validation", "test")] == [2, 2, 2]


def test_real_flickr8k_loads():
    directory = real_data("flickr8k/Flickr8k.token.txt").parent
    splits = data.load_flickr8k(str(directory), limit=3)
    assert [len(splits[s].images) for s in ("train", "validation", "test")] == [3, 3, 3]
    assert all(len(captions) == 5 for captions in splits["test"].captions)
    assert splits["train"].images[0][:3] == b"\xff\xd8\xff"


def test_predict_script_local_rest_and_grpc(quick_run, tmp_path):
    from apps.captioner import predict
    from shared.runtime.serving import bare_tf_server

    image = tmp_path / "scene.jpg"
    image.write_bytes(data.sample_scene(np.random.default_rng(1))[0])
    local = predict.main(["--model-dir", quick_run[1]["export_path"], str(image)])
    with bare_tf_server(quick_run[1]["export_path"], "captioner") as url:
        remote = predict.main(["--server", url, str(image)])
    with grpc_server(quick_run[1]["export_path"], "captioner") as target:  # JPEG bytes, not b64, on the wire
        over_grpc = predict.main(["--server", f"grpc://{target}", str(image)])
    assert remote == local == over_grpc and isinstance(local["predictions"][0], str)
    with pytest.raises(SystemExit):
        predict.main([str(tmp_path / "missing.jpg")])


def test_decoder_schedule_and_selection_flags():
    """--schedule cosine decays the decoder's rate to zero over --epochs; constant keeps --learning-rate."""
    config = parse_config(Config, ["--sample", "--epochs", "4", "--schedule", "cosine"])
    schedule = train.decoder_learning_rate(config, steps_per_epoch=10)
    assert float(schedule(0)) == pytest.approx(config.learning_rate)
    assert float(schedule(20)) == pytest.approx(config.learning_rate / 2, rel=1e-4)
    assert float(schedule(40)) == pytest.approx(0.0, abs=1e-12)
    constant = parse_config(Config, ["--sample", "--learning-rate", "0.002"])
    assert train.decoder_learning_rate(constant, steps_per_epoch=10) == 0.002
    for flag, value in (("--schedule", "linear"), ("--select-by", "accuracy")):
        with pytest.raises(SystemExit):  # argparse refuses a choice it does not know
            parse_config(Config, ["--sample", flag, value])
    assert config.select_by == "bleu"  # the kept epoch is the one whose captions scored best on validation
