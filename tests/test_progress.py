"""Slow steps say what they do: MB of a first download, then which model runs and what it costs."""

import inspect
import time

import pytest

from demos.progress import with_progress
from visionlab.models import download


class Recorder:
    """Stands in for gr.Progress: keeps every (fraction, desc) it is given."""

    def __init__(self):
        self.calls = []

    def __call__(self, fraction=None, desc=None):
        self.calls.append((fraction, desc))


def test_the_byte_bar_reports_bytes_and_other_bars_do_not():
    seen = []
    bar_class = download.reporting_tqdm(lambda done, total: seen.append((done, total)))
    bar = bar_class(total=300 << 20, unit="B", name="huggingface_hub.snapshot_download", desc="bytes")
    bar.update(100 << 20)
    bar.update(200 << 20)
    files = bar_class(total=4, desc="Fetching 4 files")
    files.update(1)
    assert seen == [(100 << 20, 300 << 20), (300 << 20, 300 << 20)]


def test_fetch_downloads_only_what_is_missing_and_reports(monkeypatch):
    import huggingface_hub

    from visionlab.models import get_spec

    asked = []

    def fake_snapshot(repo, allow_patterns, tqdm_class):
        asked.append((repo, allow_patterns))
        bar = tqdm_class(total=98 << 20, unit="B", initial=0)
        bar.update(45 << 20)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot)
    seen = []
    monkeypatch.setattr(download, "needs_download", lambda spec: True)
    assert download.fetch("resnet50", lambda d, t: seen.append((d >> 20, t >> 20)))
    assert asked == [(get_spec("resnet50").hub_repo, download.FILES)] and seen == [(45, 98)]
    monkeypatch.setattr(download, "needs_download", lambda spec: False)
    assert not download.fetch("resnet50", lambda d, t: seen.append(d)) and len(asked) == 1


def test_bundled_and_cached_models_need_no_download(monkeypatch):
    from visionlab.models import get_spec, hub, loader

    monkeypatch.setattr(hub, "hub_status", lambda: type("S", (), {"online": True})())
    monkeypatch.setattr(loader, "in_local_cache", lambda spec: False)
    assert download.needs_download(get_spec("resnet50"))
    assert not download.needs_download(get_spec("shapes-resnet-tiny"))
    assert not download.needs_download(get_spec("sam-vit-b"))          # an official file, with its own bar
    monkeypatch.setattr(loader, "in_local_cache", lambda spec: True)
    assert not download.needs_download(get_spec("resnet50"))


def test_wrapped_endpoint_keeps_its_arguments_and_announces_first(monkeypatch):
    import gradio as gr

    from demos import progress

    order = []

    def endpoint(image, model, top_k=5):
        order.append(("ran", image, model, top_k))
        return "answer"

    def slow_fetch(key, report):
        order.append(("fetch", key))
        report(1 << 20, 0)
        time.sleep(0.1)                                 # the line ticks while the bytes come
        return True

    monkeypatch.setattr(download, "fetch", slow_fetch)
    monkeypatch.setattr(progress, "TICK_S", 0.01)
    wrapped = with_progress(endpoint)
    params = list(inspect.signature(wrapped).parameters.values())
    assert [p.name for p in params] == ["image", "model", "top_k", "progress"]
    assert isinstance(params[-1].default, gr.Progress)          # gradio fills it and leaves it out of the API
    bar = Recorder()
    assert wrapped("cat.png", "resnet50", 3, bar) == "answer"
    assert order == [("fetch", "resnet50"), ("ran", "cat.png", "resnet50", 3)]
    # gradio 6 shows a line's text only beside a fraction, so every call carries one
    assert (0.0, "Downloading ResNet-50: 1 of ? MB") in bar.calls
    assert bar.calls[0] == bar.calls[-1] == (0.0, "Running ResNet-50 on the picture")


def test_the_ticker_speaks_from_the_request_context():
    """gradio finds the event to update through context variables, which a plain thread lacks."""
    import contextvars

    from demos import progress

    asked = contextvars.ContextVar("asked", default=None)
    asked.set("page-1")
    seen = []
    line = progress.Line(lambda fraction, desc: seen.append(asked.get()), "x", None)
    progress.TICK_S, old = 0.01, progress.TICK_S
    try:
        with progress.ticking(line):
            time.sleep(0.05)
    finally:
        progress.TICK_S = old
    assert len(seen) >= 2 and set(seen) == {"page-1"}


def test_the_bar_fills_over_the_expected_wait_and_waits_short_of_the_end(monkeypatch):
    from demos import progress

    bar = Recorder()
    line = progress.Line(bar, "Running OWLv2", expected_s=4.0)
    now = line.start
    monkeypatch.setattr(progress.time, "monotonic", lambda: now + 1.0)
    line.tick()
    monkeypatch.setattr(progress.time, "monotonic", lambda: now + 60.0)   # much longer than expected
    line.tick()
    assert bar.calls == [(0.25, "Running OWLv2"), (progress.NEARLY, "Running OWLv2")]
    line.report(30 << 20, 100 << 20)                                        # a download takes the line over
    line.tick()
    assert bar.calls[2:] == [(0.3, "Downloading the checkpoint: 30 of 100 MB")]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now + 70.0)   # ... until it goes quiet
    line.tick()
    assert bar.calls[-1] == (progress.NEARLY, "Running OWLv2")
    assert progress.Line(bar, "no estimate", None).tick() is None and bar.calls[-1] == (0.0, "no estimate")


def test_the_line_stops_when_the_endpoint_returns(monkeypatch):
    from demos import progress

    monkeypatch.setattr(download, "fetch", lambda key, report: False)
    monkeypatch.setattr(progress, "TICK_S", 0.01)
    bar = Recorder()
    with_progress(lambda image, model: time.sleep(0.1))("x.png", "resnet50", bar)
    ticks = len(bar.calls)
    time.sleep(0.1)
    assert ticks >= 3 and len(bar.calls) == ticks                          # it ticked while running, then stopped


@pytest.mark.parametrize("model", [None, "not-a-model", 7])
def test_an_unknown_model_is_left_to_the_endpoint(monkeypatch, model):
    monkeypatch.setattr(download, "fetch", lambda key, report: pytest.fail("nothing to fetch"))
    bar = Recorder()
    assert with_progress(lambda image, m: "refused by the endpoint")("x.png", model, bar) == "refused by the endpoint"
    assert bar.calls == []


def test_detection_line_names_the_expected_wait(monkeypatch):
    from visionlab.models import costs

    monkeypatch.setattr(download, "fetch", lambda key, report: False)
    monkeypatch.setattr(costs, "device_class", lambda: "cpu")
    monkeypatch.setattr(costs, "_measured", {})
    bar = Recorder()
    with_progress(lambda image, model: None, step="detect")("x.png", "owlv2-base", bar)
    (fraction, desc), = bar.calls
    assert desc == "Running OWLv2 B/16 on the picture (about 6.0 s on a 2-core CPU)" and fraction < 0.01
