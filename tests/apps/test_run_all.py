"""apps/run_all.py: progress per app and step, then a table of served sample predictions."""

from apps import run_all


def test_run_all_shows_progress_and_a_table_of_predictions(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # runs/ and saved_models/ land in tmp_path
    rows = run_all.main(["--quick", "--apps", "imdb_sentiment"])
    out = capsys.readouterr().out
    assert "[1/1 imdb_sentiment | 0:00 elapsed] training on offline data, then exporting" in out
    assert "checking saved_models/imdb_sentiment/1 in a TensorFlow-only process" in out
    assert "imdb_sentiment | " in out and "done in " in out
    (app, path, seconds, labels, response), = rows
    assert app == "imdb_sentiment" and path.endswith("imdb_sentiment/1") and seconds > 0
    table = out[out.index("=== Sample predictions"):]
    assert len(response["predictions"]) == len(labels) == 2
    for label, answer in zip(labels, response["predictions"]):
        assert label in table and answer["label"] in ("positive", "negative")
    assert (tmp_path / path / "saved_model.pb").exists()
