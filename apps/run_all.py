"""The suite's main job: train every app on its offline data, export, check each SavedModel, show answers.

Usage:
    python apps/run_all.py            # every app, offline data (--sample)
    python apps/run_all.py --quick    # a few steps each: a smoke test
    python apps/run_all.py --apps imdb_sentiment

Each app's train.py runs as documented in its README; each export is then called in a separate process that
can import only TensorFlow (shared/bare_tf.py), with TF Serving's REST JSON, and the answers are printed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time

from shared.serving import b64, check_saved_model


def _reviews():
    # The sample grammar's rule: the last clause decides ("dull ... but in the end wonderful" is positive).
    reviews = {"At first the plot was dull, but in the end it was wonderful.": "positive",
               "The acting was never good.": "negative"}
    return {"instances": list(reviews)}, [f"{text} (truly {label})" for text, label in reviews.items()]


def _scenes():
    import numpy as np

    from apps.captioner.data import sample_scene

    rng = np.random.default_rng(2024)
    scenes = [sample_scene(rng) for _ in range(2)]
    labels = [f"generated scene, truly: {captions[0]!r}" for _, captions in scenes]
    return {"instances": [b64(jpeg) for jpeg, _ in scenes]}, labels


def _prompts():
    prompts = ["def ", "class "]
    # Scalar inputs (num_chars, temperature) exist only in TF Serving's columnar form, "inputs".
    return {"inputs": {"prompt": prompts, "num_chars": 120, "temperature": 0.8}}, prompts


def _sentences():
    from apps.translator.data import sample_pairs

    pairs = sample_pairs(2, seed=2024)  # new sentences of the sample grammar, with their true translations
    return {"instances": pairs.english}, [f"{english} -> truly: {spanish}"
                                          for english, spanish in zip(pairs.english, pairs.spanish)]


def _video():
    from apps.video_tagger.data import generate_videos

    video = generate_videos(1, seed=0)
    frames = 12
    truth = " ".join(video.class_names[label - 1] for label in video.labels[0][:frames])
    # One video per request: its frames are the signature's single input, sent in the columnar form.
    return {"inputs": {"frames": video.inputs[0][:frames].tolist()}}, [f"generated video, truly: {truth}"]


# app name -> a function giving (TF Serving REST request for serving_default, what each input shows)
APPS = {"imdb_sentiment": _reviews, "char_lm": _prompts, "translator": _sentences, "captioner": _scenes,
        "video_tagger": _video}


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def _answers(response) -> list:
    """One printable answer per input of a REST response."""
    answers = response["predictions"] if "predictions" in response else response["outputs"]
    if isinstance(answers, dict):  # one example with several named outputs (the video tagger)
        answers = [" ".join(answers["tags"]) if "tags" in answers else answers]
    return [answer if isinstance(answer, str) else json.dumps(answer) for answer in answers]


def print_table(rows, total_seconds: float) -> None:
    """The final table: app, what each input shows, and the served answer, one line per input."""
    print(f"\n=== Sample predictions, served by a TensorFlow-only process (all apps: {_clock(total_seconds)}) ===\n")
    print(f"{'app':15} {'time':>5}  {'input (and the true answer, where the offline data knows it)':80}  answer")
    print(f"{'-' * 15} {'-' * 5}  {'-' * 80}  {'-' * 40}")
    for app, _, seconds, labels, response in rows:
        for index, (label, answer) in enumerate(zip(labels, _answers(response))):
            name, clock = (app, _clock(seconds)) if index == 0 else ("", "")
            label = label if len(label) <= 80 else label[:77] + "..."
            print(f"{name:15} {clock:>5}  {label:80}  {answer[:100]}")
    print("\nExports: " + ", ".join(path for _, path, *_ in rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per app (smoke test)")
    parser.add_argument("--apps", nargs="+", default=list(APPS), choices=list(APPS), help="which apps")
    parser.add_argument("--export-dir", default="saved_models", help="export root")
    args = parser.parse_args(argv)

    rows, begun = [], time.perf_counter()

    def progress(number, app, step):
        print(f"\n[{number}/{len(args.apps)} {app} | {_clock(time.perf_counter() - begun)} elapsed] {step}", flush=True)

    for number, app in enumerate(args.apps, start=1):
        started = time.perf_counter()
        progress(number, app, "training on offline data, then exporting")
        train = importlib.import_module(f"apps.{app}.train")
        metrics = train.main(["--sample", "--export-dir", args.export_dir] + (["--quick"] if args.quick else []))
        progress(number, app, f"checking {metrics['export_path']} in a TensorFlow-only process")
        request, labels = APPS[app]()
        report = check_saved_model(metrics["export_path"], [request])
        result = report["results"][0]
        if result["status"] != 200:
            raise RuntimeError(f"{app}: the export refused its sample request: {result['response']}")
        rows.append((app, metrics["export_path"], time.perf_counter() - started, labels, result["response"]))
        progress(number, app, f"done in {_clock(time.perf_counter() - started)}")

    print_table(rows, time.perf_counter() - begun)
    return rows


if __name__ == "__main__":
    main()
