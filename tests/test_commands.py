"""Every command the READMEs name answers `--help`: each script with a `__main__` block, run as a script.

The scripts are found, not listed, so a new train.py, predict.py, benchmark or lesson is covered the day it
is added. They run in this process through `runpy` (as `python path/to/script.py --help` would run them),
which costs one TensorFlow import for all of them; shared/runtime/bare_tf.py runs in its own isolated process
because, as a script, it blocks every import but TensorFlow.
"""

import pathlib
import runpy
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = sorted(
    path.relative_to(REPO).as_posix()
    for folder in ("apps", "benchmarks", "lessons", "shared")
    for path in (REPO / folder).rglob("*.py")
    if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"))
ISOLATED = {"shared/runtime/bare_tf.py"}


def test_the_scripts_are_found():
    assert {"apps/run_all.py", "apps/imdb_sentiment/train.py", "apps/translator/predict.py",
            "benchmarks/report.py", "shared/runtime/bare_tf.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s not in ISOLATED])
def test_help(script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    monkeypatch.syspath_prepend(str(REPO / pathlib.Path(script).parent))  # sys.path[0] of a script
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(REPO / script), run_name="__main__")
    assert exited.value.code in (0, None)
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("script", sorted(ISOLATED))
def test_help_of_isolated_scripts(script):
    completed = subprocess.run([sys.executable, "-I", str(REPO / script), "--help"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "usage:" in completed.stdout
