"""Frame and segment scores on hand-made label sequences, checked against values worked out by hand."""

import math

import pytest

from apps.video_tagger import metrics


def test_segments_are_runs_of_equal_labels():
    assert metrics.segments([1, 1, 2, 2, 2, 1]) == [(1, 0, 2), (2, 2, 5), (1, 5, 6)]
    assert metrics.segments([]) == []


def test_frame_accuracy_counts_frames_of_all_videos():
    assert metrics.frame_accuracy([[1, 1, 2], [3]], [[1, 2, 2], [1]]) == pytest.approx(2 / 4)


def test_per_class_f1():
    f1 = metrics.per_class_f1([[1, 1, 2, 2]], [[1, 2, 2, 2]], classes=[1, 2, 3])
    assert f1[1] == pytest.approx(2 * 1 / (1 + 2))      # 1 hit, 1 claimed, 2 actual
    assert f1[2] == pytest.approx(2 * 2 / (3 + 2))      # 2 hits, 3 claimed, 2 actual
    assert math.isnan(f1[3])                            # never present, never claimed


def test_edit_score_punishes_flicker_not_boundary_shifts():
    truth = [[1] * 5 + [2] * 5]
    assert metrics.edit_score(truth, [[1] * 3 + [2] * 7]) == 100.0          # same order, shifted boundary
    flicker = [[1, 1, 2, 1, 1, 2, 2, 2, 2, 2]]                              # segments 1 2 1 2: 2 insertions
    assert metrics.edit_score(truth, flicker) == pytest.approx(100 * (1 - 2 / 4))


def test_f1_at_50_needs_half_overlap_and_one_match_per_true_segment():
    truth = [[1] * 10 + [2] * 10]
    assert metrics.segment_f1(truth, truth) == 1.0
    # Predicted 1 covers frames 0-15: IoU with true 1 = 10/16 >= .5 (hit); predicted 2 = frames 16-19:
    # IoU with true 2 = 4/10 < .5 (miss). tp 1, fp 1, fn 1 -> F1 = 2 / 4.
    assert metrics.segment_f1(truth, [[1] * 16 + [2] * 4]) == pytest.approx(0.5)
    # Two predicted pieces of one true segment: only one may match it.
    assert metrics.segment_f1([[1] * 10], [[1] * 6 + [2] + [1] * 3]) == pytest.approx(2 / (2 + 2))  # tp 1, fp 2


def test_background_segments_are_left_out_of_the_segment_scores_as_in_ms_tcn():
    truth = [[1] * 6 + [2] * 4]  # 2 = background
    # A background segment predicted inside the action: no action segment is added or lost.
    guess = [[1] * 3 + [2] * 2 + [1] + [2] * 4]
    assert metrics.edit_score(truth, guess) < 100.0
    assert metrics.edit_score(truth, guess, background=2) == pytest.approx(100 * (1 - 1 / 2))  # 1 vs 1 1
    # Predicted 1s at 0-2 (IoU 3/6) and 5 (IoU 1/6): at 0.1 and 0.5 one hit, one false positive.
    assert metrics.segment_f1(truth, guess, 0.5, background=2) == pytest.approx(2 / (2 + 1))
    scores = metrics.all_scores(truth, guess, ["walking", "background"])
    assert scores["f1_50"] == scores["segment_f1"] == pytest.approx(2 / 3) and set(scores) >= {"f1_10", "f1_25"}
