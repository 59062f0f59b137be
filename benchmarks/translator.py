"""Benchmark the translator on the real corpus: BLEU per direction and decoder, training time, speed.

Usage:
    python benchmarks/translator.py --data-dir ../shared/data/spa_eng --directions es-en en-es \
        --minutes 25 15 [any train.py flag ...]

Trains one model per direction with the app's default config (plus any flags given), each under its own
time budget (`--max-train-minutes`), and scores it as the field does (apps/translator/metrics.py):
sacreBLEU's default cased BLEU, lower-cased BLEU and chrF against the references as written, on the strict
test split (no near duplicate of a training sentence, apps/translator/split.py) with greedy and beam
decoding, through the same in-graph decoders the export serves; beam also on the random split's test set
(near duplicates included), the figure earlier benchmarks reported. Then times
the exported signatures in a TensorFlow-only process: translations per second at batch 1 and batch 32,
greedy vs beam. Draws the attention map of one test sentence
(apps/translator/images/attention_<tag>.png, the README's picture) and the training curves of each direction
(apps/translator/images/training_curves_<direction>.png). Writes
benchmarks/results/translator.json and prints the README table rows.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import numpy as np

from apps.translator import attention_map, data, train
from apps.translator.config import Config
from benchmarks.common import machine
from shared.runtime.config import load_config, parse_config
from shared.runtime.plots import plot_history
from shared.runtime.serving import check_saved_model

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
APP = pathlib.Path(__file__).resolve().parents[1] / "apps" / "translator"
IMAGES = APP / "images"  # every picture the app's README shows


def serving_speed(export_path: str, texts: list[str], repeat: int = 20) -> dict:
    """Translations per second (from the median latency) at batch 1 and 32, greedy and beam."""
    requests, keys = [], []
    for decoder, signature in (("greedy", "greedy"), ("beam", "serving_default")):
        for batch in (1, 32):
            requests.append({"instances": texts[:batch], "signature_name": signature})
            keys.append((decoder, batch))
    report = check_saved_model(export_path, requests, repeat=repeat)
    speed = {}
    for (decoder, batch), result in zip(keys, report["results"]):
        stats = result["latency_ms"]
        speed.setdefault(decoder, {})[f"batch_{batch}"] = {
            "p50_ms": stats["p50"], "p90_ms": stats["p90"], "translations_per_second": batch * 1000 / stats["p50"]}
    return speed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--directions", nargs="+", default=["es-en", "en-es"], choices=data.DIRECTIONS)
    parser.add_argument("--minutes", nargs="+", type=float, default=[25.0, 15.0],
                        help="training time budget per direction, in the order of --directions")
    parser.add_argument("--tag", default="translator", help="results file name: results/<tag>.json")
    args, train_flags = parser.parse_known_args(argv)
    if len(args.minutes) != len(args.directions):
        parser.error("give one --minutes value per direction")

    run_root = pathlib.Path("runs/benchmarks") / args.tag
    runs = {}
    for direction, minutes in zip(args.directions, args.minutes):
        argv = train_flags + ["--direction", direction, "--max-train-minutes", str(minutes),
                              "--output-dir", str(run_root / direction),
                              "--export-dir", str(run_root / "saved_models" / direction)]
        started = time.perf_counter()
        metrics = train.main(argv)
        metrics["total_seconds"] = time.perf_counter() - started
        metrics["command_flags"] = argv
        runs[direction] = metrics

    # The best direction and decoder is the headline; its export is timed and its attention drawn.
    scores = {(d, decoder): m[f"bleu_{decoder}"] for d, m in runs.items() for decoder in ("greedy", "beam")}
    best_direction, best_decoder = max(scores, key=scores.get)
    best = runs[best_direction]
    config = parse_config(Config, best["command_flags"])
    test_sources = data.split(data.load(config), config.seed, strict=config.split == "strict")["test"].oriented(
        best_direction)[0]
    picks = [test_sources[i] for i in np.random.default_rng(0).permutation(len(test_sources))[:32]]
    speed = serving_speed(best["export_path"], picks)
    sentence, png = picks[0], None
    if config.attention != "none":
        source, target, weights, translation = attention_map.attention_of(best["export_path"], sentence)
        png = attention_map.draw(source, target, weights, IMAGES / f"attention_{args.tag}.png",
                                 title=f"{sentence} -> {translation}")

    key = {"es-en": "es_en", "en-es": "en_es"}
    for direction, metrics in runs.items():  # the README's curves, one picture per direction
        plot_history(metrics["history"], ["loss", "accuracy"], IMAGES / f"training_curves_{key[direction]}.png",
                     title=f"translator {direction}: training and validation (strict split)")
    result = {
        "app": "translator",
        "bleu_test": scores[(best_direction, best_decoder)],
        "bleu_test_direction": best_direction, "bleu_test_decoder": best_decoder,
        "split": config.split,
        "metric": "sacreBLEU corpus BLEU, cased, 13a (its default), beam search, against spa.txt's references "
                  "as written, on the split named by 'split'; chrF: sacreBLEU's default chrF",
        **{f"bleu_cased_{key[d]}": m["bleu_beam"] for d, m in runs.items()},
        **{f"bleu_lowercase_{key[d]}": m["bleu_lowercase_beam"] for d, m in runs.items()},
        **{f"chrf_{key[d]}": m["chrf_beam"] for d, m in runs.items()},
        "random_split": {d: m.get("random_split") for d, m in runs.items()},
        "bleu": {d: {"greedy": m["bleu_greedy"], "beam": m["bleu_beam"], "beam_size": config.beam_size,
                     "lowercase_greedy": m["bleu_lowercase_greedy"], "lowercase_beam": m["bleu_lowercase_beam"],
                     "chrf_greedy": m["chrf_greedy"], "chrf_beam": m["chrf_beam"]}
                 for d, m in runs.items()},
        "token_accuracy": {d: m["test_accuracy"] for d, m in runs.items()},
        "test_pairs": {d: m["test_pairs"] for d, m in runs.items()},
        "train_seconds": sum(m["train_seconds"] for m in runs.values()),
        "train_seconds_per_direction": {d: m["train_seconds"] for d, m in runs.items()},
        "epochs_completed": {d: m["epochs_completed"] for d, m in runs.items()},
        "pairs_per_second": {d: m["pairs_per_second"] for d, m in runs.items()},
        "translations_per_second": {dec: {b: v["translations_per_second"] for b, v in by.items()}
                                    for dec, by in speed.items()},
        "serving_latency": speed, "speed_measured_on": best_direction,
        "eval_translations_per_second": {d: m["eval_translations_per_second"] for d, m in runs.items()},
        "attention_map": png and str(png.relative_to(APP.parents[1])), "attention_sentence": sentence,
        "examples": {d: m["examples"] for d, m in runs.items()},
        "history": {d: m["history"] for d, m in runs.items()},
        "config": {d: load_config(run_root / d) for d in runs},
        "machine": machine(),
        "command": "python benchmarks/translator.py " + " ".join(
            ["--directions", *args.directions, "--minutes", *map(str, args.minutes), "--tag", args.tag,
             *train_flags]),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.tag}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print("| direction | cased BLEU greedy | cased BLEU beam | lower-cased BLEU beam | chrF beam "
          "| random split: cased BLEU beam | token accuracy | train time | epochs |")
    for d, m in runs.items():
        random_bleu = (m.get("random_split") or {}).get("bleu_beam")
        print(f"| {d} | {m['bleu_greedy']:.1f} | {m['bleu_beam']:.1f} | {m['bleu_lowercase_beam']:.1f} "
              f"| {m['chrf_beam']:.1f} | {'-' if random_bleu is None else f'{random_bleu:.1f}'} "
              f"| {m['test_accuracy']:.3f} | {m['train_seconds'] / 60:.1f} min | {m['epochs_completed']} |")
    print("| decoder | batch 1 (translations/s) | batch 32 (translations/s) |")
    for decoder, by in result["translations_per_second"].items():
        print(f"| {decoder} | {by['batch_1']:.1f} | {by['batch_32']:.1f} |")
    return result


if __name__ == "__main__":
    main()
