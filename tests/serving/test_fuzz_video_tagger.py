"""Property tests of the video_tagger export over REST: any frames in, a tag per frame or a clear error.

The export's documented bounds (apps/video_tagger/serve.py) decide which: a uint8 video [time, height,
width, 3] with 1-2000 frames and sides 16-1024 gets one tag and one probability row per frame, in either
REST form; any other rank, channel count, size or value (negative, over 255, fractional, text, null) is
refused with HTTP 400. The `jpeg_frames` signature gets one JPEG or PNG file per frame: any such files
within the limits get a tag each; anything else (other bytes, other image types, headers declaring sides
beyond the limits) is refused with HTTP 400.
"""

import io
import math

import numpy as np
from hypothesis import strategies as st
from PIL import Image

from tests.serving.strategies import as_rows, b64, check_any_request, check_property

APP = "video_tagger"
DIRECTIONS = ("left", "right", "up", "down")
MAX_FRAMES, MIN_SIDE, MAX_SIDE = 2000, 16, 1024

# Shapes near every bound, and small arbitrary ones of any rank. (Over 2000 frames is refused in
# tests/apps/video_tagger: 1.5 million JSON numbers are too slow for every property run.)
edge_shapes = st.sampled_from([(1, 16, 16, 3), (1, 15, 16, 3), (1, 16, 1024, 3), (1, 16, 1025, 3),
                               (33, 16, 17, 3), (2, 16, 16, 1), (2, 16, 16, 4),
                               (0, 16, 16, 3), (3, 0, 16, 3), (16, 16, 3), (1, 1, 16, 16, 3), (), (5,)])
small_shapes = st.one_of(
    st.tuples(st.integers(1, 12), st.integers(12, 40), st.integers(12, 40), st.sampled_from([3, 3, 3, 1, 4])),
    st.lists(st.integers(0, 20), max_size=5).map(tuple))
bad_values = st.sampled_from([-1, 256, 1.5, "7", None, True, [1, 2]])


def _valid(shape) -> bool:
    return (len(shape) == 4 and shape[3] == 3 and 1 <= shape[0] <= MAX_FRAMES
            and MIN_SIDE <= min(shape[1:3]) and max(shape[1:3]) <= MAX_SIDE)


def _video(shape, seed, bad):
    """Nested lists of uint8 values of `shape`, with `bad` (unless None) in place of the last value."""
    frames = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8).tolist()
    if bad is not None and not shape:
        return bad
    if bad is not None and math.prod(shape) > 0:
        inner = frames
        while isinstance(inner[-1], list):
            inner = inner[-1]
        inner[-1] = bad
    return frames


def test_any_video_gets_a_tag_per_frame_or_a_clear_error(served, budget):
    def check(shape, seed, bad, columnar):
        frames = _video(shape, seed, bad)
        if not columnar and not isinstance(frames, list):
            columnar = True  # a scalar cannot be a list of instances
        result = served.answer({"inputs": {"frames": frames}} if columnar else {"instances": frames})
        refused = not _valid(shape) or (bad is not None and math.prod(shape) > 0)
        assert (result is None) == refused, f"shape {shape}, bad value {bad!r}: {str(result)[:200]}"
        if result is None:
            return
        rows = as_rows(result) if columnar else result
        assert len(rows) == shape[0], f"{shape[0]} frames, {len(rows)} answers"
        for row in rows:
            assert row["tags"] in DIRECTIONS and len(row["probabilities"]) == len(DIRECTIONS), row
            assert abs(sum(row["probabilities"]) - 1.0) < 1e-4, row
            assert row["tags"] == DIRECTIONS[int(np.argmax(row["probabilities"]))], row

    check_property(budget, check, shape=st.one_of(small_shapes, edge_shapes), seed=st.integers(0, 2**32 - 1),
                   bad=st.one_of(st.none(), st.none(), bad_values), columnar=st.booleans())


def _image_file(height, width, kind, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, kind)
    return buffer.getvalue()


frame_files = st.one_of(
    st.tuples(st.integers(8, 40), st.integers(8, 40), st.sampled_from(["JPEG", "PNG", "PNG", "GIF", "BMP"]),
              st.integers(0, 2**32 - 1)),
    st.binary(max_size=40).map(lambda junk: (0, 0, junk, 0)))


def test_any_image_files_get_a_tag_each_or_a_clear_error(served, budget):
    def check(files):
        payloads = [kind if isinstance(kind, bytes) else _image_file(h, w, kind, seed) for h, w, kind, seed in files]
        result = served.answer({"signature_name": "jpeg_frames", "inputs": {"frames": [b64(p) for p in payloads]}})
        valid = bool(files) and all(kind in ("JPEG", "PNG") and min(h, w) >= MIN_SIDE for h, w, kind, _ in files)
        assert (result is not None) == valid, f"{[(h, w, k if isinstance(k, str) else k[:8]) for h, w, k, _ in files]}"
        if result is not None:
            assert len(result["tags"]) == len(files) and set(result["tags"]) <= set(DIRECTIONS)

    check_property(budget, check, files=st.lists(frame_files, max_size=4))


def test_any_request_is_answered_or_refused(served, budget):
    check_any_request(served, budget, ["serving_default", "jpeg_frames"], ["frames"])
