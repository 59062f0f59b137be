import gzip
import json

import pytest

from shared.runtime.data import DataCorruptError, DataNotFoundError, check_counts, read_jsonl_gz, resolve_data_dir


def test_data_dir_must_exist_and_hold_the_files(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        resolve_data_dir("demo", tmp_path / "missing", ["data.txt"])
    with pytest.raises(DataNotFoundError, match="data.txt"):
        resolve_data_dir("demo", tmp_path, ["data.txt"])
    (tmp_path / "data.txt").write_text("x")
    assert resolve_data_dir("demo", tmp_path, ["data.txt"]) == tmp_path


def test_failed_download_names_both_ways_out(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def no_network(cache):
        raise OSError("network unreachable")

    with pytest.raises(DataNotFoundError) as error:
        resolve_data_dir("demo", None, ["data.txt"], download=no_network)
    assert "--data-dir" in str(error.value) and "--sample" in str(error.value)
    assert "network unreachable" in str(error.value)


def test_download_fills_the_cache_once(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    calls = []

    def download(cache):
        calls.append(cache)
        (cache / "data.txt").write_text("x")

    first = resolve_data_dir("demo", None, ["data.txt"], download=download)
    second = resolve_data_dir("demo", None, ["data.txt"], download=download)
    assert first == second and len(calls) == 1


def test_corrupt_files_raise_a_clear_error(tmp_path):
    truncated = tmp_path / "cut.jsonl.gz"
    whole = gzip.compress(b"".join(json.dumps({"a": i}).encode() + b"\n" for i in range(5000)))
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataCorruptError, match="cut.jsonl.gz"):
        read_jsonl_gz(truncated)
    bad_json = tmp_path / "bad.jsonl.gz"
    bad_json.write_bytes(gzip.compress(b'{"a": 1}\n{"a": \n'))
    with pytest.raises(DataCorruptError, match="line 2"):
        read_jsonl_gz(bad_json)
    good = tmp_path / "good.jsonl.gz"
    good.write_bytes(gzip.compress(json.dumps({"a": 1}).encode() + b"\n"))
    assert read_jsonl_gz(good) == [{"a": 1}]


def test_counts_of_a_known_dataset_are_checked_unless_partial():
    full = {"train reviews": 25000, "test reviews": 25000}
    check_counts("imdb.gz", dict(full), full, "IMDb dataset", partial=False)
    with pytest.raises(ValueError, match=r"imdb.gz holds 25,000 train reviews \+ 5,000 test reviews, but the full "
                                         r"IMDb dataset has 25,000 train reviews \+ 25,000 test reviews "
                                         r"\(20,000 test reviews missing\).*incomplete.*--partial-data"):
        check_counts("imdb.gz", {"train reviews": 25000, "test reviews": 5000}, full, "IMDb dataset", partial=False)
    with pytest.raises(DataCorruptError, match="10 sentence pairs more than expected.*not the release"):
        check_counts("spa.txt", {"sentence pairs": 110}, {"sentence pairs": 100}, "spa-eng corpus", partial=False)
    check_counts("imdb.gz", {"train reviews": 3, "test reviews": 1}, full, "IMDb dataset", partial=True)
