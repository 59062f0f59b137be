"""Load test: each app's export in one TensorFlow-only serving process, many concurrent REST calls for a fixed time.

Usage:
    python benchmarks/load_test.py          # every app; those without --models are quick-trained offline first
    python benchmarks/load_test.py --apps imdb_sentiment char_lm \
        --models imdb_sentiment=saved_models/imdb_sentiment char_lm=saved_models/char_lm   # given exports
    python benchmarks/load_test.py --seconds 60 --threads 8 --apps imdb_sentiment translator

For each model: start shared/runtime/bare_tf.py's REST server (a process that can import only TensorFlow, the stand-in
for TF Serving), warm it up with every example request and a short concurrent burst, record its resident
memory (RSS), then `--threads` client threads post the app's example requests in turn for `--seconds`. Each
request carries one input made from the app's offline example data (a review, a prompt, a sentence, a JPEG, a
video), as users send them. Records requests/s, p50/p99 latency, errors (any answer but HTTP 200), and RSS
after warm-up and at the end; memory may grow by at most `--memory-tolerance-mib` plus
`--memory-tolerance-fraction` of the warm RSS. Writes benchmarks/results/load_test.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks.common import RESULTS, machine
from shared.runtime.config import load_config
from shared.runtime.serving import BARE_TF_SCRIPT, latest_version

APPS = ("imdb_sentiment", "char_lm", "translator", "captioner", "video_tagger")
QUICK_FLAGS = {"char_lm": ["--epochs", "2"], "translator": ["--direction", "es-en"]}


# ------------------------------------------------------------------------------------ example requests
def example_requests(app: str, export: pathlib.Path, count: int = 16) -> list[dict]:
    """`count` TF Serving REST requests, one input each, from the app's offline example data."""
    from shared.runtime.serving import b64

    if app == "imdb_sentiment":
        from apps.imdb_sentiment.data import sample_reviews
        return [{"instances": [text]} for text in sample_reviews(count, seed=7).texts]
    if app == "char_lm":
        from apps.char_lm.data import load_sample
        text = load_sample(20000)
        prompts = [text[i * 997:i * 997 + 40] for i in range(count)]
        return [{"inputs": {"prompt": [prompt], "num_chars": 60, "temperature": 0.8}} for prompt in prompts]
    if app == "translator":
        from apps.translator.data import sample_pairs
        config = load_config(export)
        pairs = sample_pairs(count, seed=7)
        sources = pairs.spanish if config.get("direction", "en-es").startswith("es") else pairs.english
        return [{"instances": [sentence]} for sentence in sources]
    if app == "captioner":
        import numpy as np

        from apps.captioner.data import sample_scene
        rng = np.random.default_rng(7)
        return [{"instances": [b64(sample_scene(rng)[0])]} for _ in range(count)]
    if app == "video_tagger":
        from apps.video_tagger.data import generate_videos
        videos = generate_videos(count, seed=7)
        return [{"inputs": {"frames": frames.tolist()}} for frames in videos.inputs]
    raise ValueError(f"unknown app {app!r}; choose from {', '.join(APPS)}")


# ------------------------------------------------------------------------------------ the server process
def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class ServerProcess:
    """shared/runtime/bare_tf.py --serve in its own isolated process (python -I: only TensorFlow importable)."""

    def __init__(self, export: pathlib.Path, model: str):
        self.model = model
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(BARE_TF_SCRIPT), str(export), "--serve", "0", "--model-name", model],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"bare-TF server did not start:\n{self.process.stderr.read()[-4000:]}")
        self.port = json.loads(line)["listening"]

    def post(self, body: bytes, timeout: float = 120.0) -> int:
        """POST one predict request; the HTTP status (0 when the connection failed)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("POST", f"/v1/models/{self.model}:predict", body=body,
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return 0
        finally:
            connection.close()

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


# ------------------------------------------------------------------------------------ the load
def fire(server: ServerProcess, bodies: list[bytes], seconds: float, threads: int) -> dict:
    """`threads` clients posting `bodies` in turn until `seconds` pass: latencies (ms) and statuses."""
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()
    latencies, statuses = [], {}

    def client(offset):
        index = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status = server.post(bodies[index % len(bodies)])
            elapsed = 1000 * (time.perf_counter() - started)
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
            index += 1

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(client, range(threads)))
    return {"latencies": latencies, "statuses": statuses, "seconds": time.perf_counter() - started}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load_test(app: str, export: pathlib.Path, seconds: float, threads: int, warmup_seconds: float,
              tolerance_mib: float, tolerance_fraction: float) -> dict:
    """One app's load test; the result dict written to load_test.json."""
    bodies = [json.dumps(request).encode("utf-8") for request in example_requests(app, export)]
    server = ServerProcess(export, app)
    try:
        warmup_errors = sum(server.post(body) != 200 for body in bodies)  # every request shape traced once
        fire(server, bodies, warmup_seconds, threads)  # thread pools and allocator caches settle
        rss_warm = rss_mib(server.process.pid)
        run = fire(server, bodies, seconds, threads)
        rss_end = rss_mib(server.process.pid)
        alive = server.process.poll() is None
    finally:
        server.close()
    latencies = run["latencies"]
    ok = run["statuses"].get(200, 0)
    allowed = tolerance_mib + tolerance_fraction * rss_warm
    return {
        "export": str(export), "threads": threads, "seconds": run["seconds"],
        "requests": len(latencies), "errors": len(latencies) - ok + warmup_errors,
        "statuses": {str(status): count for status, count in sorted(run["statuses"].items())},
        "requests_per_second": ok / run["seconds"],
        "latency_ms": {"p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
                       "max": max(latencies)} if latencies else None,
        "rss_mib": {"after_warmup": rss_warm, "end": rss_end, "growth": rss_end - rss_warm,
                    "allowed_growth": allowed},
        "memory_bounded": rss_end - rss_warm <= allowed, "server_alive": alive,
        "example_inputs": len(bodies),
    }


def quick_exports(apps, root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Quick offline train-and-export of each app under `root` (a minute or two each on 2 CPU cores)."""
    import importlib

    exports = {}
    for app in apps:
        train = importlib.import_module(f"apps.{app}.train")
        metrics = train.main(["--sample", "--quick", "--no-check-export", "--output-dir", str(root / app / "run"),
                              "--export-dir", str(root / "saved_models"), *QUICK_FLAGS.get(app, [])])
        exports[app] = pathlib.Path(metrics["export_path"])
    return exports


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=[], metavar="APP=PATH",
                        help="exports to test (a version folder or a model folder)")
    parser.add_argument("--apps", nargs="+", default=list(APPS), choices=APPS,
                        help="which apps; those without an export in --models are quick-trained offline first")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured load per model")
    parser.add_argument("--threads", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="concurrent warm-up before measuring")
    parser.add_argument("--memory-tolerance-mib", type=float, default=64.0, help="allowed RSS growth, MiB ...")
    parser.add_argument("--memory-tolerance-fraction", type=float, default=0.10, help="... plus this share of RSS")
    parser.add_argument("--output", default=str(RESULTS / "load_test.json"), help="where the results go")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.threads < 1:
        raise ValueError(f"--seconds must be > 0 and --threads >= 1, got {args.seconds} and {args.threads}.")

    exports = {}
    for item in args.models:
        app, _, path = item.partition("=")
        if app not in APPS or not path:
            raise ValueError(f"--models takes APP=PATH with APP one of {', '.join(APPS)}; got {item!r}.")
        exports[app] = latest_version(path)
    apps = [app for app in args.apps if app not in exports]  # no export given: quick-train one
    temporary = tempfile.TemporaryDirectory(prefix="load_test_") if apps else None
    quick = quick_exports(apps, pathlib.Path(temporary.name)) if apps else {}

    results = {}
    for app, export in {**exports, **quick}.items():
        print(f"=== {app}: {args.threads} threads for {args.seconds:.0f} s against {export}", flush=True)
        results[app] = load_test(app, export, args.seconds, args.threads, args.warmup_seconds,
                                 args.memory_tolerance_mib, args.memory_tolerance_fraction)
        results[app]["quick_trained_export"] = app in quick
        print(json.dumps(results[app]), flush=True)
    if temporary:
        temporary.cleanup()

    report = {"app": "load_test", "results": results, "trained_quick_exports": sorted(quick),
              "machine": machine(),
              "command": " ".join(["python benchmarks/load_test.py", *(argv if argv is not None else sys.argv[1:])])}
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print("| app | requests/s | p50 ms | p99 ms | errors | RSS after warm-up -> end (MiB) |")
    for app, result in results.items():
        latency = result["latency_ms"] or {"p50": float("nan"), "p99": float("nan")}
        print(f"| {app} | {result['requests_per_second']:.1f} | {latency['p50']:.1f} | {latency['p99']:.1f} "
              f"| {result['errors']} | {result['rss_mib']['after_warmup']:.0f} -> {result['rss_mib']['end']:.0f} |")
    return report


if __name__ == "__main__":
    main()
