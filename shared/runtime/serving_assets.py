"""The TF Serving files inside an export: warm-up requests and per-model batching parameters.

Home of: the TF Serving warm-up file and batching parameters inside an export.

`shared/runtime/export.py` calls `write_serving_assets` on the hidden staging folder, before the atomic rename, so a
version never appears without them:

    <version>/assets.extra/tf_serving_warmup_requests   TFRecord of PredictionLog: TF Serving replays these
                                                        when it loads the version, so the first user request
                                                        does not pay for graph tracing and kernel set-up
    <version>/batching_params.pbtxt                     only for models TF Serving can batch (see below)

The warm-up requests are the app's own check requests (TF Serving REST JSON), converted to gRPC
PredictRequests typed by the export's input signatures. Reading them back (tests, debugging):

    logs = read_warmup_file("saved_models/imdb_sentiment/1")
    rest_request(logs[0])   # {"signature_name": "serving_default", "inputs": {"text": [...]}}

A warm-up request that fails makes TF Serving refuse to load the version, so a request that does not match
the signature is a ValueError here, at export time, not a surprise at deployment.
"""

from __future__ import annotations

import base64
import os
import pathlib
import shutil
import typing

import numpy as np
import tensorflow as tf
try:
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
except ImportError as error:
    raise ImportError("tensorflow-serving-api is missing: pip install -r requirements.txt "
                      "(it pins tensorflow-serving-api==2.21.0)") from error

from shared.runtime import bare_tf

WARMUP_FILE = "tf_serving_warmup_requests"
# TF Serving replays at most this many records (saved_model_warmup_util.cc); more would be dead weight.
MAX_WARMUP_RECORDS = 1000
BATCHING_FILE = "batching_params.pbtxt"
# One source of truth for batching: the file users pass to --batching_parameters_file.
SERVING_BATCHING_PARAMETERS = pathlib.Path(__file__).resolve().parents[2] / "serving" / "batching_parameters.txt"


def _as_array(value, spec: tf.TensorSpec) -> np.ndarray:
    if spec.dtype == tf.string:
        return bare_tf.string_array(value)
    return np.array(value, dtype=spec.dtype.as_numpy_dtype)


def predict_request(model_name: str, request: dict, input_signature: typing.Sequence[tf.TensorSpec],
                    signature_name: str = "serving_default") -> predict_pb2.PredictRequest:
    """One REST request (row or columnar form) -> a gRPC PredictRequest typed by `input_signature`."""
    names = [spec.name for spec in input_signature]
    if None in names:
        raise ValueError(f"signature {signature_name!r} has an unnamed TensorSpec; give every spec a name= "
                         "(it is the request's input key).")
    columns = bare_tf.request_columns(request, sorted(names))
    if set(columns) != set(names):
        raise ValueError(f"request inputs {sorted(columns)} do not match signature {signature_name!r}, "
                         f"which takes {sorted(names)}")
    proto = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name=model_name,
                                                                       signature_name=signature_name))
    for spec in input_signature:
        array = _as_array(columns[spec.name], spec)
        if not spec.shape.is_compatible_with(array.shape):
            raise ValueError(f"input {spec.name!r} has shape {list(array.shape)}; signature {signature_name!r} "
                             f"takes {spec.shape}")
        proto.inputs[spec.name].CopyFrom(tf.make_tensor_proto(array, dtype=spec.dtype))
    return proto


def warmup_logs(model_name: str, requests: typing.Sequence[dict],
                input_signatures: dict[str, typing.Sequence[tf.TensorSpec]]) -> list:
    """PredictionLogs for `requests`, each sent to its own `signature_name` (default serving_default)."""
    if len(requests) > MAX_WARMUP_RECORDS:
        raise ValueError(f"{len(requests)} warm-up requests; TF Serving reads at most {MAX_WARMUP_RECORDS}.")
    logs = []
    for request in requests:
        signature_name = request.get("signature_name", "serving_default")
        if signature_name not in input_signatures:
            raise ValueError(f"warm-up request for signature {signature_name!r}; the export has "
                             f"{sorted(input_signatures)}")
        proto = predict_request(model_name, request, input_signatures[signature_name], signature_name)
        logs.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=proto)))
    return logs


def batchable(input_signatures: dict[str, typing.Sequence[tf.TensorSpec]]) -> bool:
    """Whether TF Serving's batching can serve every signature.

    TF Serving batches by concatenating requests along dimension 0 and splitting the outputs back, so every
    input must have a variable leading (example) dimension: a scalar (char_lm's num_chars) is refused, and a
    tensor of unknown rank (video_tagger's one video per request, whose dimension 0 is time) would be
    concatenated with other users' videos.
    """
    return all(spec.shape.rank is not None and spec.shape.rank >= 1 and spec.shape[0] is None
               for specs in input_signatures.values() for spec in specs)


def write_serving_assets(export_dir: str | os.PathLike, model_name: str,
                         input_signatures: dict[str, typing.Sequence[tf.TensorSpec]],
                         requests: typing.Sequence[dict] = ()) -> None:
    """Write the warm-up file (when there are requests) and, for batchable models, the batching file."""
    export_dir = pathlib.Path(export_dir)
    if requests:
        extra = export_dir / "assets.extra"
        extra.mkdir(exist_ok=True)
        logs = warmup_logs(model_name, requests, input_signatures)  # all converted before a byte is written
        with tf.io.TFRecordWriter(str(extra / WARMUP_FILE)) as writer:
            for log in logs:
                writer.write(log.SerializeToString())
    if batchable(input_signatures):
        # Read by TF Serving run with --enable_per_model_batching_parameters (serving/docker-compose.yml);
        # models without the file are served unbatched.
        shutil.copyfile(SERVING_BATCHING_PARAMETERS, export_dir / BATCHING_FILE)


def read_warmup_file(model_dir: str | os.PathLike) -> list:
    """The PredictionLogs in a version folder's warm-up file (what TF Serving will replay)."""
    path = pathlib.Path(model_dir) / "assets.extra" / WARMUP_FILE
    if not path.exists():
        raise FileNotFoundError(f"no warm-up file at {path}")
    logs = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(record.numpy())
        logs.append(log)
    return logs


def _b64_everywhere(value):
    if isinstance(value, list):
        return [_b64_everywhere(item) for item in value]
    return {"b64": base64.b64encode(value).decode("ascii")}


def _json_value(array: np.ndarray):
    # DT_STRING arrives as bytes objects: they travel as b64, which works for text and binary alike.
    return _b64_everywhere(array.tolist()) if array.dtype == object else array.tolist()


def rest_request(log) -> dict:
    """A warm-up PredictionLog as the equivalent REST request (columnar form, b64 for bytes)."""
    request = log.predict_log.request
    return {"signature_name": request.model_spec.signature_name or "serving_default",
            "inputs": {name: _json_value(tf.make_ndarray(tensor)) for name, tensor in request.inputs.items()}}
