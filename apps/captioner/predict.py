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

from shared.serving import add_client_arguments, b64, client_from_arguments


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="+", help="JPEG, PNG, GIF or BMP files")
    add_client_arguments(parser, "captioner")
    parser.add_argument("--greedy", action="store_true", help="use the greedy signature (default: beam search)")
    args = parser.parse_args(argv)

    missing = [path for path in args.images if not pathlib.Path(path).is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    client = client_from_arguments(args)
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
