"""TF Serving's gRPC API (PredictionService), with the same `predict` as the REST client.

Home of: the gRPC client (`GrpcClient`).

    client = GrpcClient("localhost:8500", "imdb_sentiment")
    client.predict(instances=["A fine film."])        # {"predictions": [{"label": "positive", ...}]}
    client.predict_arrays({"text": ["A fine film."]})  # {"label": array([b'positive']), "probability": ...}

`predict` takes and returns TF Serving's REST JSON (row or columnar form, {"b64": ...} for bytes), so every
app's predict.py works unchanged over REST, gRPC or a local folder. `predict_arrays` is the plain gRPC
call: named arrays in, named numpy arrays out. gRPC needs each input's exact dtype (an int64 sent to an
int32 input is refused), so the client asks the server for the signature once (GetModelMetadata) and types
the tensors by it. A refusal by the server (a gRPC status other than OK) raises `ServingError` with the
status code and the server's message, as the REST client does with the HTTP status.
"""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2, model_pb2, predict_pb2, prediction_service_pb2_grpc

from shared.runtime import bare_tf
from shared.runtime.serving import ServingError

# TF Serving accepts messages up to 2 GiB; gRPC's default limit (4 MiB) would refuse a short video.
UNLIMITED_MESSAGES = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def _tensor_proto(value, dtype: tf.DType | None):
    """A JSON-decoded value (bytes, str, numbers, nested lists) or array -> TensorProto of `dtype`."""
    if dtype == tf.string or (dtype is None and _holds_text(value)):
        return tf.make_tensor_proto(bare_tf.string_array(value), dtype=tf.string)
    array = np.asarray(value)
    if dtype is None:  # the server did not describe this input: let numpy pick, and the server judge
        return tf.make_tensor_proto(array)
    # Never change a value silently: 2.5 is not an int32, and 2**40 does not fit in one. JSON integers
    # arrive as int64, so integer inputs (uint8 pixels, int32 counts) take them when every value fits.
    target = np.dtype(dtype.as_numpy_dtype)
    integers = array.dtype.kind in "biu" and target.kind in "iu"
    if array.size and not integers and not np.can_cast(array.dtype, target, casting="same_kind"):
        raise ValueError(f"{array.dtype} values would lose information as {dtype.name}")
    cast = array.astype(target)
    if integers and not np.array_equal(cast, array):
        raise ValueError(f"values out of the range of {dtype.name}")
    return tf.make_tensor_proto(cast, dtype=dtype)


def _holds_text(value) -> bool:
    while isinstance(value, (list, tuple)) and value:
        value = value[0]
    return isinstance(value, (str, bytes))


class GrpcClient:
    """PredictionService.Predict on `target` ("host:port"), for one model (and optionally one version)."""

    def __init__(self, target: str, model: str, version: int | None = None, timeout: float = 60.0):
        self.target, self.model, self.version, self.timeout = target, model, version, timeout
        self.channel = grpc.insecure_channel(target, options=UNLIMITED_MESSAGES)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self._signatures = None

    def _model_spec(self, signature_name: str = "") -> model_pb2.ModelSpec:
        spec = model_pb2.ModelSpec(name=self.model, signature_name=signature_name)
        if self.version:
            spec.version.value = self.version
        return spec

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            hint = " (is TF Serving running, with gRPC on this port?)" if \
                error.code() == grpc.StatusCode.UNAVAILABLE else ""
            raise ServingError(f"gRPC {error.code().name}: {error.details()}{hint}") from None

    def signatures(self) -> dict[str, dict[str, tf.DType]]:
        """Each signature's input names and dtypes, from the server's GetModelMetadata (asked once)."""
        if self._signatures is None:
            request = get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec=self._model_spec(), metadata_field=["signature_def"])
            response = self._call(self.stub.GetModelMetadata, request)
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            response.metadata["signature_def"].Unpack(signature_map)
            self._signatures = {name: {key: tf.as_dtype(info.dtype) for key, info in definition.inputs.items()}
                                for name, definition in signature_map.signature_def.items()}
        return self._signatures

    def predict_arrays(self, inputs: dict, signature_name: str | None = None) -> dict[str, np.ndarray]:
        """Named inputs (arrays, lists, scalars; str or bytes for strings) -> named numpy outputs."""
        signature_name = signature_name or "serving_default"
        dtypes = self.signatures().get(signature_name, {})
        request = predict_pb2.PredictRequest(model_spec=self._model_spec(signature_name))
        for name, value in inputs.items():
            try:
                request.inputs[name].CopyFrom(_tensor_proto(value, dtypes.get(name)))
            except (TypeError, ValueError) as error:  # ragged lists, text for a number, ...
                dtype = dtypes[name].name if name in dtypes else "a tensor"
                raise ValueError(f"input {name!r} cannot be sent as {dtype}: {error}") from None
        response = self._call(self.stub.Predict, request)
        return {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}

    def predict(self, instances=None, inputs=None, signature_name: str | None = None) -> dict:
        """RestClient.predict over gRPC: REST JSON request in, REST JSON response out."""
        if (instances is None) == (inputs is None):
            raise ValueError("give exactly one of instances= (row form) or inputs= (columnar form).")
        request = {"instances": instances} if instances is not None else {"inputs": inputs}
        input_names = sorted(self.signatures().get(signature_name or "serving_default", {}))
        if not input_names:  # an unknown signature: send it anyway, so that the server's refusal is shown
            input_names = ["inputs"]
        try:
            columns = bare_tf.request_columns(request, input_names)
        except KeyError as error:
            raise ValueError(f"every instance needs the inputs {input_names}; one lacks {error}") from None
        outputs = self.predict_arrays(columns, signature_name)
        return bare_tf.response_body(outputs, columnar=inputs is not None)

    def close(self) -> None:
        self.channel.close()
