"""Classify reviews with the exported model: a local SavedModel or a TF Serving server.

Usage:
    python apps/imdb_sentiment/predict.py "A wonderful, moving film." "Two hours I will never get back."
    python apps/imdb_sentiment/predict.py --model-dir saved_models/imdb_sentiment/3 "..."
    python apps/imdb_sentiment/predict.py --server http://localhost:8501 "..."   # TF Serving REST
    cat reviews.txt | python apps/imdb_sentiment/predict.py -                     # one review per line

Both paths send the same TF Serving request, {"instances": [review, ...]}, and print one line per review.
"""

from __future__ import annotations

import argparse
import json
import sys

from shared.serving import LocalModel, RestClient


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reviews", nargs="+", help="review texts, or - to read one per line from stdin")
    parser.add_argument("--model-dir", default="saved_models/imdb_sentiment",
                        help="a SavedModel version folder, or the model folder (newest version is used)")
    parser.add_argument("--server", help="TF Serving base URL, e.g. http://localhost:8501 (overrides --model-dir)")
    parser.add_argument("--model-name", default="imdb_sentiment", help="the model's name on the server")
    parser.add_argument("--json", action="store_true", help="print the raw response JSON")
    args = parser.parse_args(argv)

    reviews = sys.stdin.read().splitlines() if args.reviews == ["-"] else args.reviews
    client = RestClient(args.server, args.model_name) if args.server else LocalModel(args.model_dir)
    response = client.predict(instances=reviews)
    if args.json:
        print(json.dumps(response, indent=2, ensure_ascii=False))
    else:
        for review, answer in zip(reviews, response["predictions"]):
            preview = review if len(review) <= 60 else review[:57] + "..."
            print(f"{answer['label']:>8}  {answer['probability']:.3f}  {preview}")
    return response


if __name__ == "__main__":
    main()
