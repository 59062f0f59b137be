"""The serving contract: TF Serving REST JSON in, REST JSON out, in a TensorFlow-only process."""

import base64

import pytest
import tensorflow as tf

from shared.runtime.config import TrainConfig
from shared.runtime.export import export_saved_model
from shared.runtime.serving import LocalModel, RestClient, ServingError, b64, bare_tf_server, check_saved_model, latest_version


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    """A string model with two signatures: text -> length (bytes) and upper-cased text."""
    config = TrainConfig(export_dir=str(tmp_path_factory.mktemp("export")))

    def serve(text):
        return {"length": tf.strings.length(text), "upper": tf.strings.upper(text)}

    def count(text):
        return {"words": tf.size(tf.strings.split(text), out_type=tf.int32)}

    return export_saved_model(config, {
        "serving_default": (serve, [tf.TensorSpec([None], tf.string, name="text")]),
        "count": (count, [tf.TensorSpec([], tf.string, name="text")])}, track=[])


def test_row_and_columnar_forms_and_b64(text_model):
    model = LocalModel(text_model)
    rows = model.predict(instances=["abc", b64("héllo".encode("utf-8"))])
    assert rows == {"predictions": [{"length": 3, "upper": "ABC"}, {"length": 6, "upper": "HéLLO"}]}
    columns = model.predict(inputs={"text": ["ab"]})
    assert columns == {"outputs": {"length": [2], "upper": ["AB"]}}
    assert model.predict(inputs="one two three", signature_name="count") == {"outputs": 3}


def test_bad_requests_get_errors_not_crashes(text_model):
    model = LocalModel(text_model)
    with pytest.raises(ServingError, match="no signature"):
        model.predict(instances=["a"], signature_name="nope")
    with pytest.raises(ServingError, match="missing"):
        model.predict(inputs={"wrong_name": ["a"]})
    with pytest.raises(ValueError):
        model.predict()


def test_bare_tf_process_blocks_keras_and_the_project(text_model):
    report = check_saved_model(text_model, [{"instances": ["x"]}, {"inputs": {"text": 5}}])
    assert report["importable_forbidden_modules"] == []
    assert report["forbidden_imports"] == [] and report["non_core_ops"] == []
    assert report["results"][0]["response"] == {"predictions": [{"length": 1, "upper": "X"}]}
    assert report["results"][1]["status"] == 400 and "error" in report["results"][1]["response"]
    assert set(report["signatures"]) == {"serving_default", "count"}


def test_bare_tf_check_takes_requests_larger_than_a_command_line(text_model):
    big = "x" * 300_000  # over Linux's 128 KiB limit for one argument
    report = check_saved_model(text_model, [{"instances": [big]}])
    assert report["results"][0]["response"]["predictions"][0]["length"] == 300_000


def test_rest_client_against_a_loopback_server(text_model):
    with bare_tf_server(text_model, "demo") as url:
        client = RestClient(url, "demo")
        assert client.status()["model_version_status"][0]["state"] == "AVAILABLE"
        assert client.predict(instances=["hi"]) == {"predictions": [{"length": 2, "upper": "HI"}]}
        with pytest.raises(ServingError, match="HTTP 400"):
            client.predict(inputs={"nope": ["a"]})
        with pytest.raises(ServingError, match="HTTP 404"):
            RestClient(url, "other").predict(instances=["a"])


def test_latest_version(tmp_path):
    with pytest.raises(FileNotFoundError, match="train and export first"):
        latest_version(tmp_path)
    for version in ("1", "10", "9"):
        (tmp_path / version).mkdir()
    assert latest_version(tmp_path).name == "10"


def test_b64_helper():
    assert base64.b64decode(b64(b"\xff\x00")["b64"]) == b"\xff\x00"
