"""benchmarks/report.py on the committed results and on an empty results folder."""

import json
import shutil

from benchmarks import report


def test_report_on_the_committed_results(tmp_path):
    page = report.main(["--output", str(tmp_path / "README.md")])
    assert (tmp_path / "README.md").read_text() == page
    assert page.startswith("# Benchmarks") and "`python benchmarks/report.py`" in page
    imdb = json.loads((report.RESULTS / "imdb_sentiment.json").read_text())
    assert f"{100 * imdb['test_accuracy']:.2f}% test accuracy" in page  # the measured figure, as measured
    assert "fastText-style bigram model 90.6%" in page and "1.54 nats/char" in page  # public figures, quoted from the issues
    rows = [line for line in page.splitlines() if line.startswith("| [")]
    assert len(rows) == len(report.ROWS) and all(line.count("|") == 7 for line in rows)
    for app in report.ROWS:
        if not (report.RESULTS / f"{app}.json").exists():
            assert f"| [{app}](../apps/{app}/README.md) | not measured |" in page
    assert "(../apps/imdb_sentiment/images/training_curves.png)" in page


def test_report_on_an_empty_results_folder(tmp_path):
    page = report.main(["--results", str(tmp_path), "--output", str(tmp_path / "README.md")])
    rows = [line for line in page.splitlines() if line.startswith("| [")]
    assert len(rows) == 5 and all("| not measured | not measured | not measured |" in row for row in rows)
    assert "Load test: not measured" in page and "Scale-out: not measured" in page
    assert "Captioner decoding study: not measured" in page and "Captioner variants: not measured" in page


def test_report_reads_a_load_test_and_marks_sample_data(tmp_path):
    shutil.copy(report.RESULTS / "imdb_sentiment.json", tmp_path)
    result = json.loads((tmp_path / "imdb_sentiment.json").read_text())
    result["config"]["sample"] = True
    (tmp_path / "imdb_sentiment.json").write_text(json.dumps(result))
    (tmp_path / "load_test.json").write_text(json.dumps({"results": {"char_lm": {
        "requests_per_second": 61.8, "latency_ms": {"p50": 56.0, "p99": 210.8}, "errors": 0, "threads": 8,
        "seconds": 30.1, "rss_mib": {"after_warmup": 557.3, "end": 557.4}, "memory_bounded": True}}}))
    page = report.render(tmp_path)
    assert "not the real dataset" in page
    assert "| char_lm | 61.8 | 56.0 ms | 210.8 ms | 0 | 557 -> 557 MiB | yes |" in page


def test_captioner_variants_show_the_epoch_their_rule_kept(tmp_path):
    """A decoder kept by validation BLEU-4 shows that epoch, not the one with the lowest loss."""
    history = [{"epoch": 0, "val_loss": 3.0, "val_bleu4": 0.10}, {"epoch": 1, "val_loss": 2.9, "val_bleu4": 0.12},
               {"epoch": 2, "val_loss": 2.8, "val_bleu4": 0.11}]
    for name, select_by in (("captioner_by_bleu", "bleu"), ("captioner_by_loss", "loss")):
        (tmp_path / f"{name}.json").write_text(json.dumps({
            "config": {"select_by": select_by}, "history": history, "decoder_train_seconds": 600,
            "bleu": {"beam": {"bleu4": 0.1121}, "greedy": {"bleu4": 0.0862}}, "command": f"run {name}"}))
    rows = report._captioner_variant_rows(tmp_path)
    figures = "| 0.1121 / 0.0862 |"
    assert f"| `captioner_by_bleu.json` | 10.0 min | 2 of 3 | bleu | 2.900 {figures} `run captioner_by_bleu` |" in rows
    assert f"| `captioner_by_loss.json` | 10.0 min | 3 of 3 | loss | 2.800 {figures} `run captioner_by_loss` |" in rows
