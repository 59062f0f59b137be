"""The suite's main job: train every app on its offline data, export, check each SavedModel, show answers.

Usage:
    python apps/run_all.py            # every app, offline data (--sample), a few minutes on 2 CPU cores
    python apps/run_all.py --quick    # a few steps each: a smoke test

Each app's train.py runs as documented in its README; each export is then called in a separate process that
can import only TensorFlow (shared/bare_tf.py), with TF Serving's REST JSON, and the answers are printed.
"""

from __future__ import annotations

import argparse
import importlib
import time

from shared.serving import check_saved_model

# app name -> example request for its serving_default signature (TF Serving REST JSON).
APPS = {
    "imdb_sentiment": {"instances": ["At first the plot was dull, but in the end it was wonderful.",
                                     "The acting was never good."]},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per app (smoke test)")
    parser.add_argument("--apps", nargs="+", default=list(APPS), choices=list(APPS), help="which apps")
    parser.add_argument("--export-dir", default="saved_models", help="export root")
    args = parser.parse_args(argv)

    rows = []
    for app in args.apps:
        print(f"\n=== {app}: train on offline data, export, check ===", flush=True)
        started = time.perf_counter()
        train = importlib.import_module(f"apps.{app}.train")
        metrics = train.main(["--sample", "--export-dir", args.export_dir] + (["--quick"] if args.quick else []))
        report = check_saved_model(metrics["export_path"], [APPS[app]])
        rows.append((app, metrics["export_path"], time.perf_counter() - started, APPS[app],
                     report["results"][0]["response"]))

    print("\n=== Sample predictions, served by a TensorFlow-only process ===")
    for app, path, seconds, request, response in rows:
        print(f"\n{app}  ({path}, {seconds:.0f} s)")
        inputs = request.get("instances") or request.get("inputs")
        for given, answer in zip(inputs, response.get("predictions", [response])):
            print(f"  {str(given)[:70]!s:72} -> {answer}")
    return rows


if __name__ == "__main__":
    main()
