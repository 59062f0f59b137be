"""Which model a predict.py talks to: a local export, TF Serving over REST, or TF Serving over gRPC.

Home of: the client flags every predict.py shares (`add_client_arguments`) and the choice of client they
make (`client_from_arguments`). Every client answers the same `predict(instances=..., inputs=...)` with TF
Serving's REST JSON, so an app's predict.py is the same code whichever it gets:

    --model-dir saved_models/imdb_sentiment   LocalModel (shared/runtime/serving.py), in this process
    --server http://localhost:8501            RestClient (shared/runtime/serving.py)
    --server grpc://localhost:8500            GrpcClient (shared/runtime/grpc_client.py)

A module of its own so that serving.py (REST) and grpc_client.py (gRPC, which reuses serving's error type)
do not import each other.
"""

from __future__ import annotations

import argparse

from shared.runtime.serving import LocalModel, RestClient


def add_client_arguments(parser: argparse.ArgumentParser, app: str) -> None:
    """The flags every predict.py shares: where the model is (folder or server) and how to print."""
    parser.add_argument("--model-dir", default=f"saved_models/{app}",
                        help="a SavedModel version folder, or the model folder (its newest version is used)")
    parser.add_argument("--server", help="TF Serving: http://host:8501 (REST) or grpc://host:8500 (gRPC); "
                                         "overrides --model-dir")
    parser.add_argument("--model-name", default=app, help="the model's name on the server")
    parser.add_argument("--json", action="store_true", help="print the raw response JSON")


def client_from_arguments(args: argparse.Namespace):
    """A TF Serving client when --server is given (REST for http(s)://, gRPC for grpc://), else the local export.

    Raises:
        ValueError: a --server URL with another (or no) scheme.
    """
    if not args.server:
        return LocalModel(args.model_dir)
    scheme, _, address = args.server.partition("://")
    if scheme in ("http", "https") and address:
        return RestClient(args.server, args.model_name)
    if scheme == "grpc" and address:
        from shared.runtime.grpc_client import GrpcClient  # here: gRPC and TensorFlow load only when asked for

        return GrpcClient(address.rstrip("/"), args.model_name)
    raise ValueError(f"--server {args.server!r}: give http://host:8501 (TF Serving REST) or "
                     "grpc://host:8500 (TF Serving gRPC).")
