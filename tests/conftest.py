"""Shared fixtures. Tests run on the CPU, offline, with nothing downloaded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ["HF_HUB_OFFLINE"] = "1"          # never wait on a hub in tests
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("VISIONLAB_DEVICE", "cpu")
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests leave screenshots and other artefacts worth looking at."""
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    return out


@pytest.fixture(scope="session")
def app_url(output_dir):
    """`python app.py --offline` on a free port, as a user would start it; yields its URL."""
    port = free_port()
    log = open(output_dir / "app-server.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--offline", "--port", str(port)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited early; see {output_dir / 'app-server.log'}")
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("app did not answer within 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
