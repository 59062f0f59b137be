"""A short load test of one small export: no errors, bounded memory, results written as documented."""

import json

import pytest

from benchmarks import load_test


def test_short_load_test_of_the_sentiment_export(quick_runs, tmp_path):
    export = quick_runs("imdb_sentiment")[1]["export_path"]
    output = tmp_path / "load_test.json"
    report = load_test.main(["--apps", "imdb_sentiment", "--models", f"imdb_sentiment={export}", "--seconds", "3",
                             "--threads", "4", "--warmup-seconds", "1", "--output", str(output)])
    assert json.loads(output.read_text()) == report
    result = report["results"]["imdb_sentiment"]
    assert result["requests"] > 0 and result["errors"] == 0 and result["statuses"] == {"200": result["requests"]}
    assert result["server_alive"] and result["memory_bounded"], result["rss_mib"]
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"] <= result["latency_ms"]["max"]
    assert result["requests_per_second"] > 0 and not result["quick_trained_export"]
    assert report["trained_quick_exports"] == []


def test_example_requests_are_single_inputs_the_exports_accept(quick_runs):
    export = quick_runs("imdb_sentiment")[1]["export_path"]
    requests = load_test.example_requests("imdb_sentiment", load_test.latest_version(export), count=5)
    assert len(requests) == 5 and all(len(request["instances"]) == 1 for request in requests)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="APP=PATH"):
        load_test.main(["--models", "nonsense"])
    with pytest.raises(ValueError, match="--threads"):
        load_test.main(["--models", "imdb_sentiment=x", "--threads", "0"])
