"""Shared fixtures. Tests run on the CPU, offline, with nothing downloaded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
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


@pytest.fixture(scope="session", autouse=True)
def temp_dir_inside_pytests(tmp_path_factory):
    """This process's temp folder is one of pytest's (pytest keeps the last three runs'): gradio_client
    downloads every output file through a new folder there and leaves it behind, empty (hundreds a
    run, straight in /tmp before this)."""
    import tempfile

    before = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tempdir"))
    yield
    tempfile.tempdir = before


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests leave screenshots and other artefacts worth looking at."""
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    return out


@contextmanager
def serve_app(log_path: Path, env: dict[str, str] | None = None):
    """`python app.py --offline` on a free port, as a user would start it; yields (url, process)."""
    port = free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--offline", "--port", str(port)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    try:
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited early; see {log_path}")
            try:
                if urllib.request.urlopen(url, timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("app did not answer within 90 s")
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def app_server(output_dir):
    """The app every system test shares: (url, process)."""
    with serve_app(output_dir / "app-server.log") as server:
        yield server


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server[0]


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")
