"""Regression tests for shared/bare_tf.py's REST server, found by the property tests in tests/serving/."""

import pytest
import tensorflow as tf

from shared.config import TrainConfig
from shared.export import export_saved_model
from shared.serving import bare_tf_server
from tests.serving.rest import Served


@pytest.fixture(scope="module")
def integer_model(tmp_path_factory):
    """pixels (uint8 [batch]) and count (int32 scalar) -> their sum as int32 [batch]."""
    config = TrainConfig(export_dir=str(tmp_path_factory.mktemp("export")))

    def serve(pixels, count):
        return {"total": tf.cast(pixels, tf.int32) + count}

    return export_saved_model(config, {"serving_default": (serve, [
        tf.TensorSpec([None], tf.uint8, name="pixels"), tf.TensorSpec([], tf.int32, name="count")])}, track=[])


@pytest.fixture(scope="module")
def served(integer_model):
    with bare_tf_server(integer_model, "sums") as url:
        yield Served(url, "sums")


@pytest.mark.parametrize("request_body", [None, [], 5, "text", [{"instances": ["a"]}]])
def test_a_request_that_is_not_a_json_object_gets_http_400(served, request_body):
    """Found by hypothesis: the JSON `null` as a request closed the connection without an answer."""
    assert "must be a JSON object" in served.error(request_body)


def test_json_nested_too_deep_gets_http_400(served):
    assert "JSON Parse error" in served.error(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize(("pixels", "count", "bad"), [([-1, 3], 0, "-1"), ([256], 0, "256"),
                                                      ([1], 2**32 + 5, "4294967301"), ([1], True, "True")])
def test_integers_outside_the_dtype_are_refused_not_wrapped(served, pixels, count, bad):
    """tf.constant wraps them silently (-1 -> 255 as uint8, 2**32 + 5 -> 5 as int32): refuse instead."""
    message = served.error({"inputs": {"pixels": pixels, "count": count}})
    assert bad in message and "values" in message


def test_integers_in_range_are_answered(served):
    assert served.answer({"inputs": {"pixels": [0, 255], "count": -3}}) == [-3, 252]
