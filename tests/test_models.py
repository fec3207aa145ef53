"""Registry, loader, cache, device, hub detection and the offline fallback."""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import torch

from visionlab.models import REGISTRY, ModelSpec, UnknownModel, get_spec, load_model, specs_for
from visionlab.models import hub
from visionlab.models.cache import LRUCache
from visionlab.models.loader import load_spec

ROOT = os.path.dirname(os.path.dirname(__file__))


def test_registry_covers_the_classification_tab():
    keys = {s.key for s in specs_for("classification")}
    assert {"resnet50", "convnext-tiny", "vit-base-16", "mobilenetv3-large", "deit-small",
            "shapes-vit-tiny", "shapes-resnet-tiny"} <= keys
    for spec in specs_for("classification", bundled=False):
        assert spec.hub_id and spec.fallback in REGISTRY and REGISTRY[spec.fallback].bundled
    with pytest.raises(UnknownModel, match="not one of"):
        get_spec("../../etc/passwd")


def test_bundled_weights_are_small_and_match_their_specs():
    for spec in specs_for("classification", bundled=True):
        size = (spec.local_dir / "model.safetensors").stat().st_size
        assert size <= 5 * 1024 * 1024, spec.key
        model = load_model(spec.key).model
        assert tuple(model.pretrained_cfg["mean"]) == pytest.approx(spec.mean)
        assert model.pretrained_cfg["input_size"][-1] == spec.input_size


def test_round_trip_through_the_real_loader(tmp_path):
    import timm
    from timm.models import save_for_hf

    torch.manual_seed(0)
    model = timm.create_model("resnet10t", num_classes=4, channels=(8, 16, 16, 16), stem_width=8).eval()
    save_for_hf(model, str(tmp_path / "tiny"), safe_serialization=True)
    spec = ModelSpec(key="test-tiny", task="classification", library="timm", title="t", family="cnn",
                     input_size=224, mean=(0.5,) * 3, std=(0.5,) * 3, labels="x", licence="x",
                     path=str(tmp_path / "tiny"))
    loaded, _, _ = load_spec(spec)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))
    assert loaded is load_spec(spec)[0]  # cached: loaded once


def test_lru_cache_bounds_and_single_load():
    evicted = []
    cache = LRUCache(2, on_evict=evicted.append)
    calls = []

    def slow(v):
        def load():
            calls.append(v)
            time.sleep(0.2)
            return v
        return load

    threads = [threading.Thread(target=cache.get_or_load, args=("a", slow("A"))) for _ in range(5)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert calls == ["A"]                      # five requests, one load
    t0 = time.perf_counter()
    pair = [threading.Thread(target=cache.get_or_load, args=(k, slow(k))) for k in ("b", "c")]
    [t.start() for t in pair]
    [t.join() for t in pair]
    assert time.perf_counter() - t0 < 0.35     # different keys load in parallel
    assert len(cache) == 2 and evicted == ["A"]


@pytest.fixture
def unreachable_hub(monkeypatch):
    """A hub endpoint that accepts the connection and then never answers: the worst case
    (a refused connection or a failed DNS look-up would be noticed at once)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    hub.reset_hub_status()
    yield
    server.close()
    hub.reset_hub_status()
    os.environ["HF_HUB_OFFLINE"] = "1"


def test_offline_is_detected_fast_and_the_bundled_model_answers(unreachable_hub):
    import timm  # noqa: F401 - library import time is not what this test measures
    from visionlab.models import loader
    loader._unavailable.clear()
    t0 = time.perf_counter()
    loaded = load_model("vit-base-16")
    elapsed = time.perf_counter() - t0
    assert elapsed < 3.0
    assert loaded.spec.key == "shapes-vit-tiny" and loaded.requested.key == "vit-base-16"
    assert "not available" in str(loaded.notice) and "offline" in str(loaded.notice)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert not hub.hub_status().online


def test_offline_env_and_flag_are_respected(monkeypatch):
    hub.reset_hub_status()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    status = hub.hub_status()
    assert not status.online and "HF_HUB_OFFLINE" in str(status.reason)
    assert time.perf_counter() - t0 < 0.1  # no probe at all
    assert "--offline" in str(hub.hub_status(force_offline=True).reason)
    hub.reset_hub_status()


def test_device_is_chosen_once():
    from visionlab.models.device import get_device
    assert get_device().type == "cpu"  # VISIONLAB_DEVICE=cpu in conftest; chosen once


def test_visionlab_imports_no_gradio_and_nothing_heavy():
    code = ("import sys, visionlab.models, visionlab.ops.images, visionlab.toy.shapes; "
            "assert 'gradio' not in sys.modules; assert 'torch' not in sys.modules, 'torch at import'; "
            "import visionlab.pipelines.classification; assert 'gradio' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_hub_ids_live_only_in_the_registry():
    for spec in specs_for("classification", bundled=False):
        found = subprocess.run(["git", "grep", "--untracked", "-l", "-F", spec.hub_id, "--", "*.py", "*.md"],
                               cwd=ROOT, capture_output=True, text=True).stdout.split()
        assert found == ["visionlab/models/registry.py"], (spec.hub_id, found)


def test_probe_says_online_when_a_hub_answers(monkeypatch):
    import http.server

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        assert hub.probe() is True
        monkeypatch.setenv("HF_ENDPOINT", "http://hub.invalid")   # never resolves
        assert hub.probe() is False
    finally:
        server.shutdown()


def test_the_model_cache_is_bounded_by_bytes():
    """Models are weighed by their parameters and buffers: a class that picks big models drops the
    least recently used ones instead of running the Space out of memory."""
    from visionlab.models.cache import nbytes

    small, big = torch.nn.Linear(10, 10), torch.nn.Linear(100, 100)    # 440 and 40,400 bytes
    assert nbytes(small) == 440 and nbytes((small, 1.0, {})) == 440
    evicted = []
    cache = LRUCache(on_evict=evicted.append, max_bytes=41_000, weigh=nbytes)
    cache.put("small", small)
    cache.put("big", big)
    assert len(cache) == 2 and cache.bytes == 40_840
    cache.put("small2", torch.nn.Linear(10, 10))
    assert evicted == [small] and cache.keys() == ["big", "small2"]
    from visionlab.models import loader
    assert loader._cache.max_bytes == loader.MODEL_MEMORY_MB << 20 and loader._cache.max_items is None


def test_on_zero_gpu_only_the_models_loaded_before_launch_answer(monkeypatch):
    """After offer_only_loaded, a model that was not loaded is refused with a sentence naming the
    ones that were; a hub model whose stand-in answered at start keeps its stand-in; nothing loads."""
    from visionlab.models import loader

    monkeypatch.setattr(loader, "_cache", LRUCache(max_bytes=1 << 30))
    monkeypatch.setattr(loader, "_stand_in_notices", {})
    loader.preload(["shapes-resnet-tiny", "resnet50"])             # offline in tests: ResNet-50's stand-in
    monkeypatch.setattr(loader, "LOADERS", {})                      # any load from now on would fail loudly
    loader.offer_only_loaded()
    try:
        assert loader.offered_keys() == ["shapes-resnet-tiny"]
        assert load_model("shapes-resnet-tiny").notice is None
        stand_in = load_model("resnet50")
        assert stand_in.spec.key == "shapes-resnet-tiny" and "ResNet-50 is not available" in str(stand_in.notice)
        assert loader.answering_key("resnet50") == "shapes-resnet-tiny"
        with pytest.raises(loader.ModelLoadError, match="not offered on this Space.*Tiny ResNet") as caught:
            load_model("shapes-vit-tiny")
        assert "VISIONLAB_MODELS" in caught.value.text.zh
    finally:
        loader._offered = None
