"""Scores for frame tagging: frame accuracy, per-class F1, and two segment-level scores.

Frame accuracy alone hides a common failure: a tagger that is right on most frames but flickers between
labels inside an action cuts one action into many pieces. The action-segmentation literature therefore also
scores the *segments* (runs of equal labels):

    edit score  (Lea et al., 2017): 100 * (1 - Levenshtein(predicted segment labels, true segment labels)
                / max(their lengths)). Order of actions only; flicker costs insertions.
    F1@50       (Lea et al., 2017; Farha & Gall, 2019): a predicted segment is a true positive when its
                IoU with a not-yet-matched true segment of the same label is >= 0.5; F1 over all videos.

All functions take lists of 1-D integer label arrays, one per video, already cut to the video's length
(padding never reaches them). As in MS-TCN's evaluation (Farha & Gall, 2019, eval.py), the segment scores
can leave out a background label (`background=`): KTH's "person out of view" frames count for frame
accuracy but are no action segment to find; F1 is also reported at IoU 0.10 and 0.25 (F1@{10,25,50}).
"""

from __future__ import annotations

import numpy as np


def segments(labels) -> list[tuple[int, int, int]]:
    """Runs of equal labels as (label, start, end) with `end` exclusive: [1,1,2] -> [(1,0,2), (2,2,3)]."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    change = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [labels.size]])
    return [(int(labels[s]), int(s), int(e)) for s, e in zip(starts, ends)]


def frame_accuracy(true: list, predicted: list) -> float:
    """Share of all frames (of all videos) whose predicted label is right."""
    right = sum(int(np.sum(np.asarray(t) == np.asarray(p))) for t, p in zip(true, predicted))
    total = sum(len(t) for t in true)
    return right / total if total else float("nan")


def per_class_f1(true: list, predicted: list, classes) -> dict:
    """Frame-level F1 of each class (its frames found vs. frames claimed), keyed by the class id."""
    t = np.concatenate([np.asarray(x) for x in true]) if true else np.zeros(0, int)
    p = np.concatenate([np.asarray(x) for x in predicted]) if predicted else np.zeros(0, int)
    scores = {}
    for c in classes:
        hits = int(np.sum((t == c) & (p == c)))
        claimed, actual = int(np.sum(p == c)), int(np.sum(t == c))
        scores[c] = 2 * hits / (claimed + actual) if claimed + actual else float("nan")
    return scores


def _levenshtein(a: list, b: list) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def _action_segments(labels, background: int | None) -> list[tuple[int, int, int]]:
    return [s for s in segments(labels) if s[0] != background]


def edit_score(true: list, predicted: list, background: int | None = None) -> float:
    """Mean over videos of 100 * (1 - normalized segment-level edit distance); 100 = same action order."""
    scores = []
    for t, p in zip(true, predicted):
        a, b = [s[0] for s in _action_segments(t, background)], [s[0] for s in _action_segments(p, background)]
        longest = max(len(a), len(b))
        scores.append(100.0 * (1 - _levenshtein(a, b) / longest) if longest else 100.0)
    return float(np.mean(scores)) if scores else float("nan")


def segment_f1(true: list, predicted: list, overlap: float = 0.5, background: int | None = None) -> float:
    """F1@overlap over all videos, in [0, 1] (F1@50 with the default)."""
    tp = fp = fn = 0
    for t, p in zip(true, predicted):
        truth, guesses = _action_segments(t, background), _action_segments(p, background)
        used = [False] * len(truth)
        for label, start, end in guesses:
            best, best_iou = -1, 0.0
            for k, (t_label, t_start, t_end) in enumerate(truth):
                if t_label != label:
                    continue
                inter = max(0, min(end, t_end) - max(start, t_start))
                iou = inter / (max(end, t_end) - min(start, t_start))
                if iou > best_iou:
                    best, best_iou = k, iou
            if best >= 0 and best_iou >= overlap and not used[best]:
                tp, used[best] = tp + 1, True
            else:
                fp += 1
        fn += used.count(False)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")


def all_scores(true: list, predicted: list, class_names: list[str]) -> dict:
    """Every score, with per-class F1 keyed by class name (classes are 1..len(class_names))."""
    f1 = per_class_f1(true, predicted, range(1, len(class_names) + 1))
    background = class_names.index("background") + 1 if "background" in class_names else None
    at = {f"f1_{round(100 * o)}": segment_f1(true, predicted, o, background) for o in (0.1, 0.25, 0.5)}
    return {"frame_accuracy": frame_accuracy(true, predicted),
            "edit_score": edit_score(true, predicted, background), "segment_f1": at["f1_50"], **at,
            "per_class_f1": {name: f1[i + 1] for i, name in enumerate(class_names)}}
