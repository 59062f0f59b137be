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

from shared.runtime.clients import add_client_arguments, client_from_arguments


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reviews", nargs="+", help="review texts, or - to read one per line from stdin")
    add_client_arguments(parser, "imdb_sentiment")
    args = parser.parse_args(argv)

    reviews = sys.stdin.read().splitlines() if args.reviews == ["-"] else args.reviews
    client = client_from_arguments(args)
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
