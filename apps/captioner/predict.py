"""Caption image files with the exported model: a local SavedModel or a TF Serving server.

Usage:
    python apps/captioner/predict.py photo.jpg other.png
    python apps/captioner/predict.py --greedy photo.jpg                        # greedy instead of beam search
    python apps/captioner/predict.py --server http://localhost:8501 photo.jpg  # TF Serving REST

The files' bytes travel as {"b64": ...} in a TF Serving request, {"instances": [...]}; decoding, resizing,
the encoder and the decoding loop all run inside the model.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from shared.serving import LocalModel, RestClient, b64


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="+", help="JPEG, PNG, GIF or BMP files")
    parser.add_argument("--model-dir", default="saved_models/captioner",
                        help="a SavedModel version folder, or the model folder (newest version is used)")
    parser.add_argument("--server", help="TF Serving base URL, e.g. http://localhost:8501 (overrides --model-dir)")
    parser.add_argument("--model-name", default="captioner", help="the model's name on the server")
    parser.add_argument("--greedy", action="store_true", help="use the greedy signature (default: beam search)")
    parser.add_argument("--json", action="store_true", help="print the raw response JSON")
    args = parser.parse_args(argv)

    missing = [path for path in args.images if not pathlib.Path(path).is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    client = RestClient(args.server, args.model_name) if args.server else LocalModel(args.model_dir)
    response = client.predict(instances=[b64(pathlib.Path(path).read_bytes()) for path in args.images],
                              signature_name="greedy" if args.greedy else None)
    if args.json:
        print(json.dumps(response, indent=2))
    else:
        for path, caption in zip(args.images, response["predictions"]):
            print(f"{path}: {caption}")
    return response


if __name__ == "__main__":
    main()
