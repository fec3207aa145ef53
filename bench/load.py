"""Load and memory benchmarks against a running `python app.py --offline`.

load: /classify latency (median, p95) with 8 concurrent clients against one client alone, for
a picture of the user's own (the model runs every time) and for an example picture (answered
from the lazy example cache after the first call, as when a class clicks the same example).
memory: the server's resident memory after 200 mixed requests against after the first 20
(the model LRU must keep it flat; own pictures, so every request runs its model).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAR = ROOT / "examples" / "shapes" / "yellow-star.png"
SCENE = ROOT / "examples" / "scenes" / "scene-2.png"
MIXED = [("/classify", STAR, ()), ("/attention", STAR, ()), ("/detect", SCENE, ()),
         ("/segment", SCENE, ("[[40, 40]]",)), ("/zero_shot", STAR, ()), ("/reconstruct", STAR, ())]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def own_picture(example: Path = STAR) -> Path:
    """An example with one extra byte: the same pixels, but not an example file (never cached)."""
    path = Path(tempfile.mkdtemp()) / f"my-{example.name}"
    path.write_bytes(example.read_bytes() + b"\0")
    return path


def _latencies(url: str, clients: int, calls: int, picture: Path) -> list[float]:
    from gradio_client import Client, handle_file

    def one(_):
        c = Client(url, verbose=False)
        out = []
        for _ in range(calls):
            t0 = time.perf_counter()
            c.predict(handle_file(str(picture)), api_name="/classify")
            out.append(time.perf_counter() - t0)
        return out

    with ThreadPoolExecutor(clients) as pool:
        return [t for ts in pool.map(one, range(clients)) for t in ts]


def load_bench(url: str, calls: int = 10) -> dict[str, float]:
    p95 = lambda xs: statistics.quantiles(xs, n=20)[-1]     # noqa: E731
    figures = {}
    for name, picture in (("classify", own_picture()), ("classify_example", STAR)):
        _latencies(url, 1, 2, picture)                      # warm (and, for the example, cache)
        alone = _latencies(url, 1, calls, picture)
        crowd = _latencies(url, 8, calls, picture)
        figures |= {f"{name}_median_ratio[8 clients vs 1]": statistics.median(crowd) / statistics.median(alone),
                    f"{name}_p95_ratio[8 clients vs 1]": p95(crowd) / p95(alone),
                    f"{name}_median_ms[1 client]": statistics.median(alone) * 1e3}
    return figures


def memory_bench(url: str, pid: int, requests: int = 200) -> dict[str, float]:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    mixed = [(api, own_picture(picture), rest) for api, picture, rest in MIXED if api in names]  # models run
    after_20 = None
    for i in range(requests):
        api_name, picture, rest = mixed[i % len(mixed)]
        client.predict(handle_file(str(picture)), *rest, api_name=api_name)
        if i + 1 == 20:
            after_20 = _rss_mb(pid)
    end = _rss_mb(pid)
    return {"memory_ratio[200 vs 20 requests]": end / after_20, "memory_mb_after_200": end}
