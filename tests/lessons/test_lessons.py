"""Every lesson's quick mode runs end to end and its JSON and picture say what the lesson claims."""

import json

import numpy as np
import pytest

from lessons import exploding_gradients, long_range_memory, masking, teacher_forcing, truncated_bptt


def run(module, tmp_path, *extra):
    results = module.main(["--quick", "--results-dir", str(tmp_path), "--images-dir", str(tmp_path), *extra])
    record = json.loads((tmp_path / f"{module.NAME}.json").read_text())
    assert (tmp_path / f"{module.NAME}.png").stat().st_size > 5000
    assert record["machine"]["cores"] >= 1 and len(record["machine"]["load_average_1_5_15"]) == 3
    return results, record


def test_parameter_budget_formula_matches_keras():
    for cell in long_range_memory.CELLS:
        for units in (5, 31):
            model = long_range_memory.build(cell, units, symbols=4)
            assert long_range_memory.parameter_count(cell, units, 4) == model.count_params()


def test_keep_bias_opens_the_gate_that_keeps_the_state():
    lstm = long_range_memory.build("lstm", 6, 4, keep_bias=3.0).get_layer("lstm").cell.bias.numpy()
    assert np.all(lstm[6:12] == 3.0) and np.all(lstm[:6] == 0.0)
    gru = long_range_memory.build("gru", 6, 4, keep_bias=3.0).get_layer("gru").cell.bias.numpy()
    assert np.all(gru[0, :6] == 3.0) and np.all(gru[0, 6:] == 0.0)


def test_long_range_memory_quick(tmp_path):
    _, record = run(long_range_memory, tmp_path)
    params = [cell["params"] for cell in record["cells"].values()]
    assert max(params) <= 1.1 * min(params)  # the same budget for every cell
    probed = str(record["gradient_probed_at_length"])
    for cell in record["cells"].values():
        assert set(cell["by_length"]) == {"4", "8"}
        row = cell["by_length"][probed]
        assert len(row["grad_norm_by_steps_back_at_init"]) == int(probed)
        assert 0.0 <= row["test_accuracy"] <= 1.0
    # A vanilla RNN's gradient shrinks with the steps it has to travel back, already at initialisation.
    rnn = np.array(record["cells"]["rnn"]["by_length"][probed]["grad_norm_by_steps_back_at_init"])
    assert rnn[-1] < rnn[1]


def test_exploding_gradients_quick(tmp_path):
    _, record = run(exploding_gradients, tmp_path)
    runs = record["runs"]
    assert set(runs) == {"none", "clipnorm", "global norm"}
    # Same weights, same first batch: the first gradient is the same whatever clips it afterwards.
    firsts = [r["grad_norm_per_step"][0] for r in runs.values()]
    assert max(firsts) == pytest.approx(min(firsts), rel=1e-4)
    assert firsts[0] > 1.0  # the quick model starts exploding, so clipping has work to do
    # SGD's step is learning rate x gradient: unclipped it follows the explosion, clipped by global norm it
    # never exceeds learning rate x the bound.
    bound = record["flags"]["learning_rate"] * record["clip_bound"]
    learning_rate = record["flags"]["learning_rate"]
    assert runs["none"]["step_norm_per_step"][0] == pytest.approx(learning_rate * firsts[0], rel=1e-3)
    assert runs["global norm"]["max_step_norm"] <= bound * (1 + 1e-3)
    assert runs["none"]["max_step_norm"] > 10 * runs["global norm"]["max_step_norm"]


def test_teacher_forcing_quick(tmp_path):
    _, record = run(teacher_forcing, tmp_path)
    forced, free, on_track = (np.array(record[k]) for k in ("teacher_forced", "free_running", "still_on_track"))
    assert len(forced) == len(free) == record["horizon"] == 8
    # At the first position after the prompt both read the same true history: the same prediction.
    assert free[0] == forced[0] == on_track[0]
    assert np.all(np.diff(on_track) <= 0)  # a row that made a mistake never gets back on track
    assert np.all(free >= on_track - 1e-9)


def test_truncated_bptt_quick(tmp_path):
    _, record = run(truncated_bptt, tmp_path)
    assert [r["chunk"] for r in record["runs"]] == [10, 40]
    for r in record["runs"]:
        assert r["updates"] >= 1 and r["chars_per_cpu_second"] > 0 and np.isfinite(r["val_loss_nats"])
        assert r["train_chars"] == r["updates"] * 32 * r["chunk"]


def test_masking_quick(tmp_path):
    _, record = run(masking, tmp_path)
    masked, unmasked = record["models"]["masked"], record["models"]["unmasked"]
    # With the mask, extra padding changes nothing; without it, the padding is read as input.
    assert masked["max_logit_change"]["60"] < 1e-4
    assert unmasked["max_logit_change"]["60"] > 1e-3
    assert masked["by_width"]["20"]["accuracy"] == masked["by_width"]["60"]["accuracy"]


def test_bad_arguments_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="longest sequence"):
        masking.main(["--widths", "5", "--results-dir", str(tmp_path), "--images-dir", str(tmp_path)])
    with pytest.raises(ValueError, match="length >= 2"):
        long_range_memory.main(["--lengths", "1", "--results-dir", str(tmp_path), "--images-dir", str(tmp_path)])


def test_beam_search_draws_the_measured_sweep(tmp_path):
    from lessons import beam_search

    _, record = run(beam_search, tmp_path)
    sweep = json.loads(beam_search.SOURCE.read_text())["settings"]
    greedy = next(s for s in sweep if s["decoder"] == "greedy" and not s["no_repeat_ngram"])
    for points in record["curves"].values():
        assert points[0]["beam_size"] == 1 and points[0]["test_bleu4"] == round(greedy["test_bleu"]["bleu4"], 4)
        assert [p["beam_size"] for p in points] == sorted(p["beam_size"] for p in points)
    with pytest.raises(ValueError, match="not found"):
        beam_search.main(["--source", str(tmp_path / "missing.json"), "--results-dir", str(tmp_path)])
