"""Talking to a served model: a TF Serving REST client, a local stand-in, and the bare-TF check.

Home of: the REST client, the local stand-in, `ExampleRequest` and the bare-TF check (`check_saved_model`).

All of them speak the same JSON (TF Serving's REST API), so `predict.py` works the same against a server or
a folder, and a test of one is a test of the request format users will send:

    client = RestClient("http://localhost:8501", "imdb_sentiment")   # TF Serving, REST
    client = GrpcClient("localhost:8500", "imdb_sentiment")          # TF Serving, gRPC (shared/runtime/grpc_client.py)
    client = LocalModel("saved_models/imdb_sentiment")              # newest version, in this process
    client.predict(instances=["A fine film."])    # {"predictions": [{"label": "positive", ...}]}

`check_saved_model` runs `shared/runtime/bare_tf.py` in a separate, isolated Python process that imports only
TensorFlow, which is what TF Serving has, and fails if the export needs anything else.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import typing
import urllib.error
import urllib.request

BARE_TF_SCRIPT = pathlib.Path(__file__).with_name("bare_tf.py")


class ExampleRequest(typing.NamedTuple):
    """One TF Serving REST request an app's serve.py offers as its example (`example_requests()`).

    The same requests are the export's bare-TF check and its TF Serving warm-up records (train.py), the
    demo of `apps/run_all.py`, and what the tests send, so every one of them shows the same thing.

    Args:
        body: the REST JSON body, e.g. {"instances": [...]} or {"signature_name": "score", "inputs": {...}}.
        shows: one line per input row saying what it is (its true answer when known), for printing.
    """

    body: dict
    shows: list[str]


class ServingError(RuntimeError):
    """The server (or the local model) refused a request; the message is its error text."""


def b64(data: bytes) -> dict:
    """Bytes in TF Serving JSON: {"b64": "..."} (JPEG files, non-UTF-8 text)."""
    return {"b64": base64.b64encode(data).decode("ascii")}


# Longest side a client sends. Every image model here resizes to at most 299 pixels, so larger images
# only cost upload and decoding; 1024 keeps detail for any model a user trains at a larger size.
CLIENT_MAX_SIDE = 1024


def image_file_as_jpeg(path: str | os.PathLike, max_side: int = CLIENT_MAX_SIDE) -> bytes:
    """The bytes a client sends for an image file: any format Pillow opens (WebP, TIFF, HEIF plugins...),
    as JPEG, upright (EXIF orientation applied) and at most `max_side` pixels on its longest side.

    A JPEG that already fits is sent as it is, byte for byte. The served models decode JPEG, PNG, GIF and
    BMP themselves; converting on the client is what lets a user's WebP or TIFF reach them.

    Raises:
        ValueError: the file is not an image Pillow can read.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError  # here: only image clients need Pillow

    data = pathlib.Path(path).read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG" and max(image.size) <= max_side and image.getexif().get(0x0112, 1) == 1:
                return data
            image = ImageOps.exif_transpose(image).convert("RGB")  # first frame of an animation
            image.thumbnail((max_side, max_side))
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=95)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ValueError(f"{path} is not an image Pillow can read ({error}).") from None


def _request_body(instances, inputs, signature_name) -> dict:
    if (instances is None) == (inputs is None):
        raise ValueError("give exactly one of instances= (row form) or inputs= (columnar form).")
    body = {"instances": instances} if instances is not None else {"inputs": inputs}
    if signature_name:
        body["signature_name"] = signature_name
    return body


def latest_version(model_root: str | os.PathLike) -> pathlib.Path:
    """The highest numbered version folder under `model_root` (or `model_root` itself if it is one)."""
    root = pathlib.Path(model_root)
    if (root / "saved_model.pb").exists():
        return root
    versions = sorted((p for p in root.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    if not versions:
        raise FileNotFoundError(f"no SavedModel version folder (1/, 2/, ...) in {root}; train and export first.")
    return versions[-1]


class RestClient:
    """TF Serving's REST predict API: POST /v1/models/<model>[/versions/<v>]:predict."""

    def __init__(self, url: str, model: str, version: int | None = None, timeout: float = 60.0):
        self.base = url.rstrip("/") + f"/v1/models/{model}" + (f"/versions/{version}" if version else "")
        self.timeout = timeout

    def _call(self, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("error", str(error))
            except ValueError:
                message = str(error)
            raise ServingError(f"HTTP {error.code}: {message}") from None

    def predict(self, instances=None, inputs=None, signature_name: str | None = None) -> dict:
        return self._call(":predict", _request_body(instances, inputs, signature_name))

    def status(self) -> dict:
        return self._call("")


class LocalModel:
    """The same `predict` as RestClient, answered by a SavedModel loaded in this process."""

    def __init__(self, model_path: str | os.PathLike):
        import tensorflow as tf  # here, so the REST client alone never pays for importing TensorFlow

        from shared.runtime import bare_tf
        self.path = latest_version(model_path)
        self._bare_tf = bare_tf
        self._loaded = tf.saved_model.load(str(self.path))

    def predict(self, instances=None, inputs=None, signature_name: str | None = None) -> dict:
        body, status = self._bare_tf.answer(self._loaded, _request_body(instances, inputs, signature_name))
        if status != 200:
            raise ServingError(body["error"])
        return body


def _bare_tf_command(model_dir, *args) -> list[str]:
    # -I: ignore PYTHONPATH, the user site and the current folder, so the project is not on sys.path.
    return [sys.executable, "-I", str(BARE_TF_SCRIPT), str(model_dir), *map(str, args)]


def check_saved_model(model_dir: str | os.PathLike, requests: list[dict], repeat: int = 0,
                      timeout: float = 600) -> dict:
    """Call `requests` on the SavedModel in a fresh process that imports only TensorFlow.

    Returns bare_tf.py's report: each signature's inputs and outputs, each request's status, response and
    (with `repeat`) latency, the forbidden modules imported, the non-core ops and the ops a CPU-only host
    cannot run (all three empty). The process sees no GPU, as a CPU TF Serving host.

    Raises:
        RuntimeError: the process failed (a blocked import, or an op without a CPU kernel, included).
    """
    # Requests travel in a file: a video or a batch of images is far larger than one command-line argument
    # may be (128 KiB on Linux).
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as request_file:
        json.dump(requests, request_file)
        request_file.flush()
        completed = subprocess.run(_bare_tf_command(model_dir, "--request-file", request_file.name,
                                                    "--repeat", repeat),
                                   capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        raise RuntimeError(f"bare-TF check of {model_dir} failed:\n{completed.stderr[-4000:]}")
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    if report["forbidden_imports"] or report["non_core_ops"] or report["cpu_unservable_ops"]:
        raise RuntimeError(f"{model_dir} needs more than core TensorFlow on a CPU: modules "
                           f"{report['forbidden_imports']}, ops {report['non_core_ops']}, ops without a CPU "
                           f"kernel {report['cpu_unservable_ops']}")
    return report


@contextlib.contextmanager
def bare_tf_server(model_dir: str | os.PathLike, model_name: str, timeout: float = 120):
    """A loopback TF-Serving-shaped REST server (bare TensorFlow) for the duration of a `with` block.

    Yields the base URL (http://127.0.0.1:<port>). Used by tests and by users without Docker.
    """
    process = subprocess.Popen(_bare_tf_command(model_dir, "--serve", 0, "--model-name", model_name),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"bare-TF server did not start:\n{process.stderr.read()[-4000:]}")
        yield f"http://127.0.0.1:{json.loads(line)['listening']}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
