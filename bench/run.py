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

from bench.blip import bundled_bench as blip_bench
from bench.detection import detect_bench, nms_bench
from bench.load import load_bench, memory_bench
from bench.masked import masked_bench
from bench.zero_shot import zero_shot_bench
from bench.segmentation import click_bench
from bench.timing import paired_ms

ROOT = Path(__file__).resolve().parents[1]
SHAPE = ROOT / "examples" / "shapes" / "yellow-star.png"
PHOTO = ROOT / "examples" / "photos" / "chelsea.png"
SCENE = ROOT / "examples" / "scenes" / "scene-1.png"
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


def first_answer(repeats: int) -> dict[str, float]:
    """From `python app.py` to the first /classify answer, the call sent as soon as the
    server answers HTTP: start-up and first call together, the worst case for a visitor."""
    from gradio_client import Client, handle_file

    times = []
    for _ in range(repeats):
        port = _port()
        t0 = time.perf_counter()
        proc, _ = _serve([sys.executable, "app.py", "--offline"], port)
        try:
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(handle_file(str(SHAPE)), api_name="/classify")
            times.append(time.perf_counter() - t0)
        finally:
            _stop(proc)
    return {"first_answer_from_launch_s": statistics.median(times)}


def pipeline_overhead(n: int) -> dict[str, float]:
    """A warm classify call against the raw forward of the same model on the same input.

    raw: model(x) on the already-prepared (1, 3, S, S) tensor. pipeline: the whole call
    (resize, crop, normalise, forward on the device, softmax, top-k, the model input for
    display, the model card), given the decoded picture; "from file" also decodes the file.
    """
    import timm
    import torch
    from PIL import Image

    from visionlab.models import LoadedModel, get_spec, load_model
    from visionlab.pipelines.classification import ClassificationPipeline

    out = {}
    resnet = timm.create_model("resnet50", pretrained=False).eval()  # real size, random weights
    spec = get_spec("resnet50")
    cases = {
        "shapes-resnet-tiny": (load_model("shapes-resnet-tiny"), SHAPE),
        "shapes-vit-tiny": (load_model("shapes-vit-tiny"), SHAPE),
        "resnet50 random weights": (LoadedModel(spec, spec, resnet, None, 0.0), PHOTO),
    }
    for name, (loaded, path) in cases.items():
        picture = Image.open(path).convert("RGB")
        pipe = ClassificationPipeline(loaded)
        x = pipe.preprocess(picture)["pixel_values"]

        def raw():
            with torch.inference_mode():
                loaded.model(x)

        full, base = paired_ms(lambda: ClassificationPipeline(loaded)(picture, top_k=5), raw, n)
        from_file, base2 = paired_ms(lambda: ClassificationPipeline(loaded)(str(path), top_k=5), raw, n)
        out[f"overhead_ratio[{name}]"] = full / base
        out[f"overhead_ratio_from_file[{name}]"] = from_file / base2
        out[f"raw_forward_ms[{name}]"] = base
        out[f"classify_ms[{name}]"] = full
    return out


def attention_overhead(n: int) -> dict[str, float]:
    """Attention extraction (hooks, unfused attention) plus rollout, against a plain forward
    of the same model on the same prepared input."""
    import timm
    import torch

    from visionlab.models import LoadedModel, get_spec, load_model
    from visionlab.ops.attention import rollout
    from visionlab.pipelines.attention import AttentionPipeline

    spec = get_spec("vit-base-16")
    vit_b = timm.create_model("vit_base_patch16_224", pretrained=False).eval()  # real size, random weights
    out = {}
    for name, loaded in {"shapes-vit-tiny": load_model("shapes-vit-tiny"),
                         "vit-b16 random weights": LoadedModel(spec, spec, vit_b, None, 0.0)}.items():
        pipe = AttentionPipeline(loaded)
        inputs = pipe.preprocess(str(PHOTO))

        def extract():
            rollout(pipe.forward(inputs)["attn"], "mean", 0.9)

        def plain():
            with torch.inference_mode():
                loaded.model(inputs["pixel_values"])

        a, b = paired_ms(extract, plain, n)
        out[f"attention_ratio[{name}]"] = a / b
    return out


TARGETS = {"startup_ratio": "<= 1.5", "first_offline_classify_s": "< 3 s",
           "attention_ratio[shapes-vit-tiny]": "<= 1.3", "attention_ratio[vit-b16 random weights]": "<= 1.3",
           "nms_time_ratio[1000 boxes]": "<= 3", "nms_time_ratio[5000 boxes]": "<= 3",
           "nms_same_indices[1000 boxes]": "= 1", "nms_same_indices[5000 boxes]": "= 1",
           "sam_click_over_set_image[vit_b random weights]": "<= 0.05",
           "memory_ratio[200 vs 20 requests]": "<= 1.2", "zero_shot_cache_speedup": ">= 1.8"}


def served(repeats: int, calls: int) -> dict[str, float]:
    """The benchmarks that need one running server: latency under load, memory over time."""
    port = _port()
    proc, _ = _serve([sys.executable, "app.py", "--offline"], port)
    try:
        url = f"http://127.0.0.1:{port}/"
        return {**load_bench(url, calls), **memory_bench(url, proc.pid)}
    finally:
        _stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    rows = {}
    rows.update(startup(args.repeats))
    rows.update(first_call(args.repeats))
    rows.update(first_answer(args.repeats))
    rows.update(pipeline_overhead(args.calls))
    rows.update(attention_overhead(args.calls))
    rows.update(nms_bench(args.calls))
    rows.update(detect_bench(args.calls, str(SCENE)))
    rows.update(zero_shot_bench(args.calls))
    rows.update(masked_bench(args.calls))
    rows.update(click_bench(args.repeats, str(PHOTO)))
    rows.update({f"blip_{k}": v for k, v in blip_bench(args.calls).items()})  # Ask the picture vs raw generate
    rows.update(served(args.repeats, min(args.calls, 10)))
    width = max(map(len, rows))
    print(f"{'figure':<{width}}  {'value':>10}  target")
    for k, v in rows.items():
        target = TARGETS.get(k, "<= 1.15" if k.startswith("overhead_ratio[") else "")
        print(f"{k:<{width}}  {v:>10.3f}  {target}")


if __name__ == "__main__":
    main()
