import dataclasses
import json
from typing import ClassVar

import pytest

from shared.runtime.config import TrainConfig, build_parser, option, parse_config, parse_flags, save_config


@dataclasses.dataclass(frozen=True)
class DemoConfig(TrainConfig):
    app: ClassVar[str] = "demo"
    SAMPLE: ClassVar[dict] = {"units": 8, "epochs": 3}
    QUICK: ClassVar[dict] = {"epochs": 1, "units": 4}
    units: int = option(64, "Units per layer.")
    cell: str = option("gru", "Cell type.", choices=("gru", "lstm"))
    limit: int | None = option(None, "Optional cap (covers 98.7% of cases).")


def test_every_shared_flag_exists_with_dashes():
    flags = {action.dest for action in build_parser(DemoConfig)._actions}
    for name in ("data_dir", "sample", "quick", "epochs", "batch_size", "seed", "output_dir", "export_dir",
                 "resume", "clipnorm", "units", "cell", "limit"):
        assert name in flags
    assert "--batch-size" in build_parser(DemoConfig).format_help()


def test_parse_types_and_defaults():
    config = parse_config(DemoConfig, ["--units", "32", "--sample", "--limit", "7"])
    assert (config.units, config.sample, config.limit, config.epochs) == (32, True, 7, 3)  # epochs: SAMPLE
    assert str(config.run_dir) == "runs/demo"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.units = 3


def test_quick_fills_only_fields_the_user_left_alone():
    config = parse_config(DemoConfig, ["--quick", "--units", "16"])
    assert config.epochs == 1 and config.units == 16


def test_sample_overrides_then_quick_then_what_the_user_typed():
    assert (parse_config(DemoConfig, ["--sample"]).units, parse_config(DemoConfig, ["--sample"]).epochs) == (8, 3)
    both = parse_config(DemoConfig, ["--sample", "--quick"])
    assert (both.units, both.epochs) == (4, 1)
    assert parse_config(DemoConfig, ["--sample", "--epochs", "7"]).epochs == 7
    assert parse_config(DemoConfig, []).units == 64


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "--epochs"), (["--clipnorm", "-1"], "--clipnorm"),
    (["--learning-rate", "0"], "--learning-rate")])
def test_bad_values_raise_value_error_naming_the_flag(argv, message):
    with pytest.raises(ValueError, match=message):
        parse_config(DemoConfig, argv)


def test_bad_choice_is_refused():
    with pytest.raises(SystemExit):
        parse_config(DemoConfig, ["--cell", "transformer"])
    with pytest.raises(ValueError, match="--cell"):
        DemoConfig(cell="transformer")


def test_save_config_round_trips(tmp_path):
    config = parse_config(DemoConfig, ["--seed", "3"])
    saved = json.loads(save_config(config, tmp_path / "run" / "config.json").read_text())
    assert saved["app"] == "demo" and saved["seed"] == 3 and saved["units"] == 64



def test_parse_flags_reads_only_argv(monkeypatch):
    """TF_CONFIG places a worker (parse_config's second step); parsing the flags never reads it."""
    tf_config = '{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}'
    monkeypatch.setenv("TF_CONFIG", tf_config)
    argv = ["--distribute", "multi-worker", "--output-dir", "out"]
    assert str(parse_flags(DemoConfig, argv).run_dir) == "out"
    assert str(parse_config(DemoConfig, argv).run_dir) == "out/.worker-1"
