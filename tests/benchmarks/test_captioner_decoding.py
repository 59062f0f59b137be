"""The decoding study re-decodes a trained run exactly as the run itself did, and writes its choice."""

import json
import pathlib

import pytest

from benchmarks import captioner_decoding, report


def test_redecoding_a_quick_run_reproduces_its_own_scores(quick_runs, tmp_path):
    run_path, metrics = quick_runs("captioner")
    output = tmp_path / "decoding.json"
    (tmp_path / "captioner.json").write_text(json.dumps({"app": "captioner", "bleu4_test": -1.0}))
    result = captioner_decoding.main(["--run-dir", str(run_path / "run"), "--output", str(output),
                                      "--settings", "3", "--export"])
    assert json.loads(output.read_text()) == result
    settings = [(row["decoder"], row["no_repeat_ngram"]) for row in result["settings"]]
    assert settings[:3] == [("greedy", 0), ("greedy", 2), ("greedy", 3)] and settings[-1][0] == "beam"
    # The same best decoder on the same cached features: the run's own BLEU, to the digit (the run's greedy
    # blocks repeated trigrams, the app's default).
    assert result["settings"][2]["test_bleu"] == pytest.approx(metrics["bleu"]["greedy"])
    assert result["bleu4_test_run_default"] == pytest.approx(metrics["bleu"]["beam"]["bleu4"])
    chosen = result["chosen_on_validation"]
    best = max(result["settings"], key=lambda row: row["validation_bleu"]["bleu4"])
    assert (chosen["decoder"], chosen["no_repeat_ngram"]) == (best["decoder"], best["no_repeat_ngram"])
    # --export: the same decoder as a new version, decoding the chosen way, that a bare-TF process ran.
    export = pathlib.Path(result["export_path"])
    first = pathlib.Path(metrics["export_path"])
    assert export.parent == first.parent and export != first
    saved = json.loads((export / "assets.extra" / "metrics.json").read_text())
    assert saved["chosen_on_validation"] == chosen
    checked = json.loads((run_path / "run" / "decoding" / "metrics.json").read_text())
    assert isinstance(checked["bare_tf_check"]["predictions"][0], str)
    # The app's benchmark JSON now reports what the export serves, not the run's own decoding.
    summary = json.loads((tmp_path / "captioner.json").read_text())
    assert summary["bleu4_test"] == result["bleu4_test_chosen"] and summary["served_decoding"] == chosen
    assert summary["served_export"] == result["export_path"]
    again = captioner_decoding.main(["--run-dir", str(run_path / "run"), "--output", str(output), "--export-only"])
    assert again["settings"] == result["settings"] and pathlib.Path(again["export_path"]).name == str(
        int(export.name) + 1)  # the same choice, exported once more, nothing scored again
    table = report._decoding_rows(result)  # the results page's table of the study
    assert len([line for line in table if line.startswith("| greedy") or line.startswith("| beam")]) == 4


def test_a_folder_without_a_trained_run_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no trained captioner"):
        captioner_decoding.main(["--run-dir", str(tmp_path)])
