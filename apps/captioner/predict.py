"""Caption image files with the exported model: a local SavedModel or a TF Serving server.

Usage:
    python apps/captioner/predict.py photo.jpg other.png
    python apps/captioner/predict.py --greedy photo.jpg                        # greedy instead of beam search
    python apps/captioner/predict.py --server http://localhost:8501 photo.jpg  # TF Serving REST

Any image Pillow opens (JPEG, PNG, WebP, TIFF, ...) is sent as JPEG bytes, {"b64": ...} in a TF Serving
request {"instances": [...]}, at most 1024 pixels on its longest side (shared.runtime.serving.image_file_as_jpeg);
decoding, resizing, the encoder and the decoding loop all run inside the model.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from shared.runtime.clients import add_client_arguments, client_from_arguments
from shared.runtime.serving import b64, image_file_as_jpeg


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="+", help="image files: any format Pillow opens (JPEG, PNG, WebP, TIFF...)")
    add_client_arguments(parser, "captioner")
    parser.add_argument("--greedy", action="store_true", help="use the greedy signature (default: beam search)")
    args = parser.parse_args(argv)

    missing = [path for path in args.images if not pathlib.Path(path).is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    try:
        images = [b64(image_file_as_jpeg(path)) for path in args.images]
    except ValueError as error:
        parser.error(str(error))
    client = client_from_arguments(args)
    response = client.predict(instances=images,
                              signature_name="greedy" if args.greedy else None)
    if args.json:
        print(json.dumps(response, indent=2))
    else:
        for path, caption in zip(args.images, response["predictions"]):
            print(f"{path}: {caption}")
    return response


if __name__ == "__main__":
    main()
