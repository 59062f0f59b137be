"""The character LM end to end on tiny data: TBPTT order, export, sampling, serving, bad input, data."""

import base64
import json
import pathlib
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.char_lm import data, predict, serve, train
from apps.char_lm.config import Config
from apps.char_lm.model import build_model, load_trained, reset_states
from shared.runtime.config import parse_config
from shared.runtime.data import DataCorruptError, DataNotFoundError
from shared.runtime.grpc_server import grpc_server
from shared.runtime.serving import ExampleRequest, bare_tf_server, check_saved_model
from shared.runtime.serving_assets import BATCHING_FILE, read_warmup_file
from tests.conftest import quick_argv as _argv
from tests.conftest import real_data


@pytest.fixture(scope="module")
def quick_run(quick_runs):
    """One quick offline train-and-export (stdlib source; tests/conftest.py), shared by the tests that read it."""
    return quick_runs("char_lm")


@pytest.fixture(scope="module")
def served(quick_run):
    return tf.saved_model.load(quick_run[1]["export_path"])


# ------------------------------------------------------------------------------------ TBPTT batching
def test_tbptt_chunk_k_plus_1_continues_chunk_k_of_the_same_row():
    ids = np.arange(1000, dtype=np.int32)
    inputs, targets = data.tbptt_batches(ids, batch_size=4, seq_length=10)
    assert inputs.shape == targets.shape == (24, 4, 10)
    np.testing.assert_array_equal(targets, inputs + 1)  # each position predicts the next character
    for row in range(4):
        stream = np.concatenate([inputs[k, row] for k in range(24)])
        np.testing.assert_array_equal(stream, np.arange(row * 240, row * 240 + 240))
        for k in range(23):  # chunk k+1 starts right where chunk k ended
            assert inputs[k + 1, row, 0] == inputs[k, row, -1] + 1


def test_too_little_text_for_one_batch_is_a_clear_error():
    with pytest.raises(ValueError, match="--batch-size"):
        data.tbptt_batches(np.arange(50, dtype=np.int32), batch_size=4, seq_length=20)


def test_stateful_model_continues_the_stream_across_batches():
    """Feeding chunk 0 then chunk 1 to the stateful build equals feeding both at once, stateless."""
    config = types.SimpleNamespace(cell="lstm", layers=2, units=8, embedding_dim=4, dropout=0.0)
    keras.utils.set_random_seed(0)
    stateful = build_model(config, 12, batch_size=3)
    stateless = build_model(config, 12)
    stateless.set_weights(stateful.get_weights())
    ids = np.random.default_rng(0).integers(0, 12, size=(3, 20)).astype("int32")
    stateful(ids[:, :10])
    second = stateful(ids[:, 10:]).numpy()
    whole = stateless(ids).numpy()
    np.testing.assert_allclose(second, whole[:, 10:], rtol=1e-4, atol=1e-5)
    reset_states(stateful)  # a new epoch starts from a zero state again
    np.testing.assert_allclose(stateful(ids[:, :10]).numpy(), whole[:, :10], rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------ train + export
def test_quick_offline_path_writes_everything(quick_run):
    tmp_path, metrics = quick_run
    run = tmp_path / "run"
    for name in ("config.json", "vocabulary.json", "metrics.json", "history.csv", "checkpoints/best.weights.h5"):
        assert (run / name).exists(), name
    assert metrics["data"] == "sample" and metrics["epochs_completed"] == 2
    assert 0 < metrics["val_loss_nats"] < np.log(metrics["vocab_size"]) + 0.5
    assert metrics["bits_per_char"] == pytest.approx(metrics["val_loss_nats"] / np.log(2))
    assert metrics["export_path"].endswith("char_lm/1")
    text = metrics["bare_tf_check"][0]["outputs"][0]
    assert len(text) == 40
    # TF Serving replays the check requests as warm-up records, under this model's name.
    logs = read_warmup_file(metrics["export_path"])
    assert [(log.predict_log.request.model_spec.name, log.predict_log.request.model_spec.signature_name)
            for log in logs] == [("char_lm", "serving_default"), ("char_lm", "score")]
    assert not (pathlib.Path(metrics["export_path"]) / BATCHING_FILE).exists()  # scalar inputs: unbatched


def test_example_requests_are_run_alls_demo_then_the_export_checks(quick_run, served):
    """The first request is apps/run_all.py's demo; the rest are exactly what train.py checked and warmed."""
    requests = serve.example_requests("x" * 300)
    assert requests[0] == ExampleRequest(
        {"inputs": {"prompt": ["def ", "class "], "num_chars": 120, "temperature": 0.5}}, ["def ", "class "])
    assert [r.body for r in requests[1:]] == serve.check_requests("x" * 300)
    assert requests[-1].body == {"signature_name": "score", "instances": ["x" * 200]}
    assert len(serve.example_requests()) == 2  # without a text to score, no score request
    logs = read_warmup_file(quick_run[1]["export_path"])
    assert len(logs) == len(requests) - 1
    demo = requests[0].body["inputs"]
    texts = served.signatures["serving_default"](prompt=tf.constant(demo["prompt"]),
                                                 num_chars=tf.constant(demo["num_chars"]),
                                                 temperature=tf.constant(demo["temperature"]))["text"].numpy()
    assert [len(t.decode("utf-8")) for t in texts] == [120, 120]


def _generate(served, prompts, num_chars, temperature, top_k=0, seed=0):
    out = served.signatures["generate"](
        prompt=tf.constant(prompts), num_chars=tf.constant(num_chars, tf.int32),
        temperature=tf.constant(temperature, tf.float32), top_k=tf.constant(top_k, tf.int32),
        seed=tf.constant(seed, tf.int64))["text"].numpy()
    return [t.decode("utf-8") for t in out]


def test_generation_is_reproducible_with_a_seed(served):
    prompts = ["def ", "import "]
    first = _generate(served, prompts, 60, 1.0, seed=7)
    assert first == _generate(served, prompts, 60, 1.0, seed=7)
    assert first != _generate(served, prompts, 60, 1.0, seed=8)
    assert all(len(text) == 60 for text in first)
    default = served.signatures["serving_default"]
    args = dict(prompt=tf.constant(prompts), num_chars=tf.constant(30), temperature=tf.constant(1.0))
    np.testing.assert_array_equal(default(**args)["text"].numpy(), default(**args)["text"].numpy())


def test_temperature_towards_zero_is_greedy_decoding(quick_run, served):
    """The served text at temperature 0 (and 1e-5) equals argmax decoding with the Keras model."""
    _, vocabulary, model = load_trained(quick_run[0] / "run")
    prompt = "class Foo:\n    def "
    ids = list(data.encode(prompt, vocabulary))
    greedy = []
    for _ in range(25):  # the slow, obvious way: re-read the whole text for every new character
        logits = model(np.array([ids], np.int32)).numpy()[0, -1]
        logits[0] = -np.inf  # the generator never emits OOV
        ids.append(int(logits.argmax()))
        greedy.append(vocabulary[ids[-1] - 1])
    assert _generate(served, [prompt], 25, 0.0)[0] == "".join(greedy)
    assert _generate(served, [prompt], 25, 1e-5)[0] == "".join(greedy)


def test_top_k_one_is_greedy(served):
    prompt = ["for i in "]
    assert _generate(served, prompt, 20, 1.5, top_k=1, seed=3) == _generate(served, prompt, 20, 0.0)


def test_score_matches_the_keras_model(quick_run, served):
    _, vocabulary, model = load_trained(quick_run[0] / "run")
    text = "print('hello')\n"
    ids = data.encode(text, vocabulary)
    inputs = np.concatenate([data.encode("\n", vocabulary), ids[:-1]])[None]
    log_probs = tf.nn.log_softmax(model(inputs)).numpy()[0]
    expected = -log_probs[np.arange(len(ids)), ids].mean() / np.log(2)
    out = served.signatures["score"](text=tf.constant([text, ""]))
    assert out["bits_per_char"].numpy()[0] == pytest.approx(expected, rel=1e-4)
    assert list(out["num_chars"].numpy()) == [len(text), 0]
    assert out["bits_per_char"].numpy()[1] == 0.0  # nothing scored


def test_bad_inputs_are_bounded_in_a_bare_tf_process(quick_run):
    """Empty, unknown, invalid-UTF-8 and huge prompts; negative and huge num_chars; odd temperatures."""
    export = quick_run[1]["export_path"]
    prompts = ["", "ключ 漢字 🙂", "x" * 3000]
    invalid_utf8 = {"b64": base64.b64encode(b"\xff\xfe bad bytes").decode()}
    requests = [
        {"inputs": {"prompt": prompts, "num_chars": 30, "temperature": 1.0}},
        {"inputs": {"prompt": [invalid_utf8], "num_chars": 30, "temperature": 1.0}},
        {"inputs": {"prompt": ["def "], "num_chars": -5, "temperature": 1.0}},
        {"inputs": {"prompt": ["def "], "num_chars": 10 ** 9, "temperature": -3.0}},
        {"inputs": {"prompt": ["def "], "num_chars": 20, "temperature": 1e30}},
        # Two rows: texts x the longest read text may be at most MAX_SCORED_CHARS (2 x 20,000).
        {"signature_name": "score", "inputs": {"text": ["ключ", "x" * 21000]}},
        {"inputs": {"prompt": ["", ""], "num_chars": 5, "temperature": 1.0}},
        {"signature_name": "score", "inputs": {"text": [""]}},
        {"inputs": {"prompt": ["def "], "num_chars": "many", "temperature": 1.0}},
        {"inputs": {"prompt": ["def ", invalid_utf8], "num_chars": 3, "temperature": 1.0}},  # text and b64 mixed
    ]
    results = check_saved_model(export, requests)["results"]
    assert [r["status"] for r in results] == [200] * 8 + [400, 200]
    assert [len(t) for t in results[9]["response"]["outputs"]] == [3, 3]
    assert [len(t) for t in results[6]["response"]["outputs"]] == [5, 5]  # a batch of empty prompts
    assert results[7]["response"]["outputs"] == {"bits_per_char": [0.0], "num_chars": [0]}
    texts = results[0]["response"]["outputs"] + results.pop(1)["response"]["outputs"]
    assert len(texts) == 4 and all(len(t) == 30 for t in texts)
    assert results[1]["response"]["outputs"] == [""]
    assert len(results[2]["response"]["outputs"][0]) == serve.MAX_NEW_CHARS
    assert len(results[3]["response"]["outputs"][0]) == 20
    scores = results[4]["response"]["outputs"]
    assert scores["num_chars"] == [4, serve.MAX_SCORE_CHARS]
    assert all(np.isfinite(scores["bits_per_char"]))


def test_predict_locally_and_over_rest_and_grpc(quick_run, capsys):
    export = quick_run[1]["export_path"]
    argv = ["--model-dir", export, "def ", "--num-chars", "30", "--seed", "5", "--temperature", "0.9"]
    local = predict.main(argv)
    assert len(local["outputs"][0]) == 30
    with bare_tf_server(export, "char_lm") as url:
        remote = predict.main(argv[2:] + ["--server", url])
        scored = predict.main(["--server", url, "--score", "import os\n"])
    with grpc_server(export, "char_lm") as target:  # scalar int32/float32 knobs, typed by the signature
        over_grpc = predict.main(argv[2:] + ["--server", f"grpc://{target}"])
        scored_over_grpc = predict.main(["--server", f"grpc://{target}", "--score", "import os\n"])
    assert remote == local == over_grpc
    assert scored["outputs"]["num_chars"] == [10]
    assert scored_over_grpc["outputs"]["num_chars"] == [10]
    assert scored_over_grpc["outputs"]["bits_per_char"] == pytest.approx(scored["outputs"]["bits_per_char"])
    assert "def " in capsys.readouterr().out


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_interrupted_training_resumes_from_the_last_epoch(tmp_path):
    argv = _argv(tmp_path, "--sample", "--epochs", "2", "--no-check-export", "--max-chars", "20000")
    with pytest.raises(KeyboardInterrupt):
        train.main(argv, extra_callbacks=[_Interrupt()])
    metrics = train.main(argv + ["--resume"])
    assert [int(row["epoch"]) for row in metrics["history"]] == [0, 1]
    # The run's training time adds up both processes (the interrupted one recorded its epoch).
    times = json.loads((tmp_path / "run" / "train_seconds.json").read_text())
    assert len(times) == 2 and metrics["train_seconds"] == pytest.approx(sum(times.values()))
    train.main(argv)  # a fresh start forgets the earlier processes' time
    assert len(json.loads((tmp_path / "run" / "train_seconds.json").read_text())) == 1


# ---------------------------------------------------------------------------------------------- data
def test_missing_data_names_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(DataNotFoundError, match="--sample"):
        train.main(_argv(tmp_path, "--data-dir", str(tmp_path / "nowhere")))


def test_gutenberg_header_and_footer_are_stripped():
    book = ("The Project Gutenberg eBook of X\nlicence\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n"
            "Chapter 1\nIt was a dark night.\n\n   *** END OF THE PROJECT GUTENBERG EBOOK X ***\nmore licence\n")
    assert data.strip_gutenberg(book) == "Chapter 1\nIt was a dark night.\n"
    with pytest.raises(DataCorruptError, match="START OF"):
        data.strip_gutenberg("no markers here")


def test_sample_corpus_is_real_python_source():
    text = data.load_sample(50000)
    assert len(text) == 50000 and "def " in text and "import " in text


def test_real_corpora_load_as_documented():
    """Real data (skips without ../shared/data)."""
    shakespeare = data.load_corpus("tinyshakespeare", str(real_data("tinyshakespeare/input.txt").parent))
    assert len(shakespeare) == 1115394 and len(set(shakespeare)) == 65
    verne = data.load_corpus("mysterious_island", str(real_data("mysterious_island/1268-0.txt").parent))
    assert verne.lstrip().startswith("THE MYSTERIOUS ISLAND") and "GUTENBERG" not in verne[-5000:]
    assert 1_100_000 < len(verne) < 1_113_000


def test_help_lists_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_config(Config, ["--help"])
    assert exit_.value.code == 0
    assert "--seq-length" in capsys.readouterr().out


def test_interpretability_features_and_unit_ranking():
    from apps.char_lm.interpret import rank_units, text_features

    text = "f(a, 'b')\nx = \"don't\"\n"
    features = text_features(text)
    assert list(features["bracket_depth"][:3]) == [0, 1, 1] and features["bracket_depth"][9] == 0
    assert features["inside_quotes"][text.index("b")] == 1 and features["inside_quotes"][text.index("t\"")] == 1
    assert features["position_in_line"][text.index("\n")] == 0 and features["position_in_line"][2] == 3
    units = np.stack([features["bracket_depth"], np.zeros(len(text)), -features["position_in_line"]], axis=1)
    ranking = rank_units(units, features, top=2)
    assert ranking["bracket_depth"][0] == {"unit": 0, "correlation": pytest.approx(1.0)}
    assert ranking["position_in_line"][0]["unit"] == 2
    assert ranking["position_in_line"][0]["correlation"] == pytest.approx(-1.0)
