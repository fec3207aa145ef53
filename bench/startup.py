"""Start-up as a user starts it: ``python -m bench.startup [--repeats 5]``.

Seconds from ``python app.py`` (no ``--offline``, so the hub probe runs) to its first HTTP
200, against ``bench/bare_app.py`` (a bare gr.Blocks app with as many tabs), started
alternately so both see the same machine load. Two kinds of "no network":

- as here: no name server, so the probe fails at once;
- a silent hub: HF_ENDPOINT is a local socket that accepts and never answers, so the probe
  runs its whole timeout (captive portals and firewalls that drop packets do this).

Target (issue 13): app / bare <= 1.5.
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


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_200(cmd: list[str], env: dict[str, str]) -> float:
    """Start `cmd` on a free port; the seconds until it answers HTTP 200; then stop it."""
    port = _port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd + ["--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).status == 200:
                    return time.perf_counter() - t0
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"{cmd} did not start")
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(10)


def startup_as_a_user(repeats: int) -> dict[str, float]:
    """Medians of the bare app, app.py with no name server, app.py with a silent hub, and ratios."""
    from demos import TABS

    silent = socket.socket()  # accepts connections (the kernel's backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    user = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    user["GRADIO_ANALYTICS_ENABLED"] = "False"
    runs = {
        "bare": ([sys.executable, "bench/bare_app.py", "--tabs", str(len(TABS))], user),
        "app, no network": ([sys.executable, "app.py"], user),
        "app, silent hub": ([sys.executable, "app.py"],
                            {**user, "HF_ENDPOINT": f"http://127.0.0.1:{silent.getsockname()[1]}"}),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for _ in range(repeats):  # interleaved: every kind sees the same load
            for name, (cmd, env) in runs.items():
                times[name].append(time_to_200(cmd, env))
    finally:
        silent.close()
    out = {f"startup_s[{name}]": statistics.median(t) for name, t in times.items()}
    for name in ("app, no network", "app, silent hub"):
        out[f"startup_ratio[{name}]"] = out[f"startup_s[{name}]"] / out["startup_s[bare]"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = startup_as_a_user(args.repeats)
    width = max(map(len, rows))
    for k, v in rows.items():
        print(f"{k:<{width}}  {v:>7.3f}" + ("  target <= 1.5" if "ratio" in k else ""))


if __name__ == "__main__":
    main()
