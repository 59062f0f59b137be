"""Load a SavedModel with nothing but TensorFlow and answer TF Serving REST requests.

Home of: the TensorFlow-only check of an export and the stand-in TF Serving REST server.

This file is a standalone script: it imports only the Python standard library and `tensorflow`. Before
TensorFlow loads, it makes the project, Keras, keras_hub/keras_nlp and tensorflow_text *unimportable*, and
it lists every op in the graph that core TensorFlow does not register. That is the point: it proves an
export carries everything TF Serving needs (core ops only, vocabularies inside) before anyone deploys it. It speaks TF
Serving's REST JSON: requests in row ("instances") or columnar ("inputs") form, {"b64": ...} for bytes,
and answers {"predictions": ...} or {"outputs": ...}, or {"error": ...} for a bad request.

It hides any GPU before TensorFlow starts, as a CPU TF Serving host has none, and exits 1, naming them, if
the graph holds an op that such a host cannot run: not registered by core TensorFlow, without a CPU kernel
(`CudnnRNNV3`, what Keras traces beside a GPU) or XLA-only (`Xla*`). With no request it only checks:

    python -I shared/runtime/bare_tf.py saved_models/imdb_sentiment/1     # exit 0: servable on CPU; 1: it names the ops

    python -I shared/runtime/bare_tf.py saved_models/imdb_sentiment/1 --request '{"instances": ["Great film!"]}'
    python -I shared/runtime/bare_tf.py saved_models/imdb_sentiment/1 --serve 8501 --model-name imdb_sentiment
    python -I shared/runtime/bare_tf.py MODEL --request-file req.json --repeat 50   # latency in milliseconds

Public surface (what the project imports; every other name is this script's own): `request_columns` and
`response_body` (REST JSON <-> named values), `string_array` and `op_message` (a string input's bytes; a graph
error's own words), `predict`, `answer`, `serve`, the graph checks `non_core_ops` and `cpu_unservable_ops`,
and the server limits MAX_BODY_BYTES and LISTEN_BACKLOG. The gRPC client and server and the warm-up writer go
through these, so every path reads requests alike. It is one file of more than 300 lines because it must
run as `python -I`, importing nothing of the project: it cannot lean on other modules of the package.
"""

import argparse
import base64
import binascii
import http.server
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import re
import sys
import time

# Modules a served model must not need. TensorFlow itself imports Keras when it is installed, but
# treats it as optional: with these blocked it still loads, and so must every export.
FORBIDDEN_MODULES = ("shared", "apps", "keras", "tf_keras", "keras_hub", "keras_nlp", "tensorflow_text")


class _Refuse(importlib.abc.Loader):
    def create_module(self, spec):
        raise ImportError(f"{spec.name} is blocked: a served model may use only core TensorFlow")

    def exec_module(self, module):
        pass


class _BlockForbidden(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN_MODULES:
            return importlib.machinery.ModuleSpec(name, _Refuse())
        return None


if __name__ == "__main__":  # only as the checker's own process: never block imports in a caller's process
    sys.meta_path.insert(0, _BlockForbidden())
    # A CPU TF Serving host has no GPU: hide this machine's, so an export that only runs on one fails here.
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402  (the blocker and the log level come first)
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402
from tensorflow.python.framework import kernels, op_def_registry  # noqa: E402
import numpy as np  # noqa: E402  (what TensorFlow itself installs)

# Kernel device types that run on a CPU-only host ("DEFAULT" kernels run anywhere: NoOp, control flow).
CPU_DEVICE_TYPES = ("CPU", "DEFAULT")


def _decode(value):
    """JSON value -> Python value; {"b64": "..."} objects become bytes, as in TF Serving (strict base64)."""
    if isinstance(value, dict) and set(value) == {"b64"}:
        if not isinstance(value["b64"], str):
            raise ValueError(f'a {{"b64": ...}} value must be a string, got {type(value["b64"]).__name__}')
        try:  # strict: without validate, characters outside the alphabet are dropped (b"" for garbage)
            return base64.b64decode(value["b64"], validate=True)
        except binascii.Error as error:
            raise ValueError(f'invalid base64 in a {{"b64": ...}} value: {error}') from None
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, dict):  # the columnar form: {"inputs": {"name": value, ...}}
        return {key: _decode(item) for key, item in value.items()}
    return value


def as_bytes(value):
    """Text and b64 items may mix in one string input (TF Serving accepts that): all become bytes."""
    if isinstance(value, list):
        return [as_bytes(item) for item in value]
    return value.encode("utf-8") if isinstance(value, str) else value


def string_array(value):
    """A string input's value (text, bytes, nested lists of them) -> a numpy object array of bytes."""
    return np.array(as_bytes(value), dtype=object)


def _encode(array, output_name):
    """numpy value -> JSON value; bytes as UTF-8 text, or b64 when the name ends in _bytes (TF Serving)."""
    if hasattr(array, "tolist"):
        array = array.tolist()
    if isinstance(array, list):
        return [_encode(item, output_name) for item in array]
    if isinstance(array, bytes):
        if output_name.endswith("_bytes"):
            return {"b64": base64.b64encode(array).decode("ascii")}
        return array.decode("utf-8", errors="replace")
    return array


def _check_integers(value, name, dtype):
    """Refuse what tf.constant would silently wrap: -1 as a uint8 is 255, 2**32 + 5 as an int32 is 5."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, bool) or (isinstance(item, int) and not dtype.min <= item <= dtype.max):
            raise ValueError(f"input {name!r} takes {dtype.name} values ({dtype.min} to {dtype.max}); "
                             f"got {item!r}")


def _integers(value, name, dtype):
    """An integer input, range-checked. A rectangular all-integer value (video frames: ~10^5 numbers) is
    checked and converted by numpy at once; anything else (bools, floats, ragged or huge numbers) takes the
    item-by-item path, so its error is the same either way."""
    try:
        array = np.asarray(value)
    except (ValueError, OverflowError):  # ragged lists, numbers beyond int64
        array = None
    if array is not None and array.dtype.kind in "iu":
        if array.size and (array.min() < dtype.min or array.max() > dtype.max):
            bad = array.min() if array.min() < dtype.min else array.max()
            raise ValueError(f"input {name!r} takes {dtype.name} values ({dtype.min} to {dtype.max}); "
                             f"got {int(bad)!r}")
        return array.astype(dtype.as_numpy_dtype)
    _check_integers(value, name, dtype)
    return value


def _to_tensors(columns, signature):
    specs = signature.structured_input_signature[1]
    unknown = set(columns) - set(specs)
    missing = set(specs) - set(columns)
    if unknown or missing:
        raise ValueError(f"inputs must be exactly {sorted(specs)}; unknown {sorted(unknown)}, "
                         f"missing {sorted(missing)}")
    tensors = {}
    for name, spec in specs.items():
        value = columns[name]
        if spec.dtype == tf.string:
            value = as_bytes(value)
        elif spec.dtype.is_integer:
            value = _integers(value, name, spec.dtype)
        tensors[name] = tf.constant(value, dtype=spec.dtype)
    return tensors


def request_columns(request, input_names):
    """A REST request's inputs as {input name: decoded Python value}, from either the row or columnar form.

    Shared with the gRPC client and the warm-up writer, so that every path reads requests the same way.
    """
    if ("instances" in request) == ("inputs" in request):
        raise ValueError("a request needs exactly one of 'instances' (row form) or 'inputs' (columnar)")
    if "instances" in request:
        rows = _decode(request["instances"])
        if not isinstance(rows, list):
            raise ValueError("'instances' must be a list, one item per example")
        if len(input_names) == 1 and not (rows and isinstance(rows[0], dict)):
            return {input_names[0]: rows}
        return {key: [row[key] for row in rows] for key in input_names}
    given = _decode(request["inputs"])
    return given if isinstance(given, dict) else {input_names[0]: given}


def response_body(outputs, columnar):
    """Named numpy outputs -> the REST answer: {"outputs": ...} (columnar) or {"predictions": ...} (rows)."""
    if columnar:
        if len(outputs) == 1:
            return {"outputs": _encode(next(iter(outputs.values())), next(iter(outputs)))}
        return {"outputs": {key: _encode(value, key) for key, value in outputs.items()}}
    batch = len(next(iter(outputs.values())))
    if len(outputs) == 1:
        key, value = next(iter(outputs.items()))
        return {"predictions": _encode(value, key)}
    return {"predictions": [{key: _encode(value[i], key) for key, value in outputs.items()}
                            for i in range(batch)]}


def predict(loaded, request):
    """Answer one TF Serving REST predict request (a dict) with the response dict."""
    if not isinstance(request, dict):
        raise ValueError(f"a request must be a JSON object, got {type(request).__name__}")
    name = request.get("signature_name", "serving_default")
    if name not in loaded.signatures:
        raise ValueError(f"no signature {name!r}; this model has {sorted(loaded.signatures)}")
    signature = loaded.signatures[name]
    columns = request_columns(request, sorted(signature.structured_input_signature[1]))
    outputs = {key: value.numpy() for key, value in signature(**_to_tensors(columns, signature)).items()}
    return response_body(outputs, columnar="inputs" in request)


def answer(loaded, request):
    """`predict`, with failures turned into TF Serving's {"error": ...} answer (and HTTP 400)."""
    try:
        return predict(loaded, request), 200
    except (ValueError, TypeError, KeyError, tf.errors.OpError) as error:
        message = op_message(error.message) if isinstance(error, tf.errors.OpError) else str(error)
        return {"error": f"{type(error).__name__}: {message[:2000]}"}, 400


def op_message(message):
    """The op's own words from a graph error, without TensorFlow's Python traceback of where it was defined.

    TF Serving answers with the op's message (e.g. "assertion failed: [image_bytes is not a JPEG ...]"),
    so this does too.
    """
    lines = [line.replace("<stack traces unavailable>", "").strip() for line in message.splitlines()
             if line.strip() and not line.startswith((" ", "\t")) and not line.startswith(
                 ("Graph execution error", "Detected at node", "Detected unsupported operations"))]
    return " ".join(line for line in lines if line) or message.strip()


def forbidden_imports():
    """The project or extension modules this process has imported (should be none)."""
    return sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN_MODULES)


def importable_forbidden_modules():
    """Forbidden modules this process could still import (none while the blocker is active)."""
    importable = []
    for name in FORBIDDEN_MODULES:
        try:
            importlib.import_module(name)
            importable.append(name)
        except ImportError:
            pass
    return importable


def graph_ops(model_dir):
    """Every op the SavedModel's graphs use, its function library included (function calls left out)."""
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, "saved_model.pb"), "rb") as handle:
        saved_model.ParseFromString(handle.read())
    ops, functions = set(), set()
    for graph in saved_model.meta_graphs:
        ops |= {node.op for node in graph.graph_def.node}
        for function in graph.graph_def.library.function:
            functions.add(function.signature.name)
            ops |= {node.op for node in function.node_def}
    return ops - functions


def non_core_ops(model_dir):
    """Ops in the SavedModel's graph that core TensorFlow does not register (should be none)."""
    return sorted(op for op in graph_ops(model_dir) if op_def_registry.get(op) is None)


def cpu_unservable_ops(model_dir):
    """Registered ops that a CPU-only TF Serving cannot run: no CPU kernel, or XLA-only (should be none).

    Keras picks cuDNN at trace time when it sees a GPU, so an export traced beside one can hold `CudnnRNNV3`:
    registered everywhere, but with only a GPU kernel. `Xla*` ops (keras-hub's samplers trace
    `XlaDynamicUpdateSlice`) have CPU kernels in this TensorFlow only as JIT compilation wrappers, which
    stock TF Serving does not carry. Either fails every request on a CPU host.
    """
    unservable = []
    for op in sorted(graph_ops(model_dir)):
        if op_def_registry.get(op) is None:
            continue  # reported by non_core_ops
        devices = {kernel.device_type for kernel in kernels.get_registered_kernels_for_op(op).kernel}
        if op.startswith("Xla") or not devices & set(CPU_DEVICE_TYPES):
            unservable.append(op)
    return unservable


def describe(loaded):
    """Every signature's input and output names, dtypes and shapes."""
    def specs(named):
        return {k: [v.dtype.name, v.shape.as_list() if v.shape.rank is not None else None] for k, v in named.items()}
    return {name: {"inputs": specs(function.structured_input_signature[1]),
                   "outputs": specs(function.structured_outputs)} for name, function in loaded.signatures.items()}


# The stand-in server's own limits (TF Serving has its own; tests and users without Docker meet these).
MAX_BODY_BYTES = 16 * 2**20  # a request body: a 12 MB image file fits (as base64); 413 beyond
READ_TIMEOUT_SECONDS = 30    # a client that stops sending mid-body gets 408, not a thread held forever
LISTEN_BACKLOG = 128         # connections waiting to be accepted (the socketserver default is 5)
_PATH = re.compile(r"/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[0-9]+))?(?P<verb>:predict)?")


def serve(loaded, model_name, port, version=None):
    """A loopback server with TF Serving's REST paths, for testing clients without TF Serving.

    Paths route exactly, as in TF Serving: /v1/models/<model_name>[/versions/<version>] (GET: status) and
    the same with :predict (POST); any other name or version is 404. Every answer is JSON.
    """

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_SECONDS

        def _reply(self, body, status=200):
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def send_error(self, code, message=None, explain=None):  # http.server's own refusals, as JSON too
            self.close_connection = True
            self._reply({"error": f"{code} {message or self.responses.get(code, ('',))[0]}"}, code)

        def _route(self, predict):
            """True when the path names this model (and its version, if any) with the right verb."""
            match = _PATH.fullmatch(self.path.split("?")[0])
            found = bool(match) and match["name"] == model_name and bool(match["verb"]) == predict and (
                match["version"] is None or (version is not None and int(match["version"]) == version))
            if not found:
                self._reply({"error": f"Servable not found for request: {self.path[:200]}"}, 404)
            return found

        def do_GET(self):  # model status, as TF Serving's GET /v1/models/<name>
            if self._route(predict=False):
                status = {"state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
                self._reply({"model_version_status": [
                    {"version": str(version), **status} if version is not None else status]})

        def _body(self):
            """The request body, or None after replying 411 / 400 / 413 / 408 (then the connection closes)."""
            length = self.headers.get("Content-Length")
            status, message = None, None
            if length is None:
                status, message = 411, "a POST needs a Content-Length header"
            elif not (length.strip().isascii() and length.strip().isdigit()):
                status, message = 400, f"Content-Length must be a non-negative integer, got {length[:40]!r}"
            elif int(length) > MAX_BODY_BYTES:
                status, message = 413, f"request body of {int(length):,} bytes; at most {MAX_BODY_BYTES:,}"
            else:
                try:
                    return self.rfile.read(int(length))
                except TimeoutError:
                    status, message = 408, f"the body did not arrive within {READ_TIMEOUT_SECONDS} s"
            self.close_connection = True
            self._reply({"error": message}, status)
            if status != 408:
                self._drain(int(length) if status == 413 else MAX_BODY_BYTES)
            return None

        def _drain(self, length):
            """Read and drop (a bounded part of) a refused body: closing a socket with unread data resets
            the connection, and the client could lose the reply it has not read yet."""
            self.connection.settimeout(1)
            left = min(length, 4 * MAX_BODY_BYTES)
            try:
                while left > 0 and (chunk := self.rfile.read1(min(left, 2**16))):
                    left -= len(chunk)
            except OSError:  # timeout or reset: the client stopped sending
                pass

        def do_POST(self):
            if not self._route(predict=True):
                return None
            body = self._body()
            if body is None:
                return None
            try:
                request = json.loads(body)
            except (ValueError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: nested too deep
                return self._reply({"error": f"JSON Parse error: {error}"}, 400)
            try:
                body, status = answer(loaded, request)
            except Exception as error:  # noqa: BLE001  a bug here must not leave the client without an answer
                body, status = {"error": f"internal error: {type(error).__name__}: {str(error)[:2000]}"}, 500
            self._reply(body, status)

        def log_message(self, *args):  # keep test output quiet
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = LISTEN_BACKLOG

    server = Server(("127.0.0.1", port), Handler)
    print(json.dumps({"listening": server.server_address[1]}), flush=True)
    server.serve_forever()


def _memory_mb(field):
    """VmRSS (resident now) or VmHWM (peak resident) of this process in MB; None where /proc has no status."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith(field + ":"))
    except (OSError, StopIteration):
        return None


def _reset_peak_memory():
    """Linux: set the peak (VmHWM) back to the current RSS, so the next peak is one call's own. -> RSS (MB)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        pass
    return _memory_mb("VmRSS")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", help="a SavedModel version folder, e.g. saved_models/app/1")
    parser.add_argument("--request", help="one TF Serving REST request as a JSON string")
    parser.add_argument("--request-file", help="a file holding one JSON request, or a JSON list of them")
    parser.add_argument("--repeat", type=int, default=0, help="time each request this many extra times")
    parser.add_argument("--serve", type=int, metavar="PORT", help="serve REST on 127.0.0.1:PORT (0: any)")
    parser.add_argument("--model-name", default="model", help="the model name in REST paths (--serve)")
    parser.add_argument("--model-version", type=int, help="the version in REST paths (--serve; default: the "
                        "model folder's name when it is a number, as TF Serving numbers versions)")
    args = parser.parse_args(argv)

    # The graph is read before it is loaded: an op without a CPU kernel may fail the load itself.
    unservable = {"non_core_ops": non_core_ops(args.model_dir),
                  "cpu_unservable_ops": cpu_unservable_ops(args.model_dir)}
    if any(unservable.values()):
        print(f"{args.model_dir} cannot be served by a CPU-only TF Serving: ops core TensorFlow does not "
              f"register {unservable['non_core_ops']}; ops with no CPU kernel or XLA-only "
              f"{unservable['cpu_unservable_ops']}. Export where no GPU is visible, or with the RNN layers' "
              "use_cudnn=False (shared/runtime/export.py does this).", file=sys.stderr)
        print(json.dumps(unservable))
        return 1
    loaded = tf.saved_model.load(args.model_dir)
    if args.serve is not None:
        folder = os.path.basename(os.path.normpath(args.model_dir))
        version = args.model_version if args.model_version is not None else (
            int(folder) if folder.isascii() and folder.isdigit() else None)
        return serve(loaded, args.model_name, args.serve, version)
    if args.request_file:
        with open(args.request_file, encoding="utf-8") as handle:
            requests = json.load(handle)
    else:
        requests = json.loads(args.request) if args.request else []
    requests = requests if isinstance(requests, list) else [requests]
    results = []
    for request in requests:
        rss_before = _reset_peak_memory()
        started = time.perf_counter()
        body, status = answer(loaded, request)
        result = {"status": status, "response": body, "first_call_ms": 1000 * (time.perf_counter() - started),
                  "rss_before_mb": rss_before, "peak_rss_mb": _memory_mb("VmHWM")}
        if args.repeat > 0 and status == 200:
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                answer(loaded, request)
                times.append(1000 * (time.perf_counter() - started))
            times.sort()
            result["latency_ms"] = {"p50": times[len(times) // 2], "p90": times[int(len(times) * 0.9)],
                                    "mean": sum(times) / len(times), "n": len(times)}
        results.append(result)
    print(json.dumps({"signatures": describe(loaded), "results": results,
                      "forbidden_imports": forbidden_imports(),
                      "importable_forbidden_modules": importable_forbidden_modules(), **unservable}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
