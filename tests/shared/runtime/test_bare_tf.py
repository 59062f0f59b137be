"""Regression tests for shared/runtime/bare_tf.py's REST server, found by the property tests in tests/serving/."""

import json
import pathlib
import socket

import pytest
import tensorflow as tf

from shared.runtime import bare_tf
from shared.runtime.config import TrainConfig
from shared.runtime.export import export_saved_model
from shared.runtime.serving import bare_tf_server
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


# ------------------------------------------------------------------------------- HTTP limits and routing
def _raw(served, head: bytes, body: bytes = b"") -> tuple[int, dict]:
    """Send raw request bytes (any headers, true or not) and read the reply: (status, JSON body)."""
    with socket.create_connection((served.host, served.port), timeout=30) as connection:
        connection.sendall(head + b"\r\n\r\n" + body)
        reply = connection.makefile("rb")
        status = int(reply.readline().split()[1])
        headers = {}
        while (line := reply.readline().strip()):
            name, value = line.decode().split(":", 1)
            headers[name.lower()] = value.strip()
        return status, json.loads(reply.read(int(headers["content-length"])))


def _post_head(model="sums", length=None):
    head = f"POST /v1/models/{model}:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
    return (head + (f"\r\nContent-Length: {length}" if length is not None else "")).encode()


@pytest.mark.parametrize(("length", "status", "words"), [
    (None, 411, "Content-Length"), ("-5", 400, "non-negative integer"), ("12abc", 400, "non-negative integer"),
    (str(10**30), 413, "at most"), (str(bare_tf.MAX_BODY_BYTES + 1), 413, "at most")])
def test_bad_content_length_gets_a_json_refusal(served, length, status, words):
    answer = _raw(served, _post_head(length=length), b'{"inputs": {"pixels": [1], "count": 1}}')
    assert answer[0] == status and words in answer[1]["error"]
    served.assert_alive()


def test_a_body_at_the_cap_is_read_and_one_byte_over_is_refused(served):
    request = b'{"inputs": {"pixels": [1], "count": 2}}'
    at_cap = request + b" " * (bare_tf.MAX_BODY_BYTES - len(request))  # JSON allows trailing spaces
    assert _raw(served, _post_head(length=len(at_cap)), at_cap) == (200, {"outputs": [3]})
    status, body = _raw(served, _post_head(length=len(at_cap) + 1), at_cap + b" ")
    assert status == 413 and f"at most {bare_tf.MAX_BODY_BYTES:,}" in body["error"]


@pytest.mark.parametrize("path", ["/v1/models/sumsEVIL:predict", "/v1/models/sum:predict",
                                  "/v1/models/sums/versions/-1:predict", "/v1/models/sums/versions/2:predict",
                                  "/v1/models/sums/versions/1x:predict", "/v1/models/sums:predictX",
                                  "/v1/models/sums/labels/stable:predict", "/v2/models/sums:predict"])
def test_only_the_exact_model_name_and_loaded_version_are_served(served, path):
    status, body = served._request("POST", path, b'{"inputs": {"pixels": [1], "count": 1}}')
    assert status == 404 and "Servable not found" in json.loads(body)["error"]


def test_the_loaded_version_is_served_by_number(served, integer_model):
    version = int(pathlib.Path(integer_model).name)
    status, body = served._request("POST", f"/v1/models/sums/versions/{version}:predict",
                                   b'{"inputs": {"pixels": [4], "count": 1}}')
    assert (status, json.loads(body)) == (200, {"outputs": [5]})
    for path in ("/v1/models/sums", f"/v1/models/sums/versions/{version}"):
        status, body = served._request("GET", path)
        assert status == 200 and json.loads(body)["model_version_status"][0]["version"] == str(version)
    assert served._request("GET", "/v1/models/sumsEVIL")[0] == 404


@pytest.mark.parametrize("text", ["@@@@", "YWJj$", "YWJjZA", "YW Jj"])
def test_invalid_base64_is_refused_not_decoded_as_empty_bytes(text):
    with pytest.raises(ValueError, match="invalid base64"):
        bare_tf.request_columns({"instances": [{"b64": text}]}, ["text"])
    assert bare_tf.request_columns({"instances": [{"b64": "YWJj"}]}, ["text"]) == {"text": [b"abc"]}


def test_the_listen_backlog_is_not_the_socketserver_default():
    assert bare_tf.LISTEN_BACKLOG >= 128
