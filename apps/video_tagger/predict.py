"""Tag every frame of a video with the exported model: a local SavedModel or a TF Serving server.

Usage:
    python apps/video_tagger/predict.py clip.gif                      # a GIF (or .avi/.mp4 with OpenCV)
    python apps/video_tagger/predict.py --sample                      # a generated moving-square video
    python apps/video_tagger/predict.py --server http://localhost:8501 clip.gif   # TF Serving REST

One video per request, columnar form: {"inputs": {"frames": [[[[r, g, b], ...], ...], ...]}} (uint8
[time, height, width, 3]); the answer is {"outputs": {"tags": [time], "probabilities": [time][classes]}}.
Prints the tags as segments: "frames 0-11  left (0.97)".
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

from shared.serving import add_client_arguments, client_from_arguments


def load_video(path: str | None, seed: int) -> tuple[np.ndarray, list | None]:
    """(uint8 frames, true tags or None): a clip file, or a generated video when `path` is None."""
    if path is None:
        from apps.video_tagger import data
        video = data.generate_videos(1, seed)
        return video.inputs[0], [data.DIRECTIONS[label - 1] for label in video.labels[0]]
    from apps.video_tagger.clips import read_frames
    return read_frames(pathlib.Path(path)), None


def tag_segments(tags: list[str], probabilities: list) -> list[tuple[int, int, str, float]]:
    """Runs of equal tags as (first frame, last frame, tag, mean probability of the tag)."""
    runs, start = [], 0
    for t in range(1, len(tags) + 1):
        if t == len(tags) or tags[t] != tags[start]:
            runs.append((start, t - 1, tags[start], float(np.mean([max(p) for p in probabilities[start:t]]))))
            start = t
    return runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", nargs="?", help="a .gif (or .avi/.mp4 with OpenCV) clip")
    parser.add_argument("--sample", action="store_true", help="tag a generated moving-square video")
    parser.add_argument("--seed", type=int, default=0, help="which generated video (--sample)")
    add_client_arguments(parser, "video_tagger")
    args = parser.parse_args(argv)
    if (args.video is None) != args.sample:
        parser.error("give a video file, or --sample (not both)")

    frames, truth = load_video(args.video, args.seed)
    response = client_from_arguments(args).predict(inputs={"frames": frames.tolist()})
    if args.json:
        print(json.dumps(response))
        return response
    outputs = response["outputs"]
    print(f"{len(frames)} frames of {frames.shape[2]}x{frames.shape[1]}")
    for first, last, tag, probability in tag_segments(outputs["tags"], outputs["probabilities"]):
        print(f"frames {first:>4}-{last:<4} {tag:<16} ({probability:.2f})")
    if truth is not None:
        right = np.mean([a == b for a, b in zip(outputs["tags"], truth)])
        print(f"true segments: {[(f, l, t) for f, l, t, _ in tag_segments(truth, [[1.0]] * len(truth))]}")
        print(f"frame accuracy on this video: {right:.2f}")
    return response


if __name__ == "__main__":
    main()
