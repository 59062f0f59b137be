"""How decoding choices move the captioner's BLEU: re-decode a trained run's cached features.

Usage:
    python benchmarks/captioner.py --data-dir ../shared/data/flickr8k ...   # first: trains and caches features
    python benchmarks/captioner_decoding.py                                 # then: re-decodes that run
    python benchmarks/captioner_decoding.py --export                        # ... and exports the chosen way
    python benchmarks/captioner_decoding.py --export-only                   # export an earlier study's choice

For every decoding setting in the grid (greedy or beam search, beam size, length penalty, and the n-gram
block `--no-repeat-ngram`), the run's best decoder writes captions for the validation and test images
through `CaptionWriter`, the exported graph's own decoding code. The setting is **chosen on validation**
BLEU-4 only; its test BLEU-4 is then reported beside the test figure of the run's own setting, so the test
split is never used to choose. Nothing is retrained. Writes benchmarks/results/captioner_decoding.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import time

from apps.captioner import cache, data, metrics, serve
from apps.captioner.config import Config
from apps.captioner.model import build_model
from apps.captioner.serve import CaptionWriter
from benchmarks.common import RESULTS
from shared.runtime.config import load_config
from shared.runtime.run import RunFolder

# (decoder, beam size, length penalty, no-repeat n-gram): greedy ignores the beam settings.
GRID = [("greedy", 1, 1.0, n) for n in (0, 2, 3, 4)] + [
    ("beam", k, penalty, n) for k in (3, 5, 8) for penalty in (0.0, 1.0) for n in (0, 3)] + [
    ("beam", 12, 0.0, 0)]


def load_run(run_dir: pathlib.Path):
    """The run's config, splits, target vectorizer, best decoder and cached features, as train.py had them."""
    config = load_config(run_dir, Config)
    splits = data.load_splits(config)
    vectorizer = data.caption_vectorizer(config, splits["train"])
    encoder, identity, features = cache.encoder_and_features(config, splits)
    decoder = build_model(config, vectorizer.vocabulary_size(), features["train"].shape[1])
    decoder.load_weights(str(RunFolder(run_dir).best_checkpoint))
    return config, splits, vectorizer, encoder, identity, decoder, features


def score(config, setting, splits, vectorizer, encoder, decoder, features) -> dict:
    name, beam_size, length_penalty, no_repeat = setting
    decoding = dataclasses.replace(config, beam_size=beam_size, length_penalty=length_penalty,
                                   no_repeat_ngram=no_repeat)
    writer = CaptionWriter(encoder, decoder, vectorizer, decoding)
    function = writer.greedy_from_features if name == "greedy" else writer.beam_from_features
    row = {"decoder": name, "beam_size": beam_size, "length_penalty": length_penalty, "no_repeat_ngram": no_repeat}
    for split in ("validation", "test"):
        tick = time.perf_counter()
        captions = metrics.caption_all(function, features[split])
        row[f"{split}_seconds"] = time.perf_counter() - tick
        row[f"{split}_bleu"] = metrics.bleu_scores(captions, splits[split].captions)
        row[f"{split}_mean_words"] = sum(len(c.split()) for c in captions) / max(1, len(captions))
        if split == "test":
            row["test_examples"] = captions[:5]
    return row


def export_chosen(run_dir, config, result, splits, vectorizer, encoder, decoder) -> str:
    """Export the run's weights decoding as the study chose (nothing is retrained); returns the version's path."""
    chosen = result["chosen_on_validation"]
    (run_dir / "decoding").mkdir(parents=True, exist_ok=True)
    decoding = dataclasses.replace(
        config, output_dir=str(run_dir / "decoding"), beam_size=chosen["beam_size"],
        length_penalty=chosen["length_penalty"], no_repeat_ngram=chosen["no_repeat_ngram"])
    study = {key: value for key, value in result.items() if key not in ("settings", "export_path")}
    writer = CaptionWriter(encoder, decoder, vectorizer, decoding)
    vectorizer(splits["test"].captions[0][:1])  # training built it in train.py; the export must find it built
    exported = serve.export(decoding, writer, vectorizer, study, serve.example_requests(splits["test"])[0])
    return exported["export_path"]


def record_served(result: dict, summary_path: pathlib.Path) -> dict | None:
    """After an export, make the app's benchmark JSON report what that export serves.

    `benchmarks/captioner.py` measured the run's own decoding; the new export decodes the way chosen on
    validation, so its `bleu4_test` becomes that decoding's test BLEU-4. The run's own figure stays as
    `bleu4_test_run_default`, and `served_decoding` / `served_export` say which decoding and where.
    Does nothing when `summary_path` (captioner.json beside --output) does not exist.
    """
    if not summary_path.exists():
        return None
    summary = json.loads(summary_path.read_text())
    summary.update(bleu4_test=result["bleu4_test_chosen"], bleu4_test_run_default=result["bleu4_test_run_default"],
                   served_decoding=result["chosen_on_validation"], served_export=result["export_path"],
                   served_command=f"{result['command']} --export")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", default="runs/benchmarks/captioner/run", help="A captioner run folder.")
    parser.add_argument("--output", default=str(RESULTS / "captioner_decoding.json"))
    parser.add_argument("--settings", type=int, default=None, help="Only the first N settings (for tests).")
    parser.add_argument("--export", action="store_true",
                        help="Also export the run's decoder with the setting chosen on validation, as the next "
                             "version in the run's export folder (metrics in <run-dir>/decoding/).")
    parser.add_argument("--export-only", action="store_true",
                        help="Export the choice recorded in --output by an earlier run of this script; score nothing.")
    args = parser.parse_args(argv)
    run_dir = pathlib.Path(args.run_dir)
    if not RunFolder(run_dir).best_checkpoint.exists():
        raise ValueError(f"{run_dir} holds no trained captioner (checkpoints/best.weights.h5): run "
                         f"benchmarks/captioner.py (or apps/captioner/train.py --output-dir {run_dir}) first.")
    config, splits, vectorizer, encoder, identity, decoder, features = load_run(run_dir)
    output = pathlib.Path(args.output)
    if args.export_only:  # the grid was scored before: export its choice without decoding it all again
        if not output.exists():
            raise ValueError(f"--export-only needs the study's earlier result {output}: run without it first.")
        result = json.loads(output.read_text())
        result["export_path"] = export_chosen(run_dir, config, result, splits, vectorizer, encoder, decoder)
        output.write_text(json.dumps(result, indent=2) + "\n")
        record_served(result, output.with_name("captioner.json"))
        print(f"exported {result['chosen_on_validation']} to {result['export_path']}")
        return result
    own = ("beam", config.beam_size, config.length_penalty, config.no_repeat_ngram)
    grid = GRID[:args.settings] if args.settings else GRID
    grid = grid + [own] * (own not in grid)
    rows = []
    for setting in grid:
        rows.append(score(config, setting, splits, vectorizer, encoder, decoder, features))
        print(f"{setting}: BLEU-4 validation {rows[-1]['validation_bleu']['bleu4']:.4f}, "
              f"test {rows[-1]['test_bleu']['bleu4']:.4f}", flush=True)
    chosen = max(rows, key=lambda row: row["validation_bleu"]["bleu4"])
    run_default = rows[grid.index(own)]
    result = {
        "app": "captioner", "run_dir": str(run_dir), "encoder_identity": identity,
        "chosen_on_validation": {key: chosen[key] for key in ("decoder", "beam_size", "length_penalty",
                                                               "no_repeat_ngram")},
        "bleu4_test_chosen": chosen["test_bleu"]["bleu4"], "bleu4_validation_chosen": chosen["validation_bleu"]["bleu4"],
        "bleu4_test_run_default": run_default["test_bleu"]["bleu4"],
        "validation_images": len(splits["validation"].images), "test_images": len(splits["test"].images),
        "settings": rows, "command": f"python benchmarks/captioner_decoding.py --run-dir {run_dir}",
    }
    if args.export:
        result["export_path"] = export_chosen(run_dir, config, result, splits, vectorizer, encoder, decoder)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    if args.export:
        record_served(result, output.with_name("captioner.json"))
    print(f"chosen on validation: {result['chosen_on_validation']}; test BLEU-4 {result['bleu4_test_chosen']:.4f} "
          f"(the run's own setting: {result['bleu4_test_run_default']:.4f})")
    return result


if __name__ == "__main__":
    main()
