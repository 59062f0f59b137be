"""What train.py exports: the signatures the config allows, and one check request for each.

    serving_default  uint8 frames of one video -> tags, probabilities
    jpeg_frames      one JPEG/PNG file per frame -> tags, probabilities (a request 10-50x smaller)
    stream           a chunk of a video and the previous answer's state -> tags, probabilities, state;
                     only for models that never look ahead (--temporal causal or none)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from apps.video_tagger.serving import jpeg_signature, make_serving_function, serving_signature
from apps.video_tagger.streaming import build_stream_layers, make_stream_function, stream_signature
from shared.runtime.serving import b64

CHECK_FRAMES = 6  # frames of a test video sent to the export in the bare-TF check


def export_endpoints(config, frame_encoder, tagger, class_names) -> tuple[dict, list]:
    """({signature name: (function, input signature)}, the objects whose variables the export keeps)."""
    common = dict(image_size=config.size, motion=config.motion, max_frames=config.max_request_frames)
    endpoints = {
        "serving_default": (make_serving_function(frame_encoder, tagger, class_names, **common),
                            serving_signature()),
        "jpeg_frames": (make_serving_function(frame_encoder, tagger, class_names, encoded=True, **common),
                        jpeg_signature())}
    track = [frame_encoder, tagger]
    if config.temporal != "bidirectional":
        stream_layers = build_stream_layers(tagger, config)
        endpoints["stream"] = (make_stream_function(frame_encoder, tagger, stream_layers, class_names, config,
                                                    config.max_request_frames), stream_signature())
        track += stream_layers
    return endpoints, track


def jpeg_files(frames: np.ndarray, quality: int = 90) -> list[bytes]:
    """uint8 frames [time, h, w, 3] -> one JPEG file per frame (what a client sends to jpeg_frames)."""
    return [tf.io.encode_jpeg(frame, quality=quality).numpy() for frame in frames]


def check_requests(frames: np.ndarray, stream: bool) -> list[dict]:
    """One REST request per signature with the same frames: the bare-TF check and TF Serving's warm-up."""
    requests = [{"inputs": {"frames": frames.tolist()}},
                {"signature_name": "jpeg_frames", "inputs": {"frames": [b64(f) for f in jpeg_files(frames)]}}]
    if stream:
        requests.append({"signature_name": "stream", "inputs": {"frames": frames.tolist(), "state": []}})
    return requests
