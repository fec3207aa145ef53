"""Run VisionLab under the real `spaces` (0.51.3) ZeroGPU machinery on a CPU machine.

What is real: the whole `spaces` package as a ZeroGPU Space runs it (`SPACES_ZERO_GPU=true`):
`spaces.GPU` forks one worker process per decorated function, pickles arguments and results
through its queues, asks the device API for a slot before every call (`/schedule`), lets the
worker in (`/allow`), releases the slot after it (`/release`, `fail=true` after an exception,
which discards the worker), turns an exception raised inside into "ZeroGPU worker error", and
patches torch in the process that imports it (`torch.cuda.is_available()` is True there, and
`.to("cuda")` in the importing thread is recorded, not done). The app is started the way a
user starts it, `app.main([...])`, and imports `spaces` where and when it does.

What is stood in for:
- the ZeroGPU device API (`SPACES_ZERO_DEVICE_API_URL`): `DeviceAPI`, a small HTTP server on
  127.0.0.1 in the test process. `/schedule` always answers a free, idle GPU (`idle: true`),
  so workers are reused as on a quiet Space; `/startup-report`, `/allow`, `/release` and any
  other path answer 200. Every call is recorded (`DeviceAPI.calls`).
- `spaces.zero.torch.init` and `spaces.zero.torch.move`, the two CUDA-only steps of a worker's
  start-up (make the GPU visible and touch it; copy the tensors the main process recorded with
  `.to("cuda")` onto it). They are replaced when `spaces.zero.torch` is first imported (an
  import hook, so the app's own import order is kept): `init` only sets CUDA_VISIBLE_DEVICES,
  `move` moves nothing and prints how many recorded tensors it would have moved. Tests force
  the CPU (`VISIONLAB_DEVICE=cpu`, see tests/conftest.py), so the app records no tensor and
  the count should be 0.

The launcher prints to the log which thread imported `spaces` (and whether torch was imported
first), each worker's start, and what `move` would have moved; the app's loader prints one
line per model load. All processes of the app (workers too) write to the same log.

`serve_zerogpu_app` runs the launcher; by hand (it then serves the device API itself; the
CPU must be forced, since under `spaces` torch reports a GPU):

    python -m tests.system.zerogpu --offline --device cpu --port 7861
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]


# -- the device API --------------------------------------------------------------------------

class DeviceAPI:
    """A stand-in for the ZeroGPU device API on 127.0.0.1 (see the module doc). Use as a
    context manager; `url` is what SPACES_ZERO_DEVICE_API_URL gets, `calls` lists
    (path, query dict) in arrival order."""

    def __init__(self):
        self.calls: list[tuple[str, dict[str, str]]] = []
        self._lock, self._tokens = threading.Lock(), itertools.count(1)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                api._answer(self)

            do_GET = do_POST

            def log_message(self, *args):  # quiet: `calls` is the record
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if length := int(request.headers.get("Content-Length") or 0):
            request.rfile.read(length)
        with self._lock:
            self.calls.append((url.path, query))
            token = f"emulated-{next(self._tokens)}"
        body = None
        if url.path == "/schedule":
            body = {"idle": True, "nvidiaIndex": 0, "nvidiaUUID": "GPU-emulated-0", "allowToken": token}
        elif url.path == "/queue-size":
            body = 0.0
        data = json.dumps(body).encode() if body is not None else b""
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def count(self, path: str, **query: str) -> int:
        """How many calls to `path` carried all of `query` (e.g. count("/release", fail="True"))."""
        with self._lock:
            return sum(p == path and all(q.get(k) == v for k, v in query.items()) for p, q in self.calls)

    def __enter__(self) -> "DeviceAPI":
        threading.Thread(target=self._server.serve_forever, name="zerogpu-device-api", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- the launcher (runs in the app's process) ------------------------------------------------

def _cpu_init(nvidia_uuid: str) -> None:
    """Stands in for `spaces.zero.torch.init`, which also runs `torch.Tensor([0]).cuda()`."""
    os.environ["CUDA_VISIBLE_DEVICES"] = nvidia_uuid
    print(f"ZeroGPU emulation: worker pid {os.getpid()} started", file=sys.stderr, flush=True)


def _cpu_move(callback=None) -> None:
    """Stands in for `spaces.zero.torch.move`: moves nothing, says what it would have moved."""
    from spaces.zero.torch import patching

    tensors = [t for t in patching.cuda_aliases.values() if t is not None]
    size = sum(t.numel() * t.element_size() for t in tensors) + sum(p.total_size for p in patching.tensor_packs)
    print(f"ZeroGPU emulation: worker pid {os.getpid()} would move {len(tensors)} tensors "
          f"({size} bytes) recorded by .to('cuda') to the GPU", file=sys.stderr, flush=True)


class _StandInsOnImport(importlib.abc.MetaPathFinder):
    """Replaces `init` and `move` in `spaces.zero.torch` right after that module executes,
    whenever and from wherever the app first imports `spaces`; says in the log which thread
    imported `spaces` and whether torch was there first (torch's patching is per thread)."""

    torch_first = False

    def find_spec(self, name, path, target=None):
        if name == "spaces":  # gradio's own `import spaces` fails while gradio is half imported
            self.torch_first = "torch" in sys.modules
        if name != "spaces.zero.torch":
            return None
        print(f"ZeroGPU emulation: spaces imported in thread {threading.current_thread().name} "
              f"(torch imported before it: {self.torch_first})", file=sys.stderr, flush=True)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            module.init, module.move = _cpu_init, _cpu_move

        spec.loader.exec_module = exec_module
        return spec


def launch(argv: list[str]) -> None:
    """`app.main(argv)` under the ZeroGPU machinery, with the device API that
    SPACES_ZERO_DEVICE_API_URL names (or one of its own)."""
    os.environ["SPACES_ZERO_GPU"] = "true"
    if not os.environ.get("SPACES_ZERO_DEVICE_API_URL"):  # run by hand: serve the device API here
        os.environ["SPACES_ZERO_DEVICE_API_URL"] = DeviceAPI().__enter__().url
    assert "spaces" not in sys.modules, "spaces was imported before the stand-ins were installed"
    sys.meta_path.insert(0, _StandInsOnImport())
    import app

    app.main(argv)


# -- the harness (runs in the test process) --------------------------------------------------

class ZeroGPUApp(NamedTuple):
    url: str
    process: subprocess.Popen
    log_path: Path
    device_api: DeviceAPI
    start_seconds: float  # from the process start to the first HTTP 200


@contextmanager
def serve_zerogpu_app(log_path: Path, env: dict[str, str] | None = None, start_timeout: float = 120):
    """The app under ZeroGPU emulation on a free port, with its own device API. Yields a
    `ZeroGPUApp` (url, process, log_path, device_api, start_seconds) as soon as the page
    answers HTTP 200.
    The app, its forked workers and anything else in its process group write to `log_path`
    and are killed at the end."""
    from tests.conftest import free_port

    port = free_port()
    offload = log_path.with_suffix(".zerogpu-tensors")  # spaces empties this folder when it packs
    with DeviceAPI() as api, open(log_path, "w") as log:
        environment = {**os.environ, "SPACES_ZERO_GPU": "true", "SPACES_ZERO_DEVICE_API_URL": api.url,
                       "ZEROGPU_OFFLOAD_DIR": str(offload), "PYTHONUNBUFFERED": "1", **(env or {})}
        proc = subprocess.Popen([sys.executable, "-m", "tests.system.zerogpu", "--offline", "--port", str(port)],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment,
                                start_new_session=True)  # its own process group: workers die with it
        url = f"http://127.0.0.1:{port}/"
        try:
            t0 = time.monotonic()
            deadline = t0 + start_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the app exited early (code {proc.returncode}); see {log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the app did not answer within {start_timeout:.0f} s; see {log_path}")
                try:
                    if urllib.request.urlopen(url, timeout=2).status == 200:
                        break
                except OSError:
                    time.sleep(0.2)
            yield ZeroGPUApp(url, proc, log_path, api, round(time.monotonic() - t0, 2))
        finally:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the app's process group; after 10 s, SIGKILL to whatever is left of the
    group (forked workers outlive their parent otherwise)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)


if __name__ == "__main__":
    launch(sys.argv[1:])
