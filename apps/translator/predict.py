"""Translate sentences with the exported model: a local SavedModel or a TF Serving server.

Usage:
    python apps/translator/predict.py "Where is the station?" "I like green apples."
    python apps/translator/predict.py --decoder greedy "..."               # the faster signature
    python apps/translator/predict.py --model-dir saved_models/translator/3 "..."
    python apps/translator/predict.py --server http://localhost:8501 "..."  # TF Serving REST
    cat sentences.txt | python apps/translator/predict.py -                 # one sentence per line

Both paths send the same TF Serving request, {"instances": [sentence, ...]} (plus "signature_name":
"greedy" for --decoder greedy), and print one line per sentence. The direction (en-es or es-en) is the
one the model was trained for: see its assets.extra/config.json.
"""

from __future__ import annotations

import argparse
import json
import sys

from shared.runtime.clients import add_client_arguments, client_from_arguments


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sentences", nargs="+", help="source sentences, or - to read one per line from stdin")
    add_client_arguments(parser, "translator")
    parser.add_argument("--decoder", choices=("beam", "greedy"), default="beam",
                        help="beam: serving_default (beam search); greedy: the greedy signature")
    args = parser.parse_args(argv)

    sentences = sys.stdin.read().splitlines() if args.sentences == ["-"] else args.sentences
    client = client_from_arguments(args)
    response = client.predict(instances=sentences,
                              signature_name="greedy" if args.decoder == "greedy" else None)
    if args.json:
        print(json.dumps(response, indent=2, ensure_ascii=False))
    else:
        for sentence, translation in zip(sentences, response["predictions"]):
            print(f"{sentence}\n  -> {translation}")
    return response


if __name__ == "__main__":
    main()
