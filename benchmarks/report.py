"""One results page: every app's quality, training time and serving speed beside the public figures.

Usage:
    python benchmarks/report.py                              # benchmarks/results/*.json -> benchmarks/README.md
    python benchmarks/report.py --results DIR --output PAGE.md

Reads whatever the benchmark scripts wrote (imdb_sentiment, char_lm, char_lm_cells, translator, captioner,
video_tagger, video_tagger_real, captioner_decoding, captioner_* variants, load_test, scale_out); a missing file reads "not
measured". Public figures come only from the project's issues and the apps' READMEs, which cite their
sources; "n/a" where none was given. Figures are printed as measured, never adjusted.
"""

from __future__ import annotations

import argparse
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "benchmarks" / "README.md"
COMMAND = "python benchmarks/report.py"
NOT_MEASURED = "not measured"

# Targets and public anchors exactly as the issues (and the apps' READMEs, citing them) state them.
ANCHORS = {
    "imdb_sentiment": ("test accuracy >= 90% on the 25k test split, mean of 3 seeds, <= 30 min each (issue 17)",
                       "keras.io bidirectional LSTM 84.3%; a tuned from-scratch LSTM 86.5% (Dai & Le 2015); the Keras "
                       "fastText-style bigram model 90.6%; NBSVM bigrams 91.2% (issue 17)"),
    "char_lm": ("one uninterrupted run: tinyshakespeare validation <= 1.42 nats/char, <= 45 min (issue 17)",
                "TF text-generation tutorial config (GRU 1024), same machine, 45 min: 1.54 nats/char; a character "
                "Transformer on a GPU: 1.47 (issue 3)"),
    "translator": ("strict-split cased BLEU >= 30 es-en and >= 25 en-es, <= 45 min each (issue 17)",
                   "OPUS-MT (Transformers, far more data, subwords): 59.6 es-en and 54.9 en-es cased BLEU on a "
                   "Tatoeba Challenge test set (issue 17)"),
    "captioner": ("Flickr8k test BLEU-4 >= 1.5x the constant baseline, <= 90 min (issue 5)",
                  "Show, Attend and Tell (ImageNet encoder): BLEU-4 0.195-0.213 on Flickr8k; keras.io's example "
                  "reports no BLEU (issue 5)"),
    "video_tagger": ("frame accuracy >= 0.90 with the per-frame baseline near chance, <= 30 min (issue 6)", "n/a"),
}
# Training curves and other pictures: every PNG the apps keep beside their READMEs.
IMAGE_PATTERNS = ("images/*.png", "*.png")


def _load(results: pathlib.Path, name: str) -> dict | None:
    path = results / f"{name}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); re-run its benchmark script.") from None


def _minutes(seconds) -> str:
    return NOT_MEASURED if seconds is None else f"{seconds / 60:.1f} min"


def _get(result: dict, *keys):
    """result[k1][k2]...; None when any level is missing."""
    for key in keys:
        if not isinstance(result, dict) or result.get(key) is None:
            return None
        result = result[key]
    return result


# ------------------------------------------------------------------------------------ one row per app
def _imdb(result):
    accuracy = f"{100 * result['test_accuracy']:.2f}% test accuracy ({result.get('test_examples', 0):,} reviews)"
    seeds = result.get("test_accuracy_seeds")
    if seeds and len(seeds) > 1:  # the mean of several seeds, with its spread
        accuracy = (f"{100 * result['test_accuracy']:.2f}% test accuracy, mean of {len(seeds)} seeds "
                    f"({100 * min(seeds):.2f}-{100 * max(seeds):.2f}%; {result.get('test_examples', 0):,} reviews)")
    if "test_accuracy_recurrent" in result:  # two read-outs: each one alone, from the same runs
        accuracy += (f"; the GRU read-out alone {100 * result['test_accuracy_recurrent']:.2f}%, "
                     f"the bag alone {100 * result['test_accuracy_bag']:.2f}%")
    b1, b64 = _get(result, "serving_latency", "batch_1"), _get(result, "serving_latency", "batch_64")
    serving = (f"{b1['p50_ms']:.1f} ms p50 at batch 1; {b64['reviews_per_second']:,.0f} reviews/s at batch 64"
               if b1 and b64 else NOT_MEASURED)
    return accuracy, _minutes(result.get("train_seconds")), serving


def _char_lm(result):
    quality = (f"{result['val_loss_nats']:.3f} nats/char ({result['bits_per_char']:.3f} bits/char), "
               f"validation, {result.get('data', '?')}")
    speed = _get(result, "generation_speed")
    serving = (f"in-graph generation {speed['batch_1']['graph_chars_per_second']:,.0f} / "
               f"{speed['batch_16']['graph_chars_per_second']:,.0f} chars/s at batch 1 / 16" if speed else NOT_MEASURED)
    return quality, _minutes(result.get("train_seconds")), serving


def _translator(result):
    direction, decoder = result.get("bleu_test_direction", "?"), result.get("bleu_test_decoder", "?")
    accuracy = _get(result, "token_accuracy", direction)
    if "bleu_cased_es_en" in result or "bleu_cased_en_es" in result:  # issue 17's figures: both directions
        parts = []
        for name, key in (("es-en", "es_en"), ("en-es", "en_es")):
            if f"bleu_cased_{key}" in result:
                random_bleu = _get(result, "random_split", name, "bleu_beam")
                parts.append(f"{name} cased BLEU {result[f'bleu_cased_{key}']:.1f}, chrF {result[f'chrf_{key}']:.1f}"
                             + (f" (random split {random_bleu:.1f})" if random_bleu is not None else ""))
        quality = f"{result.get('split', 'strict')} test split, beam: " + "; ".join(parts)
    else:
        quality = f"{direction} test BLEU {result['bleu_test']:.1f} ({decoder})"
        quality += f", token accuracy {accuracy:.3f}" if accuracy is not None else ""
    speed = _get(result, "translations_per_second")
    serving = (f"greedy {speed['greedy']['batch_1']:.0f} / {speed['greedy']['batch_32']:.0f}, beam "
               f"{speed['beam']['batch_1']:.0f} / {speed['beam']['batch_32']:.0f} translations/s at batch 1 / 32"
               if speed else NOT_MEASURED)
    best_direction = _get(result, "train_seconds_per_direction", direction)
    training = _minutes(result.get("train_seconds"))
    if best_direction is not None and len(result.get("train_seconds_per_direction", {})) > 1:
        training = f"{_minutes(best_direction)} ({direction}); {training} for every direction"
    return quality, training, serving


def _captioner(result):
    served = result.get("served_decoding")
    decoding = (f"served: {served['decoder']} {served['beam_size']}, length penalty {served['length_penalty']}, "
                f"no repeated {served['no_repeat_ngram']}-gram" if served else result.get("best_decoder", "?"))
    quality = (f"test BLEU-4 {result['bleu4_test']:.3f} ({decoding}) vs constant baseline "
               f"{result.get('bleu4_constant_baseline', float('nan')):.3f}; "
               f"encoder {result.get('encoder_weights', '?')}")
    speed = _get(result, "captions_per_second")
    serving = ", ".join(f"{name.replace('_batch_', ' batch ')}: {value['captions_per_second']:.1f}/s"
                        for name, value in speed.items()) if speed else NOT_MEASURED
    return quality, _minutes(result.get("train_seconds")), serving


def _video_tagger(result):
    quality = (f"frame accuracy {result['frame_accuracy']:.4f} (causal {result.get('causal_frame_accuracy', 0):.3f}, "
               f"per-frame baseline {result.get('baseline_frame_accuracy', 0):.3f}); F1@50 "
               f"{result.get('segment_f1', float('nan')):.3f}; edit {result.get('edit_score', float('nan')):.1f}")
    fps = result.get("frames_per_second")
    serving = f"{fps:,.0f} frames/s (one video per request)" if fps else NOT_MEASURED
    return quality, _minutes(result.get("train_seconds")), serving


ROWS = {"imdb_sentiment": _imdb, "char_lm": _char_lm, "translator": _translator, "captioner": _captioner,
        "video_tagger": _video_tagger}


def _load_test_rows(load: dict | None) -> list[str]:
    if load is None:
        return [f"Load test: {NOT_MEASURED} (`python benchmarks/load_test.py`)."]
    lines = ["| app | requests/s | p50 | p99 | errors | server RSS after warm-up -> end | memory bounded |",
             "|---|---|---|---|---|---|---|"]
    for app, result in load.get("results", {}).items():
        latency, rss = result.get("latency_ms") or {}, result.get("rss_mib", {})
        lines.append(f"| {app} | {result['requests_per_second']:.1f} | {latency.get('p50', float('nan')):.1f} ms "
                     f"| {latency.get('p99', float('nan')):.1f} ms | {result['errors']} "
                     f"| {rss.get('after_warmup', float('nan')):.0f} -> {rss.get('end', float('nan')):.0f} MiB "
                     f"| {'yes' if result.get('memory_bounded') else 'NO'} |")
    quick = load.get("trained_quick_exports") or []
    threads = {result.get("threads") for result in load.get("results", {}).values()}
    seconds = {round(result.get("seconds", 0)) for result in load.get("results", {}).values()}
    lines.append("")
    lines.append(f"{'/'.join(map(str, sorted(threads)))} client threads for {'/'.join(map(str, sorted(seconds)))} s "
                 f"per model, one input per request, REST to a TensorFlow-only server process"
                 f"{'; quick-trained exports: ' + ', '.join(quick) if quick else ''}; "
                 f"`{load.get('command', 'python benchmarks/load_test.py')}`.")
    return lines


def _cells_rows(cells: dict | None) -> list[str]:
    if cells is None:
        return [f"Recurrent cells (char_lm_cells): {NOT_MEASURED}."]
    lines = ["| cell | validation nats/char | training | parameters |", "|---|---|---|---|"]
    for cell in ("rnn", "lstm", "gru"):
        if cell in cells:
            measured = cells[cell]
            lines.append(f"| {cell.upper()} | {measured['val_loss_nats']:.3f} | {measured['train_seconds']:.0f} s "
                         f"| {measured['params']:,} |")
    return lines


def _decoding_rows(decoding: dict | None) -> list[str]:
    if decoding is None:
        return [f"Captioner decoding study: {NOT_MEASURED} (`python benchmarks/captioner_decoding.py`)."]
    lines = ["| decoder | beams | length penalty | no-repeat n-gram | BLEU-4 validation | BLEU-4 test | words |",
             "|---|---|---|---|---|---|---|"]
    for row in decoding.get("settings", []):
        beams = row["beam_size"] if row["decoder"] == "beam" else "-"
        penalty = row["length_penalty"] if row["decoder"] == "beam" else "-"
        lines.append(f"| {row['decoder']} | {beams} | {penalty} | {row['no_repeat_ngram'] or 'off'} "
                     f"| {row['validation_bleu']['bleu4']:.4f} | {row['test_bleu']['bleu4']:.4f} "
                     f"| {row['test_mean_words']:.1f} |")
    chosen = decoding["chosen_on_validation"]
    lines += ["", f"Chosen on validation BLEU-4: {chosen}; its test BLEU-4 {decoding['bleu4_test_chosen']:.4f} "
                  f"against {decoding['bleu4_test_run_default']:.4f} for the run's own setting "
                  f"(`{decoding.get('command', '?')}`)."]
    return lines


def _captioner_variant_rows(results: pathlib.Path) -> list[str]:
    """Every other decoder trained on the main run's encoder (`benchmarks/captioner.py --result-name ...`)."""
    variants = sorted(path.stem for path in results.glob("captioner_*.json") if path.stem != "captioner_decoding")
    if not variants:
        return [f"Captioner variants: {NOT_MEASURED}."]
    lines = ["| result | decoder training | kept epoch | kept by | val loss | test BLEU-4 beam / greedy | command |",
             "|---|---|---|---|---|---|---|"]
    for name in variants:
        result = _load(results, name)
        config, history = result.get("config", {}), result.get("history", [])
        kept_by = config.get("select_by", "loss")
        if kept_by == "bleu":
            kept = max(history, key=lambda row: row.get("val_bleu4", float("-inf")), default={})
        else:
            kept = min(history, key=lambda row: row.get("val_loss", float("inf")), default={})
        bleu = result.get("bleu", {})
        lines.append(f"| `{name}.json` | {_minutes(result.get('decoder_train_seconds'))} "
                     f"| {int(kept.get('epoch', -1)) + 1} of {len(history)} | {kept_by} "
                     f"| {kept.get('val_loss', float('nan')):.3f} "
                     f"| {_get(bleu, 'beam', 'bleu4') or float('nan'):.4f} "
                     f"/ {_get(bleu, 'greedy', 'bleu4') or float('nan'):.4f} "
                     f"| `{result.get('command', '?')}` |")
    return lines


def _video_real_rows(result: dict | None) -> list[str]:
    """benchmarks/video_tagger_real.py: held-out people of KTH and Weizmann, three temporal models each."""
    if result is None:
        return [f"Video tagger on real footage: {NOT_MEASURED}."]
    lines = ["| dataset | frame accuracy bi / causal / per-frame | F1@50 | edit | training (bidirectional) | "
             "graph frames/s: jpeg_frames / stream |", "|---|---|---|---|---|---|"]
    for name in ("kth", "weizmann"):
        row = result.get(name)
        if row is None:
            continue
        served = row.get("serving", {})
        lines.append(f"| {name} | {row['frame_accuracy']:.3f} / {row['causal_frame_accuracy']:.3f} / "
                     f"{row['baseline_frame_accuracy']:.3f} | {row['f1_50']:.3f} | {row['edit_score']:.1f} | "
                     f"{_minutes(row.get('train_seconds'))} | "
                     f"{_get(served, 'graph_only', 'jpeg_frames', 'frames_per_second') or 0:,.0f} / "
                     f"{_get(served, 'graph_only', 'stream', 'frames_per_second') or 0:,.0f} |")
    return lines + ["", f"Command: `{result.get('command', '?')}`"]


def render(results: pathlib.Path = RESULTS) -> str:
    """The page's Markdown from the results in `results` (a missing file reads "not measured")."""
    lines = [
        "# Benchmarks: every app on one page",
        "",
        f"Regenerate this page with `{COMMAND}` (it reads `benchmarks/results/*.json`, which the scripts beside it "
        "write: `python benchmarks/<app>.py ...`, the exact command is in each JSON file).",
        "",
        "Measured on this project's 2-core CPU machine. Public figures and targets are quoted from the project's "
        "issues and the apps' READMEs; \"n/a\" where none is given, \"not measured\" where no result file exists.",
        "",
        "| app | quality (measured) | training time | serving (TensorFlow-only process) | target | public figures |",
        "|---|---|---|---|---|---|",
    ]
    commands = []
    for app, row in ROWS.items():
        result = _load(results, app)
        target, anchor = ANCHORS[app]
        if result is None:
            quality, training, serving = NOT_MEASURED, NOT_MEASURED, NOT_MEASURED
        else:
            quality, training, serving = row(result)
            if _get(result, "config", "sample"):  # a smoke run must never pass for a real-data figure
                quality += " **(offline sample data, not the real dataset)**"
            if result.get("command"):
                commands.append(f"- {app}: `{result['command']}`")
        lines.append(f"| [{app}](../apps/{app}/README.md) | {quality} | {training} | {serving} | {target} | {anchor} |")
    lines += ["", "Commands that produced these figures:", "", *(commands or ["- none yet"]), ""]

    lines += ["## Load test", "", *_load_test_rows(_load(results, "load_test")), ""]
    scale_out = _load(results, "scale_out")
    lines += ["## Scale-out", "",
              f"See `results/scale_out.json` (`{scale_out.get('command', '?')}`)." if scale_out else
              f"Scale-out: {NOT_MEASURED}.", ""]
    lines += ["## Video tagger on real footage (KTH, Weizmann; held-out people)", "",
              *_video_real_rows(_load(results, "video_tagger_real")), ""]
    lines += ["## Captioner decoding (same trained model, re-decoded)", "",
              *_decoding_rows(_load(results, "captioner_decoding")), ""]
    lines += ["## Captioner: other decoders on the same encoder", "", *_captioner_variant_rows(results), ""]
    lines += ["## Recurrent cells on tinyshakespeare (same budget)", "", *_cells_rows(_load(results, "char_lm_cells")),
              ""]
    lines += ["## Pictures", ""]
    for app in ROWS:
        images = sorted(path.relative_to(ROOT).as_posix() for pattern in IMAGE_PATTERNS
                        for path in (ROOT / "apps" / app).glob(pattern))
        links = ", ".join(f"[{pathlib.Path(image).name}](../{image})" for image in images) or "none yet"
        lines.append(f"- {app}: {links}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default=str(RESULTS), help="folder of <app>.json results")
    parser.add_argument("--output", default=str(PAGE), help="the Markdown page to write")
    args = parser.parse_args(argv)
    page = render(pathlib.Path(args.results))
    pathlib.Path(args.output).write_text(page)
    print(f"wrote {args.output}")
    return page


if __name__ == "__main__":
    main()
