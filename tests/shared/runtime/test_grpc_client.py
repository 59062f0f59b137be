"""The gRPC client on the wire: a real grpcio PredictionService server on 127.0.0.1, answering from a SavedModel."""

import argparse
import socket

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2

from shared.runtime.config import TrainConfig
from shared.runtime.export import export_saved_model
from shared.runtime.grpc_client import GrpcClient, _tensor_proto
from shared.runtime.grpc_server import grpc_server
from shared.runtime.clients import client_from_arguments
from shared.runtime.serving import LocalModel, RestClient, ServingError, b64


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Text, bytes and a typed scalar: the three kinds of input the apps' signatures take."""
    config = TrainConfig(export_dir=str(tmp_path_factory.mktemp("export")))

    def serve(text):
        return {"length": tf.strings.length(text, unit="UTF8_CHAR"), "upper": tf.strings.upper(text)}

    def head(data):
        return {"head_bytes": tf.strings.substr(data, 0, 2), "size": tf.strings.length(data)}

    def repeat(text, times):
        with tf.control_dependencies([tf.debugging.assert_positive(times, message="times must be positive")]):
            return {"total": tf.strings.length(text) * times}

    return export_saved_model(config, {
        "serving_default": (serve, [tf.TensorSpec([None], tf.string, name="text")]),
        "head": (head, [tf.TensorSpec([None], tf.string, name="data")]),
        "repeat": (repeat, [tf.TensorSpec([None], tf.string, name="text"),
                            tf.TensorSpec([], tf.int32, name="times")])}, track=[])


@pytest.fixture(scope="module")
def client(model):
    with grpc_server(model, "demo") as target:
        client = GrpcClient(target, "demo", timeout=30)
        yield client
        client.close()


def test_text_over_grpc_equals_the_local_model(model, client):
    request = {"instances": ["abc", b64("héllo".encode("utf-8"))]}
    answer = client.predict(**request)
    assert answer == {"predictions": [{"length": 3, "upper": "ABC"}, {"length": 5, "upper": "HéLLO"}]}
    assert answer == LocalModel(model).predict(**request)
    assert client.predict(inputs={"text": ["ab"]}) == {"outputs": {"length": [2], "upper": ["AB"]}}


def test_bytes_round_trip_unchanged(client):
    raw = b"\xff\x00\xd8\x10"  # not UTF-8: only b64 (REST) or a raw TensorProto (gRPC) carries it
    arrays = client.predict_arrays({"data": [raw, b"z"]}, signature_name="head")
    assert arrays["head_bytes"].tolist() == [b"\xff\x00", b"z"]
    np.testing.assert_array_equal(arrays["size"], [4, 1])
    assert arrays["size"].dtype == np.int32
    answer = client.predict(inputs={"data": [b64(raw)]}, signature_name="head")
    assert answer == {"outputs": {"head_bytes": [b64(b"\xff\x00")], "size": [4]}}


def test_scalars_are_typed_by_the_servers_signature(client):
    # A Python int would travel as int64; the signature takes int32, which the metadata tells the client.
    assert client.signatures()["repeat"] == {"text": tf.string, "times": tf.int32}
    assert client.predict(inputs={"text": ["ab", "c"], "times": 3}, signature_name="repeat") == {"outputs": [6, 3]}


def test_bad_requests_raise_serving_error_with_the_grpc_status(model, client):
    with pytest.raises(ServingError, match=r"gRPC INVALID_ARGUMENT: inputs must be exactly \['text'\]"):
        client.predict_arrays({"wrong": ["a"]})
    with pytest.raises(ServingError, match="INVALID_ARGUMENT: .*times must be positive"):
        client.predict(inputs={"text": ["a"], "times": -1}, signature_name="repeat")
    with pytest.raises(ServingError, match="INVALID_ARGUMENT: Serving signature name: \"nope\" not found"):
        client.predict(instances=["a"], signature_name="nope")
    # The server checks types too (TF Serving converts nothing): a raw request with a float for an int32.
    raw = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name="demo", signature_name="repeat"))
    raw.inputs["text"].CopyFrom(tf.make_tensor_proto([b"a"]))
    raw.inputs["times"].CopyFrom(tf.make_tensor_proto(2.5, dtype=tf.float32))
    with pytest.raises(grpc.RpcError) as refused:
        client.stub.Predict(raw, timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expects input 'times' to be int32 but float32 is provided" in refused.value.details()
    with pytest.raises(ServingError, match="NOT_FOUND: Servable not found"):
        GrpcClient(client.target, "other", timeout=30).predict(instances=["a"])
    # The client refuses to change a value to fit the signature, rather than send something else.
    for bad in ("three", 2.5, 2**40):
        with pytest.raises(ValueError, match="input 'times' cannot be sent as int32"):
            client.predict(inputs={"text": ["a"], "times": bad}, signature_name="repeat")
    with pytest.raises(ValueError, match="exactly one of"):
        client.predict()
    # The server is still answering after all of that.
    assert client.predict(instances=["ok"])["predictions"][0]["upper"] == "OK"


def test_no_server_is_a_clear_error():
    with socket.socket() as probe:  # a port that was free a moment ago, and nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ServingError, match="UNAVAILABLE.*is TF Serving running"):
        GrpcClient(f"127.0.0.1:{port}", "demo", timeout=10).predict(instances=["a"])


def test_server_flag_picks_the_client_by_scheme(model):
    def client_for(server):
        return client_from_arguments(argparse.Namespace(server=server, model_name="demo", model_dir=str(model)))

    assert isinstance(client_for("http://localhost:8501"), RestClient)
    grpc_client = client_for("grpc://localhost:8500")
    assert isinstance(grpc_client, GrpcClient) and grpc_client.target == "localhost:8500"
    assert isinstance(client_for(None), LocalModel)
    for bad in ("localhost:8501", "ftp://host", "grpc://"):
        with pytest.raises(ValueError, match="grpc://host:8500"):
            client_for(bad)


def test_json_values_become_the_signatures_dtype_only_when_nothing_changes():
    # JSON integers (int64 in numpy) fill uint8 pixels when they fit; 300 does not fit, 2.0 is not an integer.
    pixels = tf.make_ndarray(_tensor_proto([[0, 255]], tf.uint8))
    assert pixels.dtype == np.uint8 and pixels.tolist() == [[0, 255]]
    for bad in ([[0, 300]], [[-1, 0]], [[2.0, 0]]):
        with pytest.raises(ValueError):
            _tensor_proto(bad, tf.uint8)
    assert tf.make_ndarray(_tensor_proto(3, tf.float32)).dtype == np.float32  # an int is a fine float
    assert tf.make_ndarray(_tensor_proto(["é", b"\xff"], tf.string)).tolist() == ["é".encode(), b"\xff"]
