"""The hub probe: decided in about a second, retried in the background, never making a request
wait, and never overriding offline mode the user asked for. A local HTTP server plays the hub."""

from __future__ import annotations

import http.server
import os
import threading
import time

import huggingface_hub.constants as hub_constants
import pytest

from visionlab.models import hub


class FakeHub(http.server.BaseHTTPRequestHandler):
    """Answers HEAD by `mode`: "down" 503 at once, "up" 200 at once, "slow" 200 after 3 s
    (longer than a probe waits). Counts the requests, and those still being answered."""

    mode = "down"
    heads = 0
    in_flight = 0

    def do_HEAD(self):
        cls = type(self)
        cls.heads += 1
        cls.in_flight += 1
        try:
            if cls.mode == "slow":
                time.sleep(3)
            self.send_response(200 if cls.mode in ("up", "slow") else 503)
            self.end_headers()
        finally:
            cls.in_flight -= 1

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub(monkeypatch):
    """HF_ENDPOINT on a local FakeHub (starting "down"), no offline variables, retries every 0.05 s."""
    handler = type("Hub", (FakeHub,), {})  # fresh counters for each test
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", hub_constants.HF_HUB_OFFLINE)  # restored after
    monkeypatch.setattr(hub, "RETRY_S", 0.05)
    monkeypatch.setattr(hub, "RETRY_MAX_S", 0.1)
    hub.reset_hub_status()
    yield handler
    hub.reset_hub_status()
    server.shutdown()
    server.server_close()


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_failed_probe_retries_and_the_process_goes_back_online(fake_hub):
    status = hub.hub_status()
    assert not status.online and not status.requested
    assert os.environ["HF_HUB_OFFLINE"] == "1" and hub_constants.is_offline_mode()

    fake_hub.mode = "up"  # the network comes back
    assert wait_for(lambda: hub.hub_status().online, 5.0), "still offline 5 s after the hub answered"
    assert "HF_HUB_OFFLINE" not in os.environ and not hub_constants.is_offline_mode()
    assert fake_hub.heads >= 2


def test_start_up_waits_for_the_first_probe_and_requests_never_wait(fake_hub):
    fake_hub.mode = "slow"  # every probe runs its full second
    t0 = time.perf_counter()
    hub.start_probe()
    assert time.perf_counter() - t0 < 0.05, "start_probe must not wait for the probe"
    first = hub.hub_status()  # start-up: waits for the first probe, no longer than it lasts
    assert hub.PROBE_TIMEOUT_S * 0.8 < time.perf_counter() - t0 < hub.PROBE_TIMEOUT_S + 1.0
    assert not first.online

    waits, seen_in_flight = [], 0
    end = time.monotonic() + 1.5
    while time.monotonic() < end:  # requests while retries are being probed
        busy = fake_hub.in_flight > 0
        t0 = time.perf_counter()
        status = hub.hub_status()
        waits.append(time.perf_counter() - t0)
        seen_in_flight += busy and fake_hub.in_flight > 0
        assert not status.online
        time.sleep(0.005)
    assert seen_in_flight > 10, "no call happened while a probe was in flight"
    assert max(waits) < 0.02, f"a request waited {max(waits) * 1e3:.1f} ms for the probe"


@pytest.mark.parametrize("how", ["--offline", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_offline_the_user_asked_for_is_never_undone(fake_hub, monkeypatch, how):
    if how == "--offline":  # as app.py does, after a first probe has already failed
        hub.hub_status()
        status = hub.hub_status(force_offline=True)
    else:
        monkeypatch.setenv(how, "1")
        status = hub.hub_status()
    assert not status.online and status.requested and how in str(status.reason)
    heads = fake_hub.heads
    fake_hub.mode = "up"
    time.sleep(0.5)  # ten retry intervals
    status = hub.hub_status()
    assert not status.online and status.requested
    assert fake_hub.heads == heads, "the hub was probed although the user asked for offline mode"
    assert hub_constants.is_offline_mode() and os.environ.get(how, os.environ.get("HF_HUB_OFFLINE")) == "1"
