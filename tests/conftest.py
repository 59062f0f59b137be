"""Shared test fixtures: quiet TensorFlow, the real-data folder, and a tiny exported model."""

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
