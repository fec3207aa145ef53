"""Is the Hugging Face Hub reachable? Find out in about a second, and never make a request wait.

A plain `from_pretrained` with no network retries for 30-50 s. Instead, one short HTTP
probe decides. `start_probe()` sends it in a background thread (app.py calls it first
thing, so the probe overlaps the start-up imports); the first `hub_status()` waits for
that answer (at most about PROBE_TIMEOUT_S), and every later call returns the current
answer at once.

If the probe fails, HF_HUB_OFFLINE=1 is set, so every later hub call fails at once (or is
served from the local cache) and the loaders fall back to bundled models. The probe then
retries in the background (after RETRY_S, doubling up to RETRY_MAX_S); when the hub
answers, the process goes back online. Offline mode the user asked for (`--offline`, or
HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE set before start) is never probed and never undone.
"""

from __future__ import annotations

import os
import sys
import threading
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlparse

from visionlab.text import Text, as_text

PROBE_TIMEOUT_S = 1.0
RETRY_S = 30.0       # first retry after a failed probe; each later wait doubles ...
RETRY_MAX_S = 300.0  # ... up to this
_TRUE = ("1", "true", "yes", "on")
_lock = threading.Lock()        # guards the names below; never held during a probe
_status: "HubStatus | None" = None
_decided = threading.Event()    # set once _status holds a first answer
_stop = threading.Event()       # set to end the current background prober
_prober: threading.Thread | None = None
_offline_by_probe = False       # HF_HUB_OFFLINE was set by a failed probe (so it may be undone)


@dataclass(frozen=True)
class HubStatus:
    """online: hub downloads may be tried. reason: one sentence a student can read.
    requested: offline because the user asked (--offline or the environment): final."""

    online: bool
    reason: Text
    requested: bool = False

    def __post_init__(self):  # a plain string reads the same in both languages
        object.__setattr__(self, "reason", as_text(self.reason))


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def probe(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True if the hub answers an HTTP HEAD of its front page with 200 within `timeout` s.

    An HTTP answer is required, not just an open TCP connection: sandboxes and captive
    networks often accept connections to any address and then answer 404 or nothing.
    """
    ok: list[bool] = []

    def ask() -> None:
        try:
            req = urllib.request.Request(endpoint() + "/", method="HEAD")
            with urllib.request.urlopen(req, timeout=timeout) as r:
                ok.append(r.status == 200)
        except (OSError, ValueError):
            pass

    t = threading.Thread(target=ask, daemon=True)  # DNS can outlast urlopen's own timeout
    t.start()
    t.join(timeout)
    return bool(ok) and ok[0]


def go_offline() -> None:
    """Make every Hugging Face library fail fast from now on (also if already imported)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None:
        hub_constants.HF_HUB_OFFLINE = True


def go_online() -> None:
    """Undo `go_offline`. huggingface_hub (and transformers through it) reads
    `constants.HF_HUB_OFFLINE` at call time, so hub calls work again at once."""
    os.environ.pop("HF_HUB_OFFLINE", None)
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None:
        hub_constants.HF_HUB_OFFLINE = False


def _user_offline() -> str | None:
    """The environment variable by which the user asked for offline mode, or None."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").lower() in _TRUE:
            return name
    return None


def _set(status: HubStatus) -> None:
    """Record an answer (caller holds _lock)."""
    global _status
    _status = status
    _decided.set()


def _record_probe(online: bool) -> None:
    """Turn a probe's result into the status, going offline or back online (caller holds _lock)."""
    global _offline_by_probe
    if online:
        if _offline_by_probe:
            go_online()
            _offline_by_probe = False
        _set(HubStatus(True, Text("the Hugging Face Hub is reachable", "可以连上 Hugging Face Hub")))
    else:
        go_offline()
        _offline_by_probe = True
        if _status is None or _status.online:
            host = urlparse(endpoint()).hostname
            _set(HubStatus(False, Text(f"{host} cannot be reached from this machine", f"这台机器连不上 {host}")))


def _watch(stop: threading.Event) -> None:
    """The background prober: probe, and after a failure retry with a growing wait, until the
    hub answers or `stop` is set."""
    wait = RETRY_S
    while True:
        online = probe()
        with _lock:
            if stop.is_set():
                return
            _record_probe(online)
        if online or stop.wait(wait):
            return
        wait = min(wait * 2, RETRY_MAX_S)


def start_probe(force_offline: bool = False) -> None:
    """Start deciding, without waiting: a background probe, unless the user asked for offline
    mode (`force_offline` is `--offline`), which is decided at once and for good."""
    global _prober, _stop
    with _lock:
        if force_offline:
            _stop.set()
            go_offline()
            _set(HubStatus(False, Text("offline mode was requested (--offline)", "启动时要求了离线模式（--offline）"),
                           requested=True))
        elif _prober is not None or (_status is not None and _status.requested):
            return  # decided for good, or a prober has started (it stops once the hub answers)
        elif name := _user_offline():
            _set(HubStatus(False, Text(f"{name} is set", f"设置了 {name}"), requested=True))
        else:
            _stop = threading.Event()
            _prober = threading.Thread(target=_watch, args=(_stop,), name="hub-probe", daemon=True)
            _prober.start()


def hub_status(force_offline: bool = False) -> HubStatus:
    """Whether the hub is usable now. The first call waits for the first probe (at most about
    PROBE_TIMEOUT_S); once that has answered, calls never wait (a retry may be in flight)."""
    start_probe(force_offline)
    _decided.wait(PROBE_TIMEOUT_S + 1.0)  # the probe is bounded by PROBE_TIMEOUT_S; this is slack
    with _lock:
        if _status is None:  # the prober did not even get to run: offline until it answers
            _record_probe(False)
        return _status


def reset_hub_status() -> None:
    """Forget the decision and stop retrying (tests use this)."""
    global _status, _prober, _offline_by_probe
    with _lock:
        _stop.set()
        _status, _prober, _offline_by_probe = None, None, False
        _decided.clear()
