"""Benchmark the captioner on Flickr8k: BLEU-1..4 (greedy, beam) beside the constant baseline, speeds.

Usage:
    python benchmarks/captioner.py --data-dir ../shared/data/flickr8k --inception-weights none
    python benchmarks/captioner.py --data-dir DIR --inception-weights PATH/inception_v3_..._notop.h5
    python benchmarks/captioner.py ... --run-root runs/benchmarks/captioner-every-step --image-every-step \
        --result-name captioner_every_step       # a variant beside the main result, not over it

Trains with the app's defaults plus any flags given (encoder training included when the weights are
`none`), scores the 1,000 test images against their 5 references, then measures feature extraction speed
(images/second through the float32 encoder) and the exported signature's captions/second at batch 1 and 16
in a TensorFlow-only process. Writes benchmarks/results/captioner.json and prints the README table row.
"""

from __future__ import annotations

import pathlib
import sys
import time

from apps.captioner import cache, data, train
from apps.captioner.config import Config, resolve_config
from benchmarks.common import write_result
from shared.modeling.vision import build_encoder
from shared.runtime.config import parse_config
from shared.runtime.plots import plot_history
from shared.runtime.serving import b64, check_saved_model

CURVES = pathlib.Path(__file__).resolve().parents[1] / "apps" / "captioner" / "images" / "training_curves.png"


def _take(given: list[str], flag: str, default: str) -> tuple[str, list[str]]:
    """A benchmark-only flag's value, and the arguments without it (train.py would refuse it)."""
    if flag not in given:
        return default, given
    at = given.index(flag)
    return given[at + 1], given[:at] + given[at + 2:]


def main(argv=None):
    command = list(sys.argv[1:] if argv is None else argv)
    # --run-root: another run folder (a second decoder beside the first, say); --result-name: the JSON (and
    # curves) it writes, so a variant does not replace benchmarks/results/captioner.json.
    run_root, given = _take(command, "--run-root", "runs/benchmarks/captioner")
    result_name, given = _take(given, "--result-name", "captioner")
    run_root = pathlib.Path(run_root)
    argv = given + ["--output-dir", str(run_root / "run"), "--export-dir", str(run_root / "saved_models")]
    started = time.perf_counter()
    metrics = train.main(argv)
    total_seconds = time.perf_counter() - started

    config = resolve_config(parse_config(Config, argv))
    test = data.load_splits(config, ("test",))["test"]
    encoder = build_encoder(None, config.image_size)  # speed only: the weights do not matter
    images = test.images[:256]
    cache.extract_features(encoder, images[:32], config.image_size)  # warm-up (tracing)
    tick = time.perf_counter()
    cache.extract_features(encoder, images, config.image_size)
    feature_images_per_second = len(images) / (time.perf_counter() - tick)

    requests = [{"instances": [b64(test.images[0])]}, {"instances": [b64(image) for image in test.images[:16]]},
                {"signature_name": "greedy", "instances": [b64(test.images[0])]},
                {"signature_name": "greedy", "instances": [b64(image) for image in test.images[:16]]}]
    report = check_saved_model(metrics["export_path"], requests, repeat=10)
    speed = {}
    for (decoder, batch), result in zip([("beam", 1), ("beam", 16), ("greedy", 1), ("greedy", 16)], report["results"]):
        speed[f"{decoder}_batch_{batch}"] = {"p50_ms": result["latency_ms"]["p50"],
                                            "captions_per_second": batch * 1000 / result["latency_ms"]["p50"]}
    result = {
        "bleu4_test": metrics["bleu4_test"], "best_decoder": metrics["best_decoder"], "bleu": metrics["bleu"],
        "bleu4_constant_baseline": metrics["bleu4_constant_baseline"],
        "constant_baseline_caption": metrics["constant_baseline_caption"],
        "encoder_weights": metrics["encoder_weights"], "test_images": metrics["test_images"],
        # train_seconds: encoder (when trained here) + decoder; total_seconds adds data loading, the feature
        # cache, evaluation and export.
        "train_seconds": metrics["train_seconds"] + (metrics["encoder_train_seconds"] or 0.0),
        "encoder_train_seconds": metrics["encoder_train_seconds"], "decoder_train_seconds": metrics["train_seconds"],
        "total_seconds": total_seconds,
        "feature_images_per_second": feature_images_per_second,
        "captions_per_second": speed, "examples": metrics["examples"], "history": metrics["history"],
    }
    write_result("captioner", result, run_root / "run", command, name=result_name)
    curves = CURVES if result_name == "captioner" else CURVES.with_name(f"training_curves_{result_name}.png")
    # With --select-by bleu (the default) the second panel is the validation BLEU-4 that chose the epoch.
    second = "bleu4" if "val_bleu4" in metrics["history"][-1] else "masked_accuracy"
    plot_history(metrics["history"], ["loss", second], curves,
                 title=f"Flickr8k captioner, encoder {result['encoder_weights']}: BLEU-4 {result['bleu4_test']:.3f}")
    print("| BLEU-4 (best) | constant baseline | encoder | total time | features img/s | captions/s beam b1 / b16 |")
    print(f"| {result['bleu4_test']:.4f} ({result['best_decoder']}) | {result['bleu4_constant_baseline']:.4f} "
          f"| {result['encoder_weights']} | {total_seconds / 60:.1f} min | {feature_images_per_second:.1f} "
          f"| {speed['beam_batch_1']['captions_per_second']:.1f} "
          f"/ {speed['beam_batch_16']['captions_per_second']:.1f} |")
    return result


if __name__ == "__main__":
    main()
