"""A loopback stand-in for TF Serving's gRPC PredictionService, answering from one SavedModel.

Home of: the loopback gRPC server (`start_server`, `grpc_server`).

TF Serving is a C++ server this repository cannot run in CI; this serves the same two RPCs a client uses
(Predict, GetModelMetadata) with the same messages, over real gRPC, so `GrpcClient` and the apps'
`predict.py --server grpc://...` are tested on the wire. Refusals use TF Serving's status codes: NOT_FOUND
for an unknown model, INVALID_ARGUMENT for a bad request or an input the graph rejects.

    python -m shared.runtime.grpc_server saved_models/imdb_sentiment --model-name imdb_sentiment --port 8500
    python apps/imdb_sentiment/predict.py --server grpc://localhost:8500 "Great film!"

In Python:

    with grpc_server("saved_models/imdb_sentiment", "imdb_sentiment") as target:   # "127.0.0.1:<port>"
        GrpcClient(target, "imdb_sentiment").predict(instances=["Great film!"])
"""

from __future__ import annotations

import argparse
import contextlib
import os
from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

from shared.runtime import bare_tf
from shared.runtime.grpc_client import UNLIMITED_MESSAGES
from shared.runtime.serving import latest_version


def _tensor_info(name: str, spec) -> meta_graph_pb2.TensorInfo:
    info = meta_graph_pb2.TensorInfo(name=name, dtype=spec.dtype.as_datatype_enum)
    info.tensor_shape.CopyFrom(spec.shape.as_proto())
    return info


class SavedModelPredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata for the SavedModel `loaded`, served as `model_name`."""

    def __init__(self, loaded, model_name: str):
        self.loaded, self.model_name = loaded, model_name

    def _check_model(self, model_spec, context) -> None:
        if model_spec.name != self.model_name:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"Servable not found for request: Latest({model_spec.name})")

    def GetModelMetadata(self, request, context):
        self._check_model(request.model_spec, context)
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Metadata field(s) not supported: only signature_def")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, function in self.loaded.signatures.items():
            definition = signature_map.signature_def[name]
            for key, spec in function.structured_input_signature[1].items():
                definition.inputs[key].CopyFrom(_tensor_info(f"{name}_{key}:0", spec))
            for key, spec in function.structured_outputs.items():
                definition.outputs[key].CopyFrom(_tensor_info(f"{name}/{key}:0", spec))
            definition.method_name = "tensorflow/serving/predict"
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.model_name
        response.metadata["signature_def"].Pack(signature_map)
        return response

    def Predict(self, request, context):
        self._check_model(request.model_spec, context)
        name = request.model_spec.signature_name or "serving_default"
        if name not in self.loaded.signatures:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"Serving signature name: \"{name}\" not found in signature def; the model has "
                          f"{sorted(self.loaded.signatures)}")
        signature = self.loaded.signatures[name]
        specs = signature.structured_input_signature[1]
        if set(request.inputs) != set(specs):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"inputs must be exactly {sorted(specs)}; got {sorted(request.inputs)}")
        for key, proto in request.inputs.items():
            if proto.dtype != specs[key].dtype.as_datatype_enum:  # TF Serving does not convert types
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"Expects input {key!r} to be {specs[key].dtype.name} but "
                              f"{tf.as_dtype(proto.dtype).name} is provided")
        try:
            outputs = signature(**{key: tf.constant(tf.make_ndarray(proto)) for key, proto in request.inputs.items()})
        except (ValueError, TypeError) as error:  # a shape the signature does not accept
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error)[:2000])
        except tf.errors.OpError as error:  # the graph refused the input (an assertion, a bad JPEG, ...)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, bare_tf.op_message(error.message)[:2000])
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        response.model_spec.signature_name = name
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response


def start_server(model_dir: str | os.PathLike, model_name: str, port: int = 0,
                 host: str = "127.0.0.1") -> tuple[grpc.Server, int]:
    """Load the newest version under `model_dir` and serve it; returns the started server and its port."""
    loaded = tf.saved_model.load(str(latest_version(model_dir)))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=UNLIMITED_MESSAGES)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        SavedModelPredictionService(loaded, model_name), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port} (in use?)")
    server.start()
    return server, bound


@contextlib.contextmanager
def grpc_server(model_dir: str | os.PathLike, model_name: str):
    """A loopback gRPC server for the duration of a `with` block; yields its target, "127.0.0.1:<port>"."""
    server, port = start_server(model_dir, model_name)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", help="a SavedModel version folder, or the model folder (newest version)")
    parser.add_argument("--model-name", required=True, help="the name clients ask for, e.g. imdb_sentiment")
    parser.add_argument("--port", type=int, default=8500, help="TF Serving's gRPC port is 8500")
    args = parser.parse_args(argv)
    server, port = start_server(args.model_dir, args.model_name, args.port)
    print(f"serving {args.model_name} over gRPC on 127.0.0.1:{port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
