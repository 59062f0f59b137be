"""Shared test fixtures: quiet TensorFlow, the real-data folder, and one quick export per app."""

import contextlib
import importlib
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
# The real datasets live beside the repository (never inside it); tests that need them skip without them.
SHARED_DATA = pathlib.Path(os.environ.get("RNN_SUITE_DATA", REPO.parent / "shared" / "data"))


def real_data(relative: str) -> pathlib.Path:
    """The path of a real dataset file under ../shared/data, or skip the test when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real data not present: {path}")
    return path


def quick_argv(tmp_path, *extra):
    """train.py flags for a quick run whose outputs and exports stay inside `tmp_path`."""
    return ["--quick", "--output-dir", str(tmp_path / "run"), "--export-dir", str(tmp_path / "export"), *extra]


# The flags of each app's quick offline run: the app tests and the serving tests (tests/serving/) share
# one run per app and test session, so each quick training is paid for once.
QUICK_FLAGS = {
    "imdb_sentiment": ("--sample",),
    "char_lm": ("--sample", "--epochs", "2"),
    "translator": ("--sample", "--direction", "es-en"),
    "captioner": ("--sample",),
    "video_tagger": ("--sample",),
}


@contextlib.contextmanager
def exports_traced_as_beside_a_gpu():
    """Within the block, every SavedModel export is traced as a process that sees a GPU would trace it.

    Keras chooses cuDNN for an LSTM/GRU at trace time by asking `_is_gpu_available()`; answering yes while
    `keras.export.ExportArchive` traces reproduces a GPU machine's export graph here (training itself stays
    on the CPU path, which this machine can run). An export that let `CudnnRNNV3` in then fails its own
    bare-TF check, which runs with no GPU, as a CPU TF Serving host.
    """
    keras_tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    archive = importlib.import_module("keras").export.ExportArchive
    originals = {name: getattr(archive, name) for name in ("add_endpoint", "write_out")}

    def traced_beside_a_gpu(original):
        def method(*args, **kwargs):
            answer = keras_tf_rnn._is_gpu_available
            keras_tf_rnn._is_gpu_available = lambda: True
            try:
                return original(*args, **kwargs)
            finally:
                keras_tf_rnn._is_gpu_available = answer
        return method

    for name, original in originals.items():
        setattr(archive, name, traced_beside_a_gpu(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(archive, name, original)


@pytest.fixture(scope="session")
def quick_runs(tmp_path_factory):
    """A function: app name -> (tmp_path, metrics) of that app's quick offline train-and-export.

    Trained on first use, then cached for the session; the export is `metrics["export_path"]`. Each export
    is traced as on a GPU machine (`exports_traced_as_beside_a_gpu`) and checked by its train.py in a
    process with no GPU, so every app test also proves its export serves on a CPU-only host.
    """
    runs = {}

    def run(app):
        if app not in runs:
            tmp_path = tmp_path_factory.mktemp(app)
            train = importlib.import_module(f"apps.{app}.train")
            with exports_traced_as_beside_a_gpu():
                runs[app] = (tmp_path, train.main(quick_argv(tmp_path, *QUICK_FLAGS[app])))
        return runs[app]

    return run
