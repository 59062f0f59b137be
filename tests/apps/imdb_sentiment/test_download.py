"""The IMDb download path: TensorFlow Datasets' imdb_reviews, written as the file --data-dir reads.

No network here: `tfds.testing.mock_data` (TensorFlow Datasets' own testing tool) serves generated records
with imdb_reviews' real feature spec in place of the download, so the conversion is what is tested.
"""

import pytest

from apps.imdb_sentiment import data
from shared.runtime.data import DataNotFoundError

tfds = pytest.importorskip("tensorflow_datasets")


def test_tfds_records_become_the_data_dir_layout(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        path = data.download_with_tfds(tmp_path)
    assert path == tmp_path / "imdb_reviews.jsonl.gz" and not list(tmp_path.glob("*.partial"))
    with pytest.raises(ValueError, match="25,000"):  # six reviews a side are not the real dataset...
        data.load_real(str(tmp_path))
    splits = data.load_real(str(tmp_path), partial=True)  # ...unless asked for (--partial-data)
    assert {split: len(reviews.texts) for split, reviews in splits.items()} == {"train": 6, "test": 6}
    assert set(splits["test"].labels.tolist()) <= {0, 1} and all(isinstance(t, str) for t in splits["test"].texts)


def test_offline_the_download_falls_back_to_the_archive_and_says_both_failed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    with pytest.raises(DataNotFoundError, match="--sample"):
        data.load_real(None)
    assert "TensorFlow Datasets could not provide imdb_reviews" in capsys.readouterr().out
