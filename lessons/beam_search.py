"""Beam search: what wider beams buy, drawn from the captioner's measured decoding sweep (no training here).

`benchmarks/captioner_decoding.py` decoded Flickr8k's validation and test images with the trained captioner
under every decoder setting (greedy, beams of 3 to 12, length penalty 0 or 1, no repeated n-gram) and wrote
`benchmarks/results/captioner_decoding.json`. This lesson reads that file and draws test BLEU-4 and decoding
time against beam width, greedy being a beam of one (`shared/modeling/decoding.py` runs both).

What to look for in lessons/images/beam_search.png: BLEU-4 rises from greedy to a few beams, then, without a
length penalty, falls again for wide beams: a wider search finds higher-probability captions, and the most
probable captions are short and generic (the length penalty 1 curve keeps rising longer). Time grows about
linearly with the beam.

    python lessons/beam_search.py            # reads benchmarks/results/captioner_decoding.json
    python lessons/beam_search.py --quick    # the same (it only draws), for the tests
"""

from __future__ import annotations

import json
import pathlib

from lessons import common

NAME = "beam_search"
SOURCE = common.ROOT / "benchmarks" / "results" / "captioner_decoding.json"


def curves(settings: list[dict]) -> dict[str, list[dict]]:
    """Per length penalty, the settings without n-gram blocking, by beam width (greedy = width 1)."""
    by_penalty: dict[str, list[dict]] = {}
    for s in settings:
        if s["no_repeat_ngram"]:
            continue
        point = {"beam_size": s["beam_size"], "test_bleu4": round(s["test_bleu"]["bleu4"], 4),
                 "validation_bleu4": round(s["validation_bleu"]["bleu4"], 4),
                 "test_seconds": round(s["test_seconds"], 1), "test_mean_words": s["test_mean_words"]}
        for penalty in ((0.0, 1.0) if s["decoder"] == "greedy" else (s["length_penalty"],)):
            by_penalty.setdefault(f"length penalty {penalty:g}", []).append(point)
    return {k: sorted(v, key=lambda p: p["beam_size"]) for k, v in sorted(by_penalty.items())}


def main(argv=None) -> dict:
    flags = common.parser(__doc__)
    flags.add_argument("--source", default=str(SOURCE), help="a captioner_decoding.py results file")
    args = flags.parse_args(argv)
    started = common.Stopwatch()
    path = pathlib.Path(args.source)
    if not path.exists():
        raise ValueError(f"{path} not found: run benchmarks/captioner_decoding.py first (or pass --source).")
    sweep = json.loads(path.read_text())
    results = {"source": str(path.relative_to(common.ROOT) if path.is_relative_to(common.ROOT) else path),
               "test_images": sweep.get("test_images"), "curves": curves(sweep["settings"])}
    common.write_results(NAME, args, results, started)
    fig, (left, right) = common.figure()
    for (label, points), colour in zip(results["curves"].items(), ("tab:red", "tab:blue")):
        beams = [p["beam_size"] for p in points]
        left.plot(beams, [p["test_bleu4"] for p in points], "o-", color=colour, label=label)
        right.plot(beams, [p["test_seconds"] for p in points], "o-", color=colour, label=label)
    left.set(xlabel="beam width (1 = greedy)", ylabel="Flickr8k test BLEU-4", title="Captioner: quality by beam")
    right.set(xlabel="beam width (1 = greedy)", ylabel="seconds to caption the test set", title="Cost by beam")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    common.save_figure(fig, NAME, args)
    return results


if __name__ == "__main__":
    main()
