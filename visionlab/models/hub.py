"""Is the Hugging Face Hub reachable? Find out once, in about a second, then stick to it.

A plain `from_pretrained` with no network retries for 30-50 s. Instead, one short HTTP
probe decides; if it fails, HF_HUB_OFFLINE=1 is set so every later hub call fails at once
(or is served from the local cache) and the loaders fall back to bundled models.
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
_TRUE = ("1", "true", "yes", "on")
_lock = threading.Lock()
_status: "HubStatus | None" = None


@dataclass(frozen=True)
class HubStatus:
    """online: hub downloads may be tried. reason: one sentence a student can read."""

    online: bool
    reason: Text

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


def hub_status(force_offline: bool = False) -> HubStatus:
    """Decide once per process whether the hub is usable; later calls return the same answer."""
    global _status
    with _lock:
        if force_offline:
            _status = HubStatus(False, Text("offline mode was requested (--offline)", "启动时要求了离线模式（--offline）"))
        elif _status is None:
            if os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE:
                _status = HubStatus(False, Text("HF_HUB_OFFLINE is set", "设置了 HF_HUB_OFFLINE"))
            elif probe():
                _status = HubStatus(True, Text("the Hugging Face Hub is reachable", "可以连上 Hugging Face Hub"))
            else:
                host = urlparse(endpoint()).hostname
                _status = HubStatus(False, Text(f"{host} cannot be reached from this machine", f"这台机器连不上 {host}"))
        if not _status.online:
            go_offline()
        return _status


def reset_hub_status() -> None:
    """Forget the decision (tests use this)."""
    global _status
    with _lock:
        _status = None
