"""Tag every frame of a video with the exported model: a local SavedModel or a TF Serving server.

Usage:
    python apps/video_tagger/predict.py clip.avi                      # .avi/.mp4 (OpenCV) or .gif
    python apps/video_tagger/predict.py clip.avi --stream             # chunk by chunk, with the state
    python apps/video_tagger/predict.py --sample                      # a generated moving-square video
    python apps/video_tagger/predict.py --server http://localhost:8501 clip.avi   # TF Serving REST

A video file is sent as one JPEG per kept frame to the `jpeg_frames` signature ({"signature_name":
"jpeg_frames", "inputs": {"frames": [{"b64": ...}, ...]}}: some 40x smaller than the same frames as JSON
integers); `--send raw` sends uint8 frames to serving_default ({"inputs": {"frames": [[[[r, g, b], ...]]]}}),
which `--sample` uses. `--stream` sends `--chunk` frames at a time to the `stream` signature of a causal
export, each with the `state` the previous answer returned ([] for the first), as a live camera would.
Keep the frame step the model was trained with (`--frame-step`; read from a local export's config).
Prints the tags as segments with times: "  0.00-  4.40 s  frames    0-55   walking (0.97)".
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

from shared.runtime.clients import add_client_arguments, client_from_arguments
from shared.runtime.serving import b64, latest_version
from shared.runtime.config import load_config


def load_video(path: str | None, seed: int) -> tuple[np.ndarray, list | None, float]:
    """(uint8 frames, true tags or None, frames per second): a clip file, or a generated video."""
    if path is None:
        from apps.video_tagger import data
        video = data.generate_videos(1, seed)
        return video.inputs[0], [data.DIRECTIONS[label - 1] for label in video.labels[0]], 25.0
    from apps.video_tagger.data import frame_rate, read_frames
    return read_frames(pathlib.Path(path)), None, frame_rate(pathlib.Path(path))


def tag_segments(tags: list[str], probabilities: list) -> list[tuple[int, int, str, float]]:
    """Runs of equal tags as (first frame, last frame, tag, mean probability of the tag)."""
    runs, start = [], 0
    for t in range(1, len(tags) + 1):
        if t == len(tags) or tags[t] != tags[start]:
            runs.append((start, t - 1, tags[start], float(np.mean([max(p) for p in probabilities[start:t]]))))
            start = t
    return runs


def trained_frame_step(args) -> int:
    """The frame step of a local export (its assets.extra/config.json); 1 for a server or an old export."""
    if args.server:
        return 1
    try:
        folder = pathlib.Path(args.model_dir)
        folder = folder if (folder / "saved_model.pb").exists() else latest_version(folder)
        return int(load_config(folder).get("frame_step") or 1)
    except (OSError, ValueError):
        return 1


def request(frames: np.ndarray, send: str, state=None) -> dict:
    """The REST body for `frames`: JPEG files (jpeg_frames), raw uint8 (serving_default), or a stream chunk."""
    if state is not None:
        return {"signature_name": "stream", "inputs": {"frames": frames.tolist(), "state": state}}
    if send == "raw":
        return {"inputs": {"frames": frames.tolist()}}
    from apps.video_tagger.serve import jpeg_files
    return {"signature_name": "jpeg_frames", "inputs": {"frames": [b64(f) for f in jpeg_files(frames)]}}


def tag_video(client, frames: np.ndarray, send: str, stream: bool, chunk: int) -> dict:
    """{"tags", "probabilities"} for every frame: one request, or one per chunk carrying the state."""
    if not stream:
        return client.predict(**_body(request(frames, send)))["outputs"]
    tags, probabilities, state = [], [], []
    for start in range(0, len(frames), chunk):
        outputs = client.predict(**_body(request(frames[start:start + chunk], send, state)))["outputs"]
        tags += outputs["tags"]
        probabilities += outputs["probabilities"]
        state = outputs["state"]
    return {"tags": tags, "probabilities": probabilities}


def _body(body: dict) -> dict:
    return {"inputs": body["inputs"], "signature_name": body.get("signature_name")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", help="a .avi/.mp4 (OpenCV: pip install '.[video]') or .gif clip")
    parser.add_argument("--sample", action="store_true", help="tag a generated moving-square video")
    parser.add_argument("--seed", type=int, default=0, help="which generated video (--sample)")
    parser.add_argument("--send", choices=("jpeg", "raw"), help="JPEG files per frame (default for a file) or "
                        "raw uint8 frames (default for --sample)")
    parser.add_argument("--stream", action="store_true", help="send --chunk frames at a time with the state")
    parser.add_argument("--chunk", type=int, default=25, help="frames per --stream request")
    parser.add_argument("--frame-step", type=int, help="keep every n-th frame, as in training "
                        "(default: the local export's --frame-step, else 1)")
    add_client_arguments(parser, "video_tagger")
    args = parser.parse_args(argv)
    if (args.video is None) != args.sample:
        parser.error("give a video file, or --sample (not both)")

    frames, truth, fps = load_video(args.video, args.seed)
    step = args.frame_step or (1 if args.sample else trained_frame_step(args))
    frames = frames[::step]
    send = args.send or ("raw" if args.sample else "jpeg")
    outputs = tag_video(client_from_arguments(args), frames, send, args.stream, args.chunk)
    if args.json:
        print(json.dumps({"outputs": outputs}))
        return {"outputs": outputs}
    print(f"{len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} (1 in {step} of the {fps:g} fps video)")
    seconds = step / fps
    for first, last, tag, probability in tag_segments(outputs["tags"], outputs["probabilities"]):
        print(f"{first * seconds:7.2f}-{(last + 1) * seconds:7.2f} s  frames {first:>4}-{last:<4} {tag:<14} "
              f"({probability:.2f})")
    if truth is not None:
        right = np.mean([a == b for a, b in zip(outputs["tags"], truth)])
        print(f"true segments: {[(f, l, t) for f, l, t, _ in tag_segments(truth, [[1.0]] * len(truth))]}")
        print(f"frame accuracy on this video: {right:.2f}")
    return {"outputs": outputs}


if __name__ == "__main__":
    main()
