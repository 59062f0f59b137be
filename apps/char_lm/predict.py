"""Generate or score text with the exported model: a local SavedModel or a TF Serving server.

Usage:
    python apps/char_lm/predict.py "ROMEO:" "JULIET:" --num-chars 300 --temperature 0.8
    python apps/char_lm/predict.py "ROMEO:" --top-k 10 --seed 7          # the `generate` signature
    python apps/char_lm/predict.py --score "To be, or not to be"          # bits per character
    python apps/char_lm/predict.py --server http://localhost:8501 "ROMEO:" # TF Serving REST

One request per call, in TF Serving's columnar form (scalar inputs cannot go in the row form):
    {"inputs": {"prompt": ["ROMEO:"], "num_chars": 300, "temperature": 0.8}}
"""

from __future__ import annotations

import argparse
import json

from shared.runtime.clients import add_client_arguments, client_from_arguments


def build_request(args) -> dict:
    if args.score:
        return {"signature_name": "score", "inputs": {"text": args.texts}}
    inputs = {"prompt": args.texts, "num_chars": args.num_chars, "temperature": args.temperature}
    if args.top_k is None and args.seed is None:
        return {"inputs": inputs}
    inputs.update(top_k=args.top_k or 0, seed=args.seed if args.seed is not None else 0)
    return {"signature_name": "generate", "inputs": inputs}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("texts", nargs="+", help="prompts to continue (or texts to score with --score)")
    parser.add_argument("--num-chars", type=int, default=200, help="characters to generate (at most 2000)")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="sampling temperature; below 0.001 means greedy")
    parser.add_argument("--top-k", type=int, help="sample only from the k likeliest characters")
    parser.add_argument("--seed", type=int, help="random seed (same seed and request: same text)")
    parser.add_argument("--score", action="store_true", help="report bits per character instead")
    add_client_arguments(parser, "char_lm")
    args = parser.parse_args(argv)

    client = client_from_arguments(args)
    request = build_request(args)
    response = client.predict(inputs=request["inputs"], signature_name=request.get("signature_name"))
    if args.json:
        print(json.dumps(response, indent=2, ensure_ascii=False))
    elif args.score:
        scores = response["outputs"]
        for text, bits, count in zip(args.texts, scores["bits_per_char"], scores["num_chars"]):
            print(f"{bits:6.3f} bits/char over {count:5d} chars  {text[:60]!r}")
    else:
        for prompt, text in zip(args.texts, response["outputs"]):
            print(f"--- {prompt!r}\n{prompt}{text}")
    return response


if __name__ == "__main__":
    main()
