"""The translator end to end on tiny data: teacher forcing, masks, in-graph decoding, export, serving."""

import base64
import gzip
import json
import pathlib
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from apps.translator import attention_map, data, predict, serve, split, train
from apps.translator.data import make_vectorizers
from apps.translator.model import build_model
from apps.translator.serve import Decoders
from shared.runtime.data import DataCorruptError, DataNotFoundError
from shared.modeling.masking import MaskedSparseCategoricalAccuracy, masked_sparse_crossentropy
from shared.runtime.grpc_server import grpc_server
from shared.runtime.serving import bare_tf_server, check_saved_model
from shared.runtime.serving_assets import BATCHING_FILE, read_warmup_file
from shared.modeling.casing import TrueCaser, learn_casing
from shared.modeling.teacher_forcing import shift_for_teacher_forcing
from shared.modeling.text import END, PAD, START, UNK, frame_targets
from tests.conftest import quick_argv as _argv
from tests.conftest import real_data


@pytest.fixture(scope="module")
def quick_run(quick_runs):
    """One quick offline train-and-export (Spanish -> English; tests/conftest.py), shared by the tests that read it."""
    return quick_runs("translator")


def _tiny(attention="luong", cell="gru", seed=0):
    """A small untrained model with vectorizers from the sample grammar, and its Decoders."""
    keras.utils.set_random_seed(seed)
    pairs = data.sample_pairs(300, seed=1)
    source_vectorizer, target_vectorizer = make_vectorizers(pairs.english, pairs.spanish, 200, 200)
    config = types.SimpleNamespace(embedding_dim=12, units=10, cell=cell, attention=attention, dropout=0.0,
                                   embedding_dropout=0.0, max_source_tokens=40, max_output_tokens=12,
                                   beam_size=3, length_penalty=1.0)
    model = build_model(config, source_vectorizer.vocabulary_size(), target_vectorizer.vocabulary_size())
    caser = TrueCaser(learn_casing(pairs.spanish))
    return pairs, model, Decoders(source_vectorizer, target_vectorizer, model, config, caser)


def test_quick_offline_path_writes_everything(quick_run):
    tmp_path, metrics = quick_run
    run = tmp_path / "run"
    for name in ("config.json", "metrics.json", "history.csv", "checkpoints/best.weights.h5"):
        assert (run / name).exists(), name
    assert 0.0 <= metrics["bleu_greedy"] <= 100.0 and 0.0 <= metrics["bleu_beam"] <= 100.0
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["train_seconds"] > 0
    assert metrics["export_path"].endswith("translator/1")
    saved = json.loads((tmp_path / "export/translator/1/assets.extra/config.json").read_text())
    assert saved["direction"] == "es-en" and saved["sample"]
    # TF Serving replays the check requests as warm-up records, under this model's name.
    logs = read_warmup_file(metrics["export_path"])
    assert [(log.predict_log.request.model_spec.name, log.predict_log.request.model_spec.signature_name)
            for log in logs] == [("translator", "serving_default")]
    assert (pathlib.Path(metrics["export_path"]) / BATCHING_FILE).exists()  # every input is a batch


def test_teacher_forcing_shifts_targets_by_one():
    framed = frame_targets(tf.ragged.constant([[7, 8, 9], [5]], dtype=tf.int64), max_tokens=10)
    np.testing.assert_array_equal(framed, [[START, 7, 8, 9, END], [START, 5, END, PAD, PAD]])
    decoder_input, label = shift_for_teacher_forcing(framed)
    # The decoder sees the true previous token and must predict the next one; padding stays padding.
    np.testing.assert_array_equal(decoder_input, [[START, 7, 8, 9], [START, 5, PAD, PAD]])
    np.testing.assert_array_equal(label, [[7, 8, 9, END], [5, END, PAD, PAD]])
    # The same holds for every row of a real batch from make_dataset.
    (source, decoder_input), label = next(iter(data.make_dataset(
        tf.constant([[4, 5], [6, 0]], tf.int64), framed, batch_size=2, training=False)))
    assert source.shape == (2, 2)
    np.testing.assert_array_equal(decoder_input[:, 1:][label[:, 1:] != 0], label[:, :-1][label[:, 1:] != 0])


def test_masks_exclude_padding_from_loss_accuracy_and_encoder():
    label = tf.constant([[5, 6, 0, 0]])
    logits = tf.random.stateless_normal([1, 4, 9], seed=[1, 2])
    scrambled = tf.concat([logits[:, :2], 100.0 * tf.random.stateless_normal([1, 2, 9], seed=[3, 4])], axis=1)
    loss = masked_sparse_crossentropy(pad_id=0)
    assert float(loss(label, logits)) == pytest.approx(float(loss(label[:, :2], logits[:, :2])), rel=1e-6)
    assert float(loss(label, logits)) == pytest.approx(float(loss(label, scrambled)), rel=1e-6)
    accuracy = MaskedSparseCategoricalAccuracy(pad_id=0)
    accuracy.update_state(label, tf.one_hot([[5, 1, 5, 5]], 9))
    assert float(accuracy.result()) == 0.5  # one of the two real tokens; padding is never counted
    # Extra source padding changes no logit: the encoder and attention skip masked steps.
    _, model, _ = _tiny()
    source, decoder_input = tf.constant([[4, 5, 6]], tf.int64), tf.constant([[START, 7, 8]], tf.int64)
    padded = tf.pad(source, [[0, 0], [0, 4]])
    np.testing.assert_allclose(model((source, decoder_input)), model((padded, decoder_input)), atol=1e-5)


@pytest.mark.parametrize("attention, cell", [("luong", "gru"), ("bahdanau", "lstm"), ("none", "gru")])
def test_in_graph_greedy_equals_a_step_by_step_reference(attention, cell):
    pairs, model, decoders = _tiny(attention, cell)
    texts = pairs.english[:6] + ["", "zebra quokka"]
    tokens, _, _, _ = tf.function(decoders.greedy_ids)(tf.constant(texts))
    ids, _, _, memory, mask, states, bound = decoders._encode(tf.constant(texts))
    for row in range(len(texts)):  # Python loop, one row at a time, plain numpy argmax
        state, token, expected = [s[row:row + 1] for s in states], START, []
        for _ in range(int(bound)):
            logits, state, _ = model.step(tf.constant([token]), state, memory[row:row + 1], mask[row:row + 1])
            logits = logits.numpy()[0]
            logits[[PAD, START]] = -np.inf
            token = int(np.argmax(logits))
            expected.append(token)
            if token == END:
                break
        got = [t for t in tokens.numpy()[row].tolist()]
        assert got[:len(expected)] == expected and all(t == PAD for t in got[len(expected):]), row
    # Step-by-step decoding with the true tokens reproduces the teacher-forced logits.
    decoder_input = tf.constant([[START, 9, 10, 11]], tf.int64)
    forced = model((ids[:1], decoder_input)).numpy()[0]
    state = [s[:1] for s in states]
    for t in range(4):
        logits, state, _ = model.step(tf.cast(decoder_input[:, t], tf.int32), state, memory[:1], mask[:1])
        np.testing.assert_allclose(logits.numpy()[0], forced[t], atol=1e-4)


def test_translations_are_cased_and_unknown_words_copied_as_written():
    """ids -> text: usual forms from the training targets, a capital to start, [UNK] copies keep their case."""
    pairs, model, decoders = _tiny()
    vocabulary = [w.decode() for w in decoders.vocabulary.numpy()]
    ids = [vocabulary.index(w) for w in ("ella", "tiene", "dos", "perros", ".", "yo", "veo")]
    tokens = tf.constant([[*ids, UNK, END, PAD]])
    words = tf.constant([["She", "has", "two", "dogs", ".", "I", "see", "Tokyo", ".", ""]])
    attention = tf.one_hot([[0, 1, 2, 3, 4, 5, 6, 7, 8, 8]], 10)  # the [UNK] looks at "Tokyo"
    text, _ = decoders._finish(tokens, attention, words, tf.constant([False]))
    assert text.numpy()[0].decode() == "Ella tiene dos perros. Yo veo Tokyo"


def test_beam_of_one_equals_greedy_on_the_model():
    pairs, model, decoders = _tiny()
    decoders.config.beam_size = 1
    texts = tf.constant(pairs.english[:5])
    assert tf.function(decoders.beam)(texts)["translation"].numpy().tolist() == \
        tf.function(decoders.greedy)(texts)["translation"].numpy().tolist()


def test_bad_inputs_get_bounded_answers_in_a_bare_tf_process(quick_run):
    """Empty, blank, non-UTF-8, unknown words, 5,000 words: all answered, bounded, none crashes."""
    export = quick_run[1]["export_path"]
    awkward = ["", "   ", {"b64": base64.b64encode(b"gato \xff\xfe negro").decode()}, "zxqv blorft wug",
               "perro " * 5000, "¿¡!?", "Yo veo el gato negro."]
    requests = [{"instances": awkward}, {"instances": awkward, "signature_name": "greedy"},
                {"instances": []}, {"instances": [1, 2]}]
    report = check_saved_model(export, requests)
    for result in report["results"][:2]:
        assert result["status"] == 200, result
        answers = result["response"]["predictions"]
        assert len(answers) == len(awkward) and answers[0] == "" and answers[1] == ""
        assert all(isinstance(a, str) and len(a.split()) <= 60 for a in answers)
    assert report["results"][2]["status"] == 200 and report["results"][2]["response"]["predictions"] == []
    assert report["results"][3]["status"] == 400  # numbers are not text: a clear error, not a crash
    assert set(report["signatures"]) == {"serving_default", "greedy", "attention"}


def test_attention_signature_and_map(quick_run, tmp_path):
    export = quick_run[1]["export_path"]
    source, target, weights, translation = attention_map.attention_of(export, "Ella tiene dos perros.")
    assert source == ["Ella", "tiene", "dos", "perros", "."]  # as written: what an [UNK] copy writes
    assert weights.shape == (len(target), len(source))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-4)  # a softmax over real source words
    png = attention_map.main(["Ella tiene dos perros.", "--model-dir", export, "--out", str(tmp_path / "a.png")])
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_example_requests_show_the_demo_first_and_check_the_export(quick_run):
    """serve.example_requests: run_all's demo (sample English with its true Spanish) first, then the check."""
    export = quick_run[1]["export_path"]
    pairs = data.sample_pairs(2, seed=2024)
    demo, check = serve.example_requests(check_sentence="Yo veo el gato.")
    assert serve.example_requests() == [demo]
    assert demo.body == {"instances": pairs.english}
    assert demo.shows == [f"{english} -> truly: {spanish}" for english, spanish in zip(pairs.english, pairs.spanish)]
    assert check.body == {"instances": ["Yo veo el gato.", ""]}
    report = check_saved_model(export, [demo.body, check.body])
    for request, result in zip((demo, check), report["results"]):
        assert result["status"] == 200, result
        answers = result["response"]["predictions"]
        assert len(answers) == len(request.shows) and all(isinstance(a, str) for a in answers)
    assert report["results"][1]["response"]["predictions"][1] == ""  # an empty sentence is answered ""


def test_predict_locally_and_over_rest_and_grpc(quick_run, capsys):
    export = quick_run[1]["export_path"]
    local = predict.main(["--model-dir", export, "Yo veo el gato.", "Ellos tienen un coche."])
    assert len(local["predictions"]) == 2
    with bare_tf_server(export, "translator") as url:
        remote = predict.main(["--server", url, "Yo veo el gato.", "Ellos tienen un coche."])
        greedy = predict.main(["--server", url, "--decoder", "greedy", "Yo veo el gato."])
    with grpc_server(export, "translator") as target:
        over_grpc = predict.main(["--server", f"grpc://{target}", "Yo veo el gato.", "Ellos tienen un coche."])
        greedy_over_grpc = predict.main(["--server", f"grpc://{target}", "--decoder", "greedy", "Yo veo el gato."])
    assert remote == local == over_grpc and len(greedy["predictions"]) == 1
    assert greedy_over_grpc == greedy
    assert "Yo veo el gato." in capsys.readouterr().out


class _Interrupt(keras.callbacks.Callback):
    """Simulates a killed job: raises after the first epoch, once its backup is written."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


@pytest.mark.slow
def test_interrupted_training_resumes_from_the_last_epoch(tmp_path):
    """Slow only because it trains and exports twice; the resume machinery is shared (shared/runtime/training.py)."""
    argv = _argv(tmp_path, "--sample", "--epochs", "2", "--no-check-export", "--max-examples", "128")
    with pytest.raises(KeyboardInterrupt):
        train.main(argv, extra_callbacks=[_Interrupt()])
    assert (tmp_path / "run" / "backup").exists()
    metrics = train.main(argv + ["--resume"])
    assert [int(row["epoch"]) for row in metrics["history"]] == [0, 1], "an epoch was lost or repeated"
    assert not (tmp_path / "run" / "backup").exists()


def test_time_budget_stops_training_after_the_batch_that_crosses_it():
    budget, unlimited = train.TimeBudget(minutes=0.0), train.TimeBudget(minutes=None)
    for callback in (budget, unlimited):
        callback.set_model(types.SimpleNamespace(stop_training=False))
        callback.on_train_batch_end(0)
    assert budget.model.stop_training and not unlimited.model.stop_training


def test_sample_grammar_agrees_and_split_keeps_sentences_apart():
    pairs = data.sample_pairs(500, seed=3)
    assert data.sample_pairs(500, seed=3) == pairs  # deterministic
    for english, spanish in zip(pairs.english, pairs.spanish):
        if " two red cats" in english:
            assert "dos gatos rojos" in spanish
        if english.startswith("She does not"):
            assert spanish.startswith("Ella no ")
    splits = data.split(pairs, seed=0, strict=False)
    assert sorted(zip(*splits["test_random"])) == sorted(zip(*splits["test"]))
    seen = [set(splits[name].english) for name in ("train", "validation", "test")]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sum(len(splits[name].english) for name in ("train", "validation", "test")) == 500


def test_strict_split_keeps_near_duplicates_out_of_test_and_validation():
    """One word changed, a contraction or another name is a near duplicate; a new sentence is not."""
    train_english = ["I was swimming in the river.", "I am not hungry.", "Tom is a teacher.",
                     "Mary visited Tom.", "Tom lives in Japan."]
    train_spanish = ["Yo estaba nadando en el río.", "No tengo hambre.", "Tom es profesor.",
                     "Mary visitó a Tom.", "Tom vive en Japón."]
    candidates = [("I was swimming in the lake.", "Yo estaba nadando en el lago."),  # a word changed
                  ("I'm not hungry.", "Yo no tengo hambre."),                         # a contraction
                  ("John is a teacher.", "John es profesor."),                        # another name
                  ("Nobody understands what happened yesterday.", "Nadie entiende lo que pasó ayer."),
                  ("Where did you put the keys?", "¿Dónde pusiste las llaves?")]
    english = train_english + [e for e, _ in candidates]
    spanish = train_spanish + [s for _, s in candidates]
    keys = split.pair_keys(english, spanish)
    trained = set().union(*keys[:5])
    near = [not trained.isdisjoint(k) for k in keys[5:]]
    assert near == [True, True, True, False, False]
    # On the real shape of the cut: every strict test pair is far from every training pair, on both sides.
    pairs = data.Pairs(english * 3, spanish * 3)
    parts = split.assign(pairs.english, pairs.spanish, seed=0, validation=0.2, test=0.2)
    assert set(parts) <= {"train", "validation", "test", "test_near", "dropped"}
    train_keys = set().union(*(k for k, part in zip(split.pair_keys(pairs.english, pairs.spanish), parts)
                               if part == "train"))
    for k, part in zip(split.pair_keys(pairs.english, pairs.spanish), parts):
        assert (part in ("test", "validation")) <= train_keys.isdisjoint(k)


def test_missing_and_corrupt_data_give_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(DataNotFoundError, match="--sample"):
        train.main(_argv(tmp_path, "--data-dir", str(tmp_path / "nowhere")))
    corrupt = tmp_path / "spa"
    corrupt.mkdir()
    (corrupt / "spa.txt.gz").write_bytes(b"this is not gzip")
    with pytest.raises(DataCorruptError, match="spa.txt.gz"):
        train.main(_argv(tmp_path, "--data-dir", str(corrupt)))
    with gzip.open(corrupt / "spa.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("Go.\tVe.\nno tab here\n")
    with pytest.raises(DataCorruptError, match="line 2"):
        data.load_real(str(corrupt))
    with gzip.open(corrupt / "spa.txt.gz", "wt", encoding="utf-8") as handle:  # valid, but not the whole corpus
        handle.write("Go.\tVe.\nRun!\t¡Corre!\n")
    with pytest.raises(DataCorruptError, match=r"spa.txt.gz holds 2 sentence pairs.*118,964.*--partial-data"):
        data.load_real(str(corrupt))
    assert data.load_real(str(corrupt), partial=True).english == ["Go.", "Run!"]


def test_real_corpus_loads_with_the_documented_counts():
    """Real data (skips without ../shared/data): 118,964 pairs, 102,904 distinct English sentences."""
    pairs = data.load_real(str(real_data("spa_eng/spa.txt.gz").parent))
    assert len(pairs.english) == 118964 and len(set(pairs.english)) == 102904
    assert (pairs.english[0], pairs.spanish[0]) == ("Go.", "Ve.")
    splits = data.split(pairs, seed=1337)
    assert 5000 < len(splits["test_random"].english) < 7000  # 5% of the English sentences, all their pairs
    assert 3000 < len(splits["test"].english) < 4000  # ~55% of them are not near duplicates of training
    assert set(splits["test"].english) <= set(splits["test_random"].english)
    assert not set(splits["train"].english) & set(splits["test_random"].english)


@pytest.mark.slow
def test_real_data_short_training_beats_chance(tmp_path):
    """Trains es-en on 6,000 real pairs for two epochs; BLEU well above zero on 300 test pairs."""
    directory = real_data("spa_eng/spa.txt.gz").parent
    metrics = train.main(["--data-dir", str(directory), "--direction", "es-en", "--epochs", "2",
                          "--max-examples", "6000", "--eval-examples", "300", "--units", "64",
                          "--embedding-dim", "64", "--output-dir", str(tmp_path / "run"),
                          "--export-dir", str(tmp_path / "export"), "--no-check-export"])
    assert metrics["bleu_greedy"] > 1.0
