"""The run folder: every file in it, from the first line of a train.py to its export.

Home of: the run folder and its layout (`RunFolder`), opening a run (`start_run`) and closing it
(`finish_run`, `export_and_finish`), reading its history back (`read_history`).

This module is the one owner of the run folder's layout: `RunFolder` names every path in it, and every
other module (training, resume) asks it for them instead of spelling a file name itself.
A run folder (`--output-dir`, default `runs/<app>/`) holds:

    config.json        the frozen config of the run                        written by start_run
    history.csv        one row per finished epoch (appended across resumes) shared.runtime.training.fit
    checkpoints/       best.weights.h5 (by the monitored metric), last.weights.h5   fit
    backup/            the resume state (shared.runtime.resume); removed by fit once the run's best is safe
    logs/<run id>/     TensorBoard, one folder per run; a resume continues its own  fit
    metrics.json       the final figures                                    finish_run
    .worker-<index>/   a non-chief worker's scratch run folder (multi-worker)  removed by finish_run

`start_run` opens the run (strategy, seeds, resume decision, config.json) and `export_and_finish` closes it
(export through shared.runtime.export, the bare-TF check, metrics.json, a non-chief worker's scratch removed).
Every file is written atomically (shared.runtime.resume.atomic_write), so a kill never leaves half of one.

Which folder is the run folder is settled before start_run, in two named steps of
`shared.runtime.config.parse_config`: `parse_flags` (argv only) and `shared.runtime.distribute.for_this_worker`
(the one step that reads TF_CONFIG). Under `--distribute multi-worker` a worker that is not the chief gets its
scratch folder `<run dir>/.worker-<index>/` as `config.run_dir` and writes nothing else. (The placement has to
happen before start_run: the config is frozen, and every train.py keeps using the config it parsed.)
"""

from __future__ import annotations

import csv
import json
import math
import pathlib
import typing

import keras

from shared.runtime import distribute, resume
from shared.runtime.config import TrainConfig, save_config
from shared.runtime.export import export_saved_model
from shared.runtime.serving import check_saved_model


def _inside(*parts: str) -> property:
    """A RunFolder property: the path `parts` inside the run folder."""
    return property(lambda folder: folder.root.joinpath(*parts), doc="/".join(parts))


class RunFolder(typing.NamedTuple):
    """Every path of one run folder, named once (the layout in the module docstring).

    Example:
        >>> RunFolder(pathlib.Path("runs/imdb_sentiment")).best_checkpoint
        PosixPath('runs/imdb_sentiment/checkpoints/best.weights.h5')
    """

    root: pathlib.Path
    config = _inside("config.json")
    metrics = _inside("metrics.json")
    history = _inside("history.csv")
    checkpoints = _inside("checkpoints")
    best_checkpoint = _inside("checkpoints", "best.weights.h5")
    last_checkpoint = _inside("checkpoints", "last.weights.h5")
    backup = _inside("backup")
    logs = _inside("logs")

    @classmethod
    def of(cls, config: TrainConfig) -> "RunFolder":
        """The run folder of `config` (`config.run_dir`: `--output-dir`, or a worker's scratch folder)."""
        return cls(pathlib.Path(config.run_dir))

    def tensorboard(self, run_id: str) -> pathlib.Path:
        """One run's TensorBoard folder, logs/<run id>/ (a resumed run keeps its id)."""
        return self.logs / run_id


# start_run's resume decision for each run folder, taken (once) by the next `fit` into that folder.
_PREPARED: dict[pathlib.Path, resume.RunState] = {}


def take_prepared(run_dir: pathlib.Path) -> resume.RunState | None:
    """The resume decision `start_run` took for this run folder, once (the next `fit` takes it)."""
    return _PREPARED.pop(pathlib.Path(run_dir).resolve(), None)


def start_run(config: TrainConfig) -> pathlib.Path:
    """Create the `--distribute` strategy, seed everything, prepare the run folder and save config.json.

    Returns the run folder. Models must then be built and compiled `with distribute.scope():`.
    """
    # First: MultiWorkerMirroredStrategy must set up collective ops before TensorFlow does anything else.
    strategy = distribute.activate(config.distribute)
    if config.distribute == "mirrored":
        print(f"--distribute mirrored: {strategy.num_replicas_in_sync} replicas in sync on this host")
    elif config.distribute == "multi-worker":
        role = distribute.worker_role()
        print(f"--distribute multi-worker: {strategy.num_replicas_in_sync} replicas in sync; "
              f"this process is {role.task_type} {role.index} of {role.workers}"
              f"{' (chief)' if role.is_chief else ', writing only to ' + str(config.run_dir)}")
    keras.utils.set_random_seed(config.seed)
    folder = RunFolder.of(config)
    # Decided now, before data and model are built, so a damaged backup/ is reported at once.
    _PREPARED[folder.root.resolve()] = resume.prepare(folder, config.resume, config.epochs)
    folder.root.mkdir(parents=True, exist_ok=True)
    save_config(config, folder.config)
    return folder.root


def read_history(run_dir: pathlib.Path) -> list[dict]:
    """Every finished epoch's logs from history.csv, across resumes, as numbers."""
    path = RunFolder(pathlib.Path(run_dir)).history
    if not path.exists():
        return []
    with path.open() as rows:
        return [{key: float(value) for key, value in row.items() if value not in ("", None)}
                for row in csv.DictReader(rows)]


def finish_run(config: TrainConfig, metrics: dict) -> pathlib.Path:
    """Write metrics.json into the run folder (NaN and infinities become null) and return its path.

    A non-chief worker instead removes its scratch run folder, export included (the chief keeps the run).
    """
    clean = {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
             for key, value in metrics.items()}
    path = resume.atomic_write(RunFolder.of(config).metrics, json.dumps(clean, indent=2, sort_keys=True) + "\n")
    distribute.remove_scratch(config)
    return path


def export_and_finish(config: TrainConfig, endpoints, track, metrics: dict,
                      check_request: dict | list[dict] | None = None,
                      keep_out: typing.Sequence[str] = ("history", "examples")) -> dict:
    """The end of every train.py: export, prove the export in bare TensorFlow, write metrics.json.

    `metrics` (minus the bulky `keep_out` keys) is stored beside the graph; `check_request`, a TF Serving
    REST request (or a list of them, e.g. one per signature), is sent to the export in a TensorFlow-only
    process when `config.check_export` is set, and the answer (or list of answers) recorded as
    `bare_tf_check`. The same requests become the export's TF Serving warm-up records. Returns `metrics`
    with `export_path` added.
    """
    requests = [] if check_request is None else (
        check_request if isinstance(check_request, list) else [check_request])
    export_path = export_saved_model(config, endpoints, track,
                                     metrics={k: v for k, v in metrics.items() if k not in keep_out},
                                     warmup_requests=requests)
    metrics["export_path"] = str(export_path)
    if check_request is not None and config.check_export:
        answers = [result["response"] for result in check_saved_model(export_path, requests)["results"]]
        metrics["bare_tf_check"] = answers if isinstance(check_request, list) else answers[0]
        print("bare-TF check:", metrics["bare_tf_check"])
    finish_run(config, metrics)
    print(f"exported {export_path}; run folder {config.run_dir}")
    return metrics
