"""Export: versioned SavedModels with named, explicitly typed signatures, written atomically.

Home of: writing a SavedModel version (`export_saved_model`): nothing else (the run folder is run.py's).

TF Serving watches `saved_models/<app>/` and loads the highest integer version folder. A version must
therefore appear whole or not at all: `export_saved_model` writes into a hidden temporary folder beside the
versions (TF Serving ignores non-numeric names) and renames it to the next free version number; a rename
within one file system is atomic. An existing version is never overwritten.

Beside the graph, `<N>/assets.extra/` holds `config.json` and `metrics.json`: how this version was made and
how good it measured (TF Serving ignores assets.extra except for its warm-up file,
`tf_serving_warmup_requests`, written from the app's check requests: see shared/runtime/serving_assets.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import typing
import uuid

import keras
import tensorflow as tf

from shared.runtime.config import TrainConfig, to_dict
from shared.runtime.serving_assets import write_serving_assets


@contextlib.contextmanager
def portable_recurrent_layers(track: typing.Sequence[typing.Any]):
    """Within the block, every LSTM/GRU reachable from `track` takes Keras' generic (CPU-capable) path.

    Keras 3 decides at trace time whether an LSTM or GRU runs on cuDNN: traced in a process that sees a
    GPU, the graph holds `CudnnRNNV3`, which has only a GPU kernel, so a CPU TF Serving host fails every
    request. Training keeps cuDNN (`use_cudnn="auto"`); only the export's trace is forced off it, and the
    weights are the same either way (Keras converts them). `shared/runtime/bare_tf.py` checks the result.
    """
    layers = {}
    for item in track:
        if isinstance(item, keras.layers.Layer):
            for layer in [item, *item._flatten_layers(include_self=False)]:
                if hasattr(layer, "use_cudnn"):
                    layers[id(layer)] = layer
    saved = {key: layer.use_cudnn for key, layer in layers.items()}
    try:
        for layer in layers.values():
            layer.use_cudnn = False
        yield
    finally:
        for key, layer in layers.items():
            layer.use_cudnn = saved[key]


def next_version(model_root: str | os.PathLike) -> int:
    """1 + the highest integer version folder in `model_root` (1 when there is none)."""
    root = pathlib.Path(model_root)
    versions = [int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()] if root.is_dir() else []
    return max(versions, default=0) + 1


def export_saved_model(config: TrainConfig, endpoints: dict[str, tuple[typing.Callable, list[tf.TensorSpec]]],
                       track: typing.Sequence[typing.Any], metrics: dict | None = None,
                       export_dir: str | os.PathLike | None = None,
                       warmup_requests: typing.Sequence[dict] = ()) -> pathlib.Path:
    """Write `<export_dir>/<app>/<next version>/` and return its path.

    Args:
        config: the run's config; its `app` names the model folder, its `export_dir` is the default root.
        endpoints: signature name -> (function, input signature). Each function takes the typed tensors of
            its signature and returns a dict of named outputs (the names TF Serving answers with). Every
            TensorSpec should carry a `name`: it becomes the request's input key.
        track: the Keras layers and models whose variables and lookup tables the functions use.
        metrics: figures to store beside the graph as assets.extra/metrics.json.
        export_dir: overrides `config.export_dir`.
        warmup_requests: TF Serving REST requests replayed by TF Serving when it loads the version
            (assets.extra/tf_serving_warmup_requests); each must be valid for its signature.
    """
    if "serving_default" not in endpoints:
        raise ValueError("every export needs a 'serving_default' signature (TF Serving's default).")
    archive = keras.export.ExportArchive()
    for item in track:
        archive.track(item)
    model_root = pathlib.Path(export_dir or config.export_dir) / config.app
    model_root.mkdir(parents=True, exist_ok=True)
    staging = model_root / f".incomplete-{uuid.uuid4().hex}"
    try:
        with portable_recurrent_layers(track):  # traced here: no cuDNN-only op may enter the graph
            for name, (function, input_signature) in endpoints.items():
                # A tf.function traced earlier (beside a GPU, say) would bring its old graph: trace afresh.
                function = getattr(function, "python_function", function)
                archive.add_endpoint(name=name, fn=function, input_signature=input_signature)
            archive.write_out(str(staging), verbose=False)
        extra = staging / "assets.extra"
        extra.mkdir(exist_ok=True)
        (extra / "config.json").write_text(json.dumps(to_dict(config), indent=2, sort_keys=True) + "\n")
        (extra / "metrics.json").write_text(json.dumps(metrics or {}, indent=2, sort_keys=True) + "\n")
        write_serving_assets(staging, config.app, {name: signature for name, (_, signature) in endpoints.items()},
                             warmup_requests)
        while True:  # another export may take a number between our look and our rename
            target = model_root / str(next_version(model_root))
            try:
                os.rename(staging, target)  # fails if target exists: nothing is ever overwritten
                return target
            except OSError:
                if not target.exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
