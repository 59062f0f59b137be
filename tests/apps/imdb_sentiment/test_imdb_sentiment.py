"""The IMDb app end to end on tiny data: train, resume, export, serve, bad input, missing data."""

import base64
import gzip
import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.imdb_sentiment import data, predict, serve, train
from apps.imdb_sentiment.config import Config
from apps.imdb_sentiment.model import build_model
from shared.runtime.config import parse_config
from shared.runtime.data import DataCorruptError, DataNotFoundError
from shared.runtime.export import export_saved_model
from shared.runtime.grpc_server import grpc_server
from shared.runtime.serving import bare_tf_server, check_saved_model
from shared.runtime.serving_assets import BATCHING_FILE, read_warmup_file
from shared.modeling.embeddings import TokenBigrams
from shared.modeling.text import make_word_vectorizer, truncate_ids
from tests.conftest import quick_argv as _argv
from tests.conftest import real_data


@pytest.fixture(scope="module")
def quick_run(quick_runs):
    """One quick offline train-and-export (tests/conftest.py), shared by the tests that only read it."""
    return quick_runs("imdb_sentiment")


def test_quick_offline_path_writes_everything(quick_run):
    tmp_path, metrics = quick_run
    run = tmp_path / "run"
    for name in ("config.json", "metrics.json", "history.csv", "checkpoints/best.weights.h5"):
        assert (run / name).exists(), name
    assert list((run / "logs").rglob("events.out.tfevents.*")), "no TensorBoard logs"
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["train_seconds"] > 0
    # The default model has two read-outs; each one's own accuracy is measured beside the model's.
    assert 0.0 <= metrics["test_accuracy_recurrent"] <= 1.0 and 0.0 <= metrics["test_accuracy_bag"] <= 1.0
    # Each read-out is kept at its own best epoch (one epoch in quick mode), from a checkpoint of its own.
    assert metrics["kept_epochs"] == {"recurrent": 1, "bag": 1} and 0.0 <= metrics["kept_val_accuracy"] <= 1.0
    for name in ("recurrent", "bag"):
        assert (run / "checkpoints" / f"best-val_{name}_accuracy.weights.h5").exists(), name
    assert metrics["export_path"].endswith("imdb_sentiment/1")
    saved_config = json.loads((run / "config.json").read_text())
    assert saved_config["quick"] and saved_config["sample"] and saved_config["app"] == "imdb_sentiment"
    extra = tmp_path / "export" / "imdb_sentiment" / "1" / "assets.extra"
    assert json.loads((extra / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]
    # TF Serving replays the check requests as warm-up records, under this model's name.
    logs = read_warmup_file(metrics["export_path"])
    assert [(log.predict_log.request.model_spec.name, log.predict_log.request.model_spec.signature_name)
            for log in logs] == [("imdb_sentiment", "serving_default")]
    assert (pathlib.Path(metrics["export_path"]) / BATCHING_FILE).exists()  # every input is a batch


def test_bad_inputs_get_answers_in_a_bare_tf_process(quick_run):
    """Empty, non-UTF-8, HTML and 100,000-character reviews: every one answered, none crashes."""
    export = quick_run[1]["export_path"]
    awkward = ["", {"b64": base64.b64encode(b"caf\xe9 \xff\xfe terrible").decode()},
               "<br /><br /><i>Great</i> film<br />", "bad " * 25000, "   "]
    report = check_saved_model(export, [{"instances": awkward}])
    result = report["results"][0]
    assert result["status"] == 200, result
    predictions = result["response"]["predictions"]
    assert len(predictions) == len(awkward)
    for answer in predictions:
        assert 0.0 <= answer["probability"] <= 1.0
        assert answer["label"] == ("positive" if answer["probability"] >= 0.5 else "negative")


def test_every_example_request_is_answered_in_a_bare_tf_process(quick_run):
    """serve.example_requests(): the demo first (run_all's reviews), the check request last; one answer per
    line of `shows`, and the check request is the export's one warm-up record."""
    export = quick_run[1]["export_path"]
    requests = serve.example_requests()
    assert requests[0].body == {"instances": ["At first the plot was dull, but in the end it was wonderful.",
                                              "The acting was never good."]}
    assert requests[-1].body == {"instances": ["A moving, beautiful film.", ""]}
    report = check_saved_model(export, [request.body for request in requests])
    for request, result in zip(requests, report["results"], strict=True):
        assert result["status"] == 200, result
        assert len(result["response"]["predictions"]) == len(request.shows) == len(request.body["instances"])
    assert quick_run[1]["bare_tf_check"] == report["results"][-1]["response"]
    (log,) = read_warmup_file(export)
    assert list(log.predict_log.request.inputs["text"].string_val) == [b"A moving, beautiful film.", b""]


def test_export_round_trip_equals_the_keras_model(tmp_path):
    """The served signature gives the Keras model's own predictions (tokenization included)."""
    config = parse_config(Config, _argv(tmp_path, "--sample"))
    reviews = data.sample_reviews(64, seed=0)
    vectorizer = make_word_vectorizer(200, reviews.texts)
    bigrams = TokenBigrams(vectorizer.vocabulary_size(), 50)
    bigrams.adapt(truncate_ids(vectorizer(tf.constant(reviews.texts)), config.max_tokens, config.keep))
    model = build_model(config, vectorizer.vocabulary_size(), bigrams)
    texts = reviews.texts[:8] + ["", "Utterly unknown zebra words"]
    token_ids = truncate_ids(vectorizer(tf.constant(texts)), config.max_tokens, config.keep)
    expected = model.predict(token_ids, verbose=0)["probability"].reshape(-1)
    # Tracked as train.py tracks it: the word-pair table travels inside the model.
    path = export_saved_model(config, serve.export_endpoints(vectorizer, model, config), track=[vectorizer, model])
    served = tf.saved_model.load(str(path)).signatures["serving_default"](text=tf.constant(texts))
    # Row 8 ("") is empty: the served graph feeds it one OOV token instead of nothing.
    np.testing.assert_allclose(served["probability"].numpy()[:8], expected[:8], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["probability"].numpy()[9], expected[9], rtol=1e-5, atol=1e-6)


class _Interrupt(keras.callbacks.Callback):
    """Simulates a killed job: raises after the first epoch, once its backup is written."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_interrupted_training_resumes_from_the_last_epoch(tmp_path):
    argv = _argv(tmp_path, "--sample", "--epochs", "3", "--no-check-export")
    with pytest.raises(KeyboardInterrupt):
        train.main(argv, extra_callbacks=[_Interrupt()])
    assert (tmp_path / "run" / "backup").exists()
    assert not (tmp_path / "export").exists() or not any((tmp_path / "export").rglob("saved_model.pb"))
    metrics = train.main(argv + ["--resume"])
    epochs = [int(row["epoch"]) for row in metrics["history"]]
    assert epochs == [0, 1, 2], "an epoch was lost or repeated"
    assert not (tmp_path / "run" / "backup").exists(), "a finished run keeps no backup"


def test_rerun_exports_a_new_version(quick_run):
    tmp_path, first = quick_run
    second = train.main(_argv(tmp_path, "--sample", "--no-check-export"))
    assert second["export_path"].endswith("imdb_sentiment/2")
    assert (tmp_path / "export" / "imdb_sentiment" / "1" / "saved_model.pb").exists()


def test_predict_locally_and_over_rest_and_grpc(quick_run, capsys):
    export = quick_run[1]["export_path"]
    local = predict.main(["--model-dir", export, "A great film.", "An awful film."])
    assert len(local["predictions"]) == 2
    with bare_tf_server(export, "imdb_sentiment") as url:
        remote = predict.main(["--server", url, "A great film.", "An awful film."])
    with grpc_server(export, "imdb_sentiment") as target:
        over_grpc = predict.main(["--server", f"grpc://{target}", "A great film.", "An awful film."])
    assert remote == local == over_grpc
    assert "A great film." in capsys.readouterr().out


def test_missing_and_corrupt_data_give_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(DataNotFoundError, match="--sample"):
        train.main(_argv(tmp_path, "--data-dir", str(tmp_path / "nowhere")))
    corrupt = tmp_path / "imdb"
    corrupt.mkdir()
    (corrupt / "imdb_reviews.jsonl.gz").write_bytes(b"this is not gzip")
    with pytest.raises(DataCorruptError, match="imdb_reviews.jsonl.gz"):
        train.main(_argv(tmp_path, "--data-dir", str(corrupt)))


def test_original_archive_layout_is_read(tmp_path):
    for split in ("train", "test"):
        for folder, text in (("neg", "Awful."), ("pos", "Lovely.")):
            directory = tmp_path / "aclImdb" / split / folder
            directory.mkdir(parents=True)
            (directory / "0_1.txt").write_text(text)
    with pytest.raises(DataCorruptError, match=r"aclImdb holds 2 train reviews \+ 2 test reviews.*24,998 train"):
        data.load_real(str(tmp_path))  # the real dataset's layout, but not its 25k + 25k reviews
    splits = data.load_real(str(tmp_path), partial=True)  # --partial-data: a subset of one's own
    assert splits["train"].texts == ["Awful.", "Lovely."] and list(splits["test"].labels) == [0, 1]


def test_a_valid_file_missing_test_reviews_is_refused_by_name_and_count(tmp_path, monkeypatch):
    """The IMDb file of an interrupted copy: 25,000 train but 5,000 test reviews, each line valid JSON."""
    records = [{"split": split, "label": index % 2, "text": "Fine."}
               for split, count in (("train", 25000), ("test", 5000)) for index in range(count)]
    with gzip.open(tmp_path / "imdb_reviews.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in records)
    with pytest.raises(DataCorruptError, match=r"imdb_reviews.jsonl.gz holds 25,000 train reviews \+ 5,000 test "
                                               r"reviews.*20,000 test reviews missing.*--partial-data"):
        train.main(_argv(tmp_path, "--data-dir", str(tmp_path)))
    assert len(data.load_real(str(tmp_path), partial=True)["test"].texts) == 5000


def test_sample_labels_follow_the_last_clause():
    reviews = data.sample_reviews(200, seed=3)
    assert abs(reviews.labels.mean() - 0.5) < 0.01
    assert data.sample_reviews(200, seed=3).texts == reviews.texts  # deterministic


def test_real_imdb_loads_with_the_documented_counts():
    """Real data (skips without ../shared/data): 25k/25k reviews, balanced labels."""
    splits = data.load_real(str(real_data("imdb/imdb_reviews.jsonl.gz").parent))
    assert len(splits["train"].texts) == 25000 and len(splits["test"].texts) == 25000
    assert splits["train"].labels.mean() == 0.5


@pytest.mark.slow
def test_real_imdb_one_small_epoch(tmp_path):
    """Trains on 2,000 real reviews for one epoch; clearly better than chance on 2,000 test reviews."""
    directory = real_data("imdb/imdb_reviews.jsonl.gz").parent
    metrics = train.main(["--data-dir", str(directory), "--epochs", "2", "--max-examples", "2000",
                          "--output-dir", str(tmp_path / "run"), "--export-dir", str(tmp_path / "export")])
    assert metrics["test_accuracy"] > 0.6


@pytest.mark.parametrize("readout", ["recurrent", "bag"])
def test_one_readout_alone_trains_and_serves(tmp_path, readout):
    """--readout recurrent (the classic many-to-one model) and --readout bag (fastText) each train and export."""
    metrics = train.main(_argv(tmp_path, "--sample", "--readout", readout))
    assert "test_accuracy_recurrent" not in metrics and "test_accuracy_bag" not in metrics
    assert "kept_epochs" not in metrics  # one read-out: the model's best epoch, as before
    report = check_saved_model(metrics["export_path"], [{"instances": ["A moving, beautiful film.", ""]}])
    assert report["results"][0]["status"] == 200


def test_the_bag_needs_its_word_pairs():
    config = parse_config(Config, ["--sample", "--readout", "bag"])
    with pytest.raises(ValueError, match="TokenBigrams"):
        build_model(config, 100)
