"""One frozen `Config` dataclass per app, turned into the suite's one command line.

Home of: the flags every app shares (`TrainConfig`, `option`), parsing them (`parse_flags`, `parse_config`)
and the one reader of a saved config.json (`load_config`).

Every `train.py` in `apps/` shares the flags of `TrainConfig` (`--data-dir`, `--sample`, `--quick`,
`--epochs`, `--batch-size`, `--seed`, `--output-dir`, `--export-dir`, `--resume`, `--clipnorm`,
`--learning-rate`, `--distribute`) and adds its own fields. Each field is declared with `option(default, why)`: the why
is the field's comment in the code and its `--help` text on the command line, so the two never drift.

    @dataclasses.dataclass(frozen=True)
    class Config(TrainConfig):
        app: ClassVar[str] = "imdb_sentiment"
        SAMPLE: ClassVar[dict] = {"units": 32}                    # --sample: the offline data is small
        QUICK: ClassVar[dict] = {"epochs": 1, "max_examples": 256}  # --quick: a few steps
        units: int = option(64, "Recurrent units per direction: enough for sentiment, cheap on CPU.")

    config = parse_config(Config, ["--units", "32", "--quick"])

`parse_config` is two named steps: `parse_flags` (argv -> config, nothing else read) and
`shared.runtime.distribute.for_this_worker` (where this process writes: under `--distribute multi-worker`
a non-chief worker gets its scratch folder; the only step that reads TF_CONFIG).

The config is saved as JSON beside every run's outputs and every export (`save_config`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import types
import typing
from typing import Any, ClassVar

from shared.runtime import distribute
from shared.modeling.optimizer import DEFAULT_CLIPNORM
from shared.runtime.resume import atomic_write


def option(default: Any, why: str, choices: typing.Sequence[Any] | None = None) -> Any:
    """A dataclass field whose `why` is both the code comment and the `--help` text."""
    metadata = {"help": why}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The flags every app shares. Subclass it (still frozen) and add the app's own fields."""

    # Each subclass names its app: the default output and export folders are derived from it.
    app: ClassVar[str] = "app"
    # Overrides `--sample` applies to fields the user did not set explicitly (the offline data is small).
    SAMPLE: ClassVar[dict] = {}
    # Overrides `--quick` applies to fields the user did not set explicitly (after SAMPLE's).
    QUICK: ClassVar[dict] = {"epochs": 1}

    data_dir: str | None = option(
        None, "Local copy of the real dataset. Without it: the download cache, then a download.")
    sample: bool = option(
        False, "Use the small offline dataset the project generates itself: runs with no network.")
    quick: bool = option(
        False, "A few steps on a little data, for tests and smoke runs; the figures mean nothing.")
    epochs: int = option(5, "Passes over the training data.")
    batch_size: int = option(64, "Examples per gradient step (per replica under --distribute).")
    seed: int = option(1337, "Seeds Python, NumPy and TensorFlow, and every data split: same seed, same run.")
    output_dir: str | None = option(
        None, "Where config.json, metrics.json, checkpoints and TensorBoard logs go (default runs/<app>).")
    export_dir: str = option(
        "saved_models", "Export root: the SavedModel is written to <export-dir>/<app>/<next version>/.")
    resume: bool = option(
        False, "Continue an interrupted run from its last checkpoint instead of starting over.")
    clipnorm: float = option(
        DEFAULT_CLIPNORM, "Clip gradients to this global norm (0 turns clipping off); see shared/modeling/optimizer.py.")
    learning_rate: float = option(1e-3, "Adam's step size.")
    check_export: bool = option(
        True, "After exporting, call the SavedModel in a process that can import only TensorFlow.")
    distribute: str = option(
        "none", "none: one device. mirrored: every GPU of this host. multi-worker: the hosts in TF_CONFIG "
                "(run once per host). --batch-size is per replica; see shared/runtime/distribute.py.",
        choices=distribute.STRATEGIES)

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}.")
        if self.clipnorm < 0:
            raise ValueError(f"--clipnorm must be >= 0 (0 turns clipping off), got {self.clipnorm}.")
        if self.learning_rate <= 0:
            raise ValueError(f"--learning-rate must be positive, got {self.learning_rate}.")
        for field in dataclasses.fields(self):
            allowed = field.metadata.get("choices")
            if allowed and getattr(self, field.name) not in allowed:
                raise ValueError(
                    f"--{field.name.replace('_', '-')} must be one of {list(allowed)}, "
                    f"got {getattr(self, field.name)!r}.")

    @property
    def run_dir(self) -> pathlib.Path:
        """The folder for this run's config, metrics, checkpoints and logs."""
        return pathlib.Path(self.output_dir or pathlib.Path("runs") / self.app)


def _field_type(cls: type, field: dataclasses.Field) -> type:
    """The concrete type of a field, with `X | None` reduced to X."""
    hint = typing.get_type_hints(cls)[field.name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def build_parser(cls: type[TrainConfig], description: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with one flag per field of `cls` (underscores become dashes)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for field in dataclasses.fields(cls):
        flag = "--" + field.name.replace("_", "-")
        kind = _field_type(cls, field)
        # argparse %-formats help strings: a literal % in a why ("50% of ...") must be written %%.
        help_text = f"{field.metadata.get('help', '')} (default: {field.default})".replace("%", "%%")
        # SUPPRESS lets parse_config tell the flags a user typed from the defaults (for --quick).
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(flag, type=kind, default=argparse.SUPPRESS,
                                choices=field.metadata.get("choices"), help=help_text)
    return parser


def parse_flags(cls: type[TrainConfig], argv: typing.Sequence[str] | None = None,
                description: str | None = None) -> TrainConfig:
    """Parse `argv` into a frozen `cls`; `--sample` and `--quick` fill their overrides into unset fields.

    It reads nothing but `argv` (no environment variable, no file): the same flags, the same config.
    """
    given = vars(build_parser(cls, description).parse_args(argv))
    values = {}
    if given.get("sample"):
        values.update(cls.SAMPLE)
    if given.get("quick"):
        values.update(cls.QUICK)
    values.update(given)  # what the user typed always wins
    return cls(**values)


def parse_config(cls: type[TrainConfig], argv: typing.Sequence[str] | None = None,
                 description: str | None = None) -> TrainConfig:
    """The config this process runs with: `parse_flags`, then `distribute.for_this_worker`, two steps.

    The second step is the only one that reads the environment (TF_CONFIG, and only under
    `--distribute multi-worker`): a worker that is not the chief gets its scratch folder as output and
    export folder, so only the chief writes the real ones (shared/runtime/run.py's layout).
    """
    return distribute.for_this_worker(parse_flags(cls, argv, description))


def to_dict(config: TrainConfig) -> dict:
    """The config as plain JSON-able data, with the app's name."""
    return {"app": config.app, **dataclasses.asdict(config)}


def save_config(config: TrainConfig, path: str | pathlib.Path) -> pathlib.Path:
    """Write the config as indented JSON (the record of how a run or an export was made)."""
    # Atomic (shared/runtime/resume.py): a kill while it is written leaves the old file, not half a file.
    return atomic_write(path, json.dumps(to_dict(config), indent=2, sort_keys=True) + "\n")


def load_config(path: str | pathlib.Path, cls: type[TrainConfig] | None = None):
    """Read back a saved config: a run folder, an export version, or a config.json file itself.

    With `cls`, rebuild that Config class from it (the one rule: keys the class no longer has are dropped,
    fields the file lacks take their defaults, so a run or export made by an older version still loads).
    Without `cls`, return the saved dict (it includes "app").

    Example:
        >>> load_config("runs/imdb_sentiment", Config).units     # doctest: +SKIP
        64
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "assets.extra" / "config.json" if (path / "assets.extra").is_dir() else path / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"No config.json at {path}: pass a run folder, an export version or the file.")
    saved = json.loads(path.read_text())
    if cls is None:
        return saved
    fields = {field.name for field in dataclasses.fields(cls)}
    return cls(**{key: value for key, value in saved.items() if key in fields})
