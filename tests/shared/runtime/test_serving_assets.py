"""Warm-up records and batching files: written inside the export, readable by TF Serving's own protos, and
answered correctly by the export in a TensorFlow-only process."""

import os

import pytest
import tensorflow as tf

from shared.runtime.config import TrainConfig
from shared.runtime.export import export_saved_model
from shared.runtime.serving import b64, check_saved_model
from shared.runtime.serving_assets import (BATCHING_FILE, MAX_WARMUP_RECORDS, SERVING_BATCHING_PARAMETERS, WARMUP_FILE,
                                   read_warmup_file, rest_request, warmup_logs)

RAW = b"\xff\xd8\x00\x01"  # bytes that are not UTF-8, as a JPEG's are


def _endpoints():
    def serve(text):
        return {"size": tf.strings.length(text), "head_bytes": tf.strings.substr(text, 0, 2)}

    def shift(values, offset):
        return {"shifted": values + tf.cast(offset, tf.float32)}

    return {"serving_default": (serve, [tf.TensorSpec([None], tf.string, name="text")]),
            "shift": (shift, [tf.TensorSpec([None, 2], tf.float32, name="values"),
                              tf.TensorSpec([], tf.int32, name="offset")])}


REQUESTS = [{"instances": ["A moving film.", b64(RAW), ""]},
            {"signature_name": "shift", "inputs": {"values": [[1.5, -2.0]], "offset": 3}}]


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    config = TrainConfig(export_dir=str(tmp_path_factory.mktemp("export")))
    return export_saved_model(config, _endpoints(), track=[], warmup_requests=REQUESTS)


def test_every_record_parses_and_names_the_model_and_signature(export):
    logs = read_warmup_file(export)
    assert len(logs) == 2
    specs = [log.predict_log.request.model_spec for log in logs]
    assert [(spec.name, spec.signature_name) for spec in specs] == [("app", "serving_default"), ("app", "shift")]
    text = tf.make_ndarray(logs[0].predict_log.request.inputs["text"])
    assert text.tolist() == [b"A moving film.", RAW, b""]
    shift = logs[1].predict_log.request.inputs
    assert tf.as_dtype(shift["offset"].dtype) == tf.int32 and tf.make_ndarray(shift["offset"]) == 3
    assert tf.as_dtype(shift["values"].dtype) == tf.float32


def test_records_get_the_same_answers_as_the_requests_in_bare_tensorflow(export):
    replayed = [rest_request(log) for log in read_warmup_file(export)]
    assert replayed[0]["inputs"]["text"][1] == b64(RAW)
    report = check_saved_model(export, REQUESTS + replayed)
    assert [result["status"] for result in report["results"]] == [200] * 4
    original, back = [r["response"] for r in report["results"][:2]], [r["response"] for r in report["results"][2:]]
    # The records use the columnar form; the first request used rows: compare the values.
    assert [row["size"] for row in original[0]["predictions"]] == back[0]["outputs"]["size"] == [14, 4, 0]
    assert back[0]["outputs"]["head_bytes"][1] == b64(RAW[:2])
    assert original[1] == back[1] == {"outputs": [[4.5, 1.0]]}


def test_a_request_that_does_not_fit_its_signature_fails_the_export_and_leaves_nothing(tmp_path):
    config = TrainConfig(export_dir=str(tmp_path))
    for bad, message in (({"inputs": {"wrong": ["a"]}}, "do not match"),
                         ({"signature_name": "nope", "instances": ["a"]}, "signature 'nope'"),
                         ({"signature_name": "shift", "inputs": {"values": [1.0], "offset": 1}}, "shape")):
        with pytest.raises(ValueError, match=message):
            export_saved_model(config, _endpoints(), track=[], warmup_requests=[bad])
    assert os.listdir(tmp_path / "app") == []  # TF Serving never sees a version that fails its warm-up


def test_no_requests_no_warmup_file_and_the_record_limit(tmp_path):
    config = TrainConfig(export_dir=str(tmp_path))
    path = export_saved_model(config, _endpoints(), track=[])
    assert not (path / "assets.extra" / WARMUP_FILE).exists()
    too_many = [{"instances": ["a"]}] * (MAX_WARMUP_RECORDS + 1)
    with pytest.raises(ValueError, match="at most 1000"):
        warmup_logs("app", too_many, {"serving_default": [tf.TensorSpec([None], tf.string, name="text")]})


def test_only_models_tf_serving_can_batch_get_the_batching_file(export, tmp_path):
    # `export` has a scalar input (offset): concatenating requests along dimension 0 is impossible.
    assert not (export / BATCHING_FILE).exists()
    config = TrainConfig(export_dir=str(tmp_path))
    text_only = {"serving_default": _endpoints()["serving_default"]}
    batched = export_saved_model(config, text_only, track=[])
    assert (batched / BATCHING_FILE).read_text() == SERVING_BATCHING_PARAMETERS.read_text()
