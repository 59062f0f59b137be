"""What a request costs at each serving limit: the request just over it and the largest accepted one.

Usage:
    python benchmarks/limits.py                        # train the four quick exports into a temporary folder
    python benchmarks/limits.py --export-root DIR      # or use DIR/<app>/<N>/ (the latest N of each app)

Every case runs in a fresh TensorFlow-only process (shared/runtime/bare_tf.py via shared.runtime.serving.check_saved_model):
the export is loaded, a small request of the same signature warms it up, then the case's request is timed.
"peak_rss_growth_mb" is the process's peak resident memory during that one call (Linux VmHWM, reset just
before it) minus its resident memory just before it; the request was already parsed from JSON. The
stand-in REST server's own limits are measured over HTTP the same way, on the server process (JSON parsing
included). Writes benchmarks/results/limits.json.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.request

from PIL import Image

from apps.captioner.serve import MAX_IMAGES
from apps.char_lm import serve as char_lm
from apps.imdb_sentiment import serve as imdb
from apps.translator import serve as translator_serve
from benchmarks.common import RESULTS, machine
from shared.runtime import bare_tf
from shared.runtime.serving import _bare_tf_command, check_saved_model, latest_version
from shared.modeling.vision import MAX_PIXELS
from tests.conftest import QUICK_FLAGS, quick_argv

APPS = ("imdb_sentiment", "char_lm", "translator", "captioner")


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode("ascii")}


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
    """A tiny real JPEG whose frame header is rewritten to declare width x height (a decompression bomb)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    frame = data.find(b"\xff\xc0")
    data[frame + 5:frame + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def gif_of_frames(frames: int, side: int) -> bytes:
    """A GIF of `frames` full side x side frames: one encoded frame's blocks repeated (as the issue's bomb)."""
    buffer = io.BytesIO()
    Image.new("P", (side, side)).save(buffer, format="GIF")
    data = buffer.getvalue()
    start = data.index(b"\x2c", 13 + 3 * 2 ** ((data[10] & 7) + 1) if data[10] & 128 else 13)
    return data[:start] + data[start:-1] * frames + b"\x3b"


def cases() -> list[dict]:
    """(limit, kind, app, request): for each limit the request just over it and the largest accepted one."""
    review = "!" * imdb.MAX_TEXT_BYTES  # punctuation: every byte becomes a token, the costliest text
    over_texts, at_texts = [review] * (imdb.MAX_TEXTS + 1), [review] * imdb.MAX_TEXTS
    sentence, punctuation = "!" * translator_serve.MAX_TEXT_BYTES, {"instances": ["!?." * 350_000] * 50}
    rows = char_lm.MAX_GENERATED_CHARS // char_lm.MAX_NEW_CHARS
    prompt = lambda prompts, count: {  # noqa: E731
        "inputs": {"prompt": prompts, "num_chars": count, "temperature": 1.0}}
    score = lambda texts: {"signature_name": "score", "inputs": {"text": texts}}  # noqa: E731
    scored_rows = char_lm.MAX_SCORED_CHARS // char_lm.MAX_SCORE_CHARS
    side = int(MAX_PIXELS ** 0.5)
    tiny = b64(png(8, 8))
    table = [
        ("imdb_sentiment: texts per request", "over", "imdb_sentiment", {"instances": over_texts}),
        ("imdb_sentiment: texts per request", "largest accepted", "imdb_sentiment", {"instances": at_texts}),
        ("imdb_sentiment: bytes per text (cut)", "50 x 1 MB punctuation", "imdb_sentiment", punctuation),
        ("translator: texts per request", "over", "translator",
         {"instances": [sentence] * (translator_serve.MAX_TEXTS + 1)}),
        ("translator: texts per request", "largest accepted", "translator",
         {"instances": [sentence] * translator_serve.MAX_TEXTS}),
        ("translator: bytes per text (cut)", "50 x 1 MB punctuation", "translator", punctuation),
        ("char_lm: prompts x num_chars", "over", "char_lm",
         prompt(["ROMEO:"] * (rows + 1), char_lm.MAX_NEW_CHARS)),
        ("char_lm: prompts x num_chars", "largest accepted", "char_lm",
         prompt(["ROMEO:"] * rows, char_lm.MAX_NEW_CHARS)),
        ("char_lm: prompts x num_chars", "issue: 1000 prompts x 2000", "char_lm", prompt(["x" * 2000] * 1000, 2000)),
        ("char_lm: prompts per request", "over", "char_lm", prompt(["x" * 1000] * (char_lm.MAX_ROWS + 1), 1)),
        ("char_lm: prompts per request", "largest accepted", "char_lm",
         prompt(["x" * 1000] * char_lm.MAX_ROWS, char_lm.MAX_GENERATED_CHARS // char_lm.MAX_ROWS)),
        ("char_lm: prompt bytes (cut to the end)", "issue: 50 x 1 MB prompts", "char_lm",
         prompt(["x" * 2**20] * 50, 10)),
        ("char_lm: score texts x longest", "over", "char_lm",
         score(["x" * char_lm.MAX_SCORE_CHARS] * (scored_rows + 1))),
        ("char_lm: score texts x longest", "largest accepted", "char_lm",
         score(["x" * char_lm.MAX_SCORE_CHARS] * scored_rows)),
        ("char_lm: score texts x longest", "issue: 100 x 20,000", "char_lm", score(["x" * 20_000] * 100)),
        ("char_lm: score texts per request", "over", "char_lm", score(["x"] * (char_lm.MAX_ROWS + 1))),
        ("captioner: images per request", "over", "captioner", {"instances": [tiny] * (MAX_IMAGES + 1)}),
        ("captioner: images per request", "largest accepted", "captioner",
         {"signature_name": "greedy", "instances": [b64(png(side, side))] * MAX_IMAGES}),
        ("captioner: declared pixels per image", "over", "captioner",
         {"signature_name": "greedy", "instances": [b64(png(side + 1, side))]}),
        ("captioner: declared pixels per image", "largest accepted", "captioner",
         {"signature_name": "greedy", "instances": [b64(png(side, side))]}),
        ("captioner: declared pixels per image", "issue: 694-byte JPEG of 13376 x 13376", "captioner",
         {"instances": [b64(jpeg_declaring(13376, 13376))]}),
        ("captioner: declared pixels per image", "issue: 8 JPEG bombs", "captioner",
         {"instances": [b64(jpeg_declaring(13376, 13376))] * 8}),
        ("captioner: declared pixels per image", "issue: PNG of 20000 x 20000", "captioner",
         {"instances": [b64(png(20000, 20000))]}),
        ("captioner: GIF frames (first frame only)", "issue: GIF of 3000 frames of 1000 x 1000", "captioner",
         {"instances": [b64(gif_of_frames(3000, 1000))]}),
    ]
    warm = {"imdb_sentiment": {"instances": ["fine"]}, "translator": {"instances": ["hola"]},
            "char_lm": prompt(["a"], 1), "captioner": {"instances": [tiny]}}
    result = []
    for limit, kind, app, request in table:
        signature = request.get("signature_name")
        warm_up = dict(warm[app], **({"signature_name": signature} if signature else {}))
        if signature == "score":
            warm_up = score(["a"])
        result.append({"limit": limit, "kind": kind, "app": app, "request": request, "warm_up": warm_up})
    return result


def measure(export: pathlib.Path, case: dict) -> dict:
    body = json.dumps(case["request"]).encode()
    _, target = check_saved_model(export, [case["warm_up"], case["request"]], timeout=1800)["results"]
    response = target["response"]
    return {"limit": case["limit"], "kind": case["kind"], "status": target["status"],
            "request_bytes": len(body), "ms": round(target["first_call_ms"], 1),
            "peak_rss_growth_mb": round(target["peak_rss_mb"] - target["rss_before_mb"], 1),
            "peak_rss_mb": round(target["peak_rss_mb"], 1),
            "error": response.get("error", "")[:300] if target["status"] != 200 else None}


def _memory_mb(pid: int, field: str) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak(pid: int) -> float:
    """Set the server process's peak (VmHWM) back to its RSS (Linux) -> that RSS in MB."""
    pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _memory_mb(pid, "VmRSS")


def rest_cases(export: pathlib.Path) -> list[dict]:
    """The stand-in REST server's limits, over HTTP (imdb_sentiment's export behind it)."""
    process = subprocess.Popen(_bare_tf_command(export, "--serve", 0, "--model-name", "imdb_sentiment"),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{json.loads(process.stdout.readline())['listening']}/v1/models/imdb_sentiment:predict"
    at_cap = b'{"instances": [' + b'"",' * ((bare_tf.MAX_BODY_BYTES - 40) // 3) + b'""]}'
    table = [("REST body size", "over: 50 MB of 10M strings", b'{"instances": [' + b'"a",' * 12_500_000 + b'""]}'),
             ("REST body size", "at the cap: 16 MiB of 5.6M empty strings (read; the graph refuses the rows)", at_cap),
             ("REST base64", "invalid base64", b'{"instances": [{"b64": "@@@@"}]}')]
    results = []
    try:
        urllib.request.urlopen(urllib.request.Request(url, b'{"instances": ["warm"]}'), timeout=600).read()
        for limit, kind, body in table:
            before, started = _reset_peak(process.pid), time.perf_counter()
            try:
                with urllib.request.urlopen(urllib.request.Request(url, body), timeout=600) as response:
                    status, reply = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, reply = error.code, error.read()
            results.append({"limit": limit, "kind": kind, "status": status, "request_bytes": len(body),
                            "ms": round(1000 * (time.perf_counter() - started), 1),
                            "peak_rss_growth_mb": round(_memory_mb(process.pid, "VmHWM") - before, 1),
                            "peak_rss_mb": round(_memory_mb(process.pid, "VmHWM"), 1),
                            "error": json.loads(reply).get("error", "")[:300] if status != 200 else None})
    finally:
        process.terminate()
        process.wait(timeout=60)
    return results


def quick_exports(root: pathlib.Path) -> dict:
    exports = {}
    for app in APPS:
        train = __import__(f"apps.{app}.train", fromlist=["main"])
        exports[app] = pathlib.Path(train.main(quick_argv(root / app, *QUICK_FLAGS[app]))["export_path"])
    return exports


def markdown(cases: list[dict]) -> str:
    """The results as the README table: limit, request, answer, ms, peak memory growth."""
    lines = ["| limit | request | answer | ms | peak RSS growth (MB) |", "|---|---|---|---|---|"]
    for case in cases:
        answer = "200" if case["status"] == 200 else f"{case['status']} refused"
        lines.append(f"| {case['limit']} | {case['kind']} ({case['request_bytes']:,} bytes) | {answer} | "
                     f"{case['ms']:,.0f} | {round(case['peak_rss_growth_mb']):,} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--export-root", help="a folder holding <app>/<N>/ exports (default: train quick ones)")
    parser.add_argument("--only", help="run only the cases whose limit contains this text")
    parser.add_argument("--table", action="store_true", help="print results/limits.json as a table and stop")
    args = parser.parse_args(argv)
    if args.table:
        return print(markdown(json.loads((RESULTS / "limits.json").read_text())["cases"]))
    with tempfile.TemporaryDirectory() as scratch:
        exports = ({app: latest_version(pathlib.Path(args.export_root) / app) for app in APPS} if args.export_root
                   else quick_exports(pathlib.Path(scratch)))
        results = []
        for case in cases():
            if args.only and args.only not in case["limit"]:
                continue
            results.append(measure(exports[case["app"]], case))
            print(json.dumps(results[-1]), flush=True)
        if not args.only or "REST" in args.only:
            results += rest_cases(exports["imdb_sentiment"])
            print(json.dumps(results[-3:]), flush=True)
    result = {"cases": results, "exports": {app: str(path) for app, path in exports.items()},
              "machine": machine(),
              "command": " ".join(["python benchmarks/limits.py", *(sys.argv[1:] if argv is None else argv)])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("limits.json" if not args.only else "limits_partial.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(results))
    print(path)


if __name__ == "__main__":
    main()
