"""VisionLab benchmarks: ``python -m bench.run`` (or ``make bench``) prints one table.

Every figure is a ratio against a baseline measured side by side in the same run (or an
absolute time where the issue sets an absolute target). Medians over repeats.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPE = ROOT / "examples" / "shapes" / "yellow-star.png"
PHOTO = ROOT / "examples" / "photos" / "chelsea.png"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(cmd: list[str], port: int) -> tuple[subprocess.Popen, float]:
    """Start a server; return it and the seconds until its first HTTP 200."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd + ["--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).status == 200:
                return proc, time.perf_counter() - t0
        except OSError:
            if proc.poll() is not None or time.perf_counter() - t0 > 120:
                raise RuntimeError(f"{cmd} did not start")
            time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(10)


def startup(repeats: int) -> dict[str, float]:
    """`python app.py` to first HTTP 200, against a bare Blocks app with as many tabs."""
    from demos import TABS

    app, bare = [], []
    for _ in range(repeats):  # alternate, so both see the same machine load
        p, t = _serve([sys.executable, "app.py", "--offline"], _port())
        _stop(p)
        app.append(t)
        p, t = _serve([sys.executable, "bench/bare_app.py", "--tabs", str(len(TABS))], _port())
        _stop(p)
        bare.append(t)
    a, b = statistics.median(app), statistics.median(bare)
    return {"startup_app_s": a, "startup_bare_s": b, "startup_ratio": a / b}


def first_call(repeats: int) -> dict[str, float]:
    """First offline /classify on a fresh server, bundled model load included."""
    from gradio_client import Client, handle_file

    times = []
    for _ in range(repeats):
        port = _port()
        proc, _ = _serve([sys.executable, "app.py", "--offline"], port)
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            t0 = time.perf_counter()
            client.predict(handle_file(str(SHAPE)), api_name="/classify")
            times.append(time.perf_counter() - t0)
        finally:
            _stop(proc)
    return {"first_offline_classify_s": statistics.median(times)}


def _median_ms(fn, n: int) -> float:
    fn()  # warm
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(out)


def pipeline_overhead(n: int) -> dict[str, float]:
    """A warm classify call (decode, resize, normalise, forward, top-k) against the raw forward
    of the same model on the same, already-prepared input tensor."""
    import timm
    import torch

    from visionlab.models import LoadedModel, get_spec, load_model
    from visionlab.pipelines.classification import ClassificationPipeline

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out = {}
    resnet = timm.create_model("resnet50", pretrained=False).eval()  # real size, random weights
    cases = {
        "shapes-resnet-tiny": (load_model("shapes-resnet-tiny"), SHAPE),
        "shapes-vit-tiny": (load_model("shapes-vit-tiny"), SHAPE),
        "resnet50 (random weights)": (LoadedModel(get_spec("resnet50"), get_spec("resnet50"), resnet, None, 0.0), PHOTO),
    }
    for name, (loaded, path) in cases.items():
        pipe = ClassificationPipeline(loaded)
        x = pipe.preprocess(str(path))["pixel_values"]
        with torch.inference_mode():
            raw = _median_ms(lambda: loaded.model(x), n)
        full = _median_ms(lambda: ClassificationPipeline(loaded)(str(path), top_k=5), n)
        out[f"overhead_ratio[{name}]"] = full / raw
        out[f"raw_forward_ms[{name}]"] = raw
        out[f"classify_ms[{name}]"] = full
    return out


TARGETS = {"startup_ratio": "<= 1.5", "first_offline_classify_s": "< 3 s"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    rows = {}
    rows.update(startup(args.repeats))
    rows.update(first_call(args.repeats))
    rows.update(pipeline_overhead(args.calls))
    width = max(map(len, rows))
    print(f"{'figure':<{width}}  {'value':>10}  target")
    for k, v in rows.items():
        target = TARGETS.get(k, "<= 1.15" if k.startswith("overhead_ratio") else "")
        print(f"{k:<{width}}  {v:>10.3f}  {target}")


if __name__ == "__main__":
    main()
