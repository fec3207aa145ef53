"""What the loader remembers about the hub: a failed download (so clicks do not retry it) and
what the local Hugging Face cache holds (a file it knows is missing is not "cached")."""

from __future__ import annotations

import pytest

from visionlab.models import get_spec, load_model, loader
from visionlab.models.hub import HubStatus
from visionlab.text import Text


@pytest.fixture
def online_but_failing(monkeypatch):
    """The hub answers, but every download of a timm model fails; counts the attempts."""
    attempts: list[str] = []
    real = loader.LOADERS["timm"]

    def failing(spec):
        if spec.bundled:                                      # the stand-in is on this machine
            return real(spec)
        attempts.append(spec.key)
        raise OSError("connection reset by peer")

    monkeypatch.setattr(loader, "hub_status", lambda: HubStatus(True, Text("online", "在线")))
    monkeypatch.setitem(loader.LOADERS, "timm", failing)
    monkeypatch.setattr(loader, "in_local_cache", lambda spec: False)
    monkeypatch.delitem(loader._unavailable, "convnext-tiny", raising=False)
    loader._cache._items.pop("convnext-tiny", None)
    yield attempts
    loader._unavailable.pop("convnext-tiny", None)


def test_a_failed_download_is_remembered_instead_of_retried_at_every_click(online_but_failing, monkeypatch):
    attempts = online_but_failing
    first = load_model("convnext-tiny")
    assert attempts == ["convnext-tiny"] and first.spec.key == "shapes-resnet-tiny"
    assert "downloading it failed" in first.notice.en
    for _ in range(3):                                           # three more clicks: no new attempt
        again = load_model("convnext-tiny")
        assert again.spec.key == "shapes-resnet-tiny" and "downloading it failed" in again.notice.en
    assert attempts == ["convnext-tiny"]
    assert loader.answering_key("convnext-tiny") == "shapes-resnet-tiny"   # cached answers follow the stand-in
    now = loader.time.monotonic()
    monkeypatch.setattr(loader.time, "monotonic", lambda: now + loader.RETRY_AFTER_S + 1)
    load_model("convnext-tiny")                                  # long enough later: tried once more
    assert attempts == ["convnext-tiny", "convnext-tiny"]


def _hub_cache(root, repo: str, files: dict[str, bool]) -> None:
    """A Hugging Face cache entry for `repo` at commit "abc": files mapped to True exist in the
    snapshot, files mapped to False are recorded as known to be missing (.no_exist)."""
    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("abc")
    for name, present in files.items():
        path = folder / ("snapshots" if present else ".no_exist") / "abc" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" if present else b"")


def test_a_file_the_cache_knows_is_missing_does_not_count_as_downloaded(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    spec = get_spec("convnext-tiny")
    assert not loader.in_local_cache(spec)                                      # nothing at all
    _hub_cache(tmp_path, spec.hub_repo, {"model.safetensors": False, "pytorch_model.bin": False})
    assert not loader.in_local_cache(spec)                                      # "known missing" is not cached
    clip = get_spec("clip-vit-b32")
    _hub_cache(tmp_path, clip.hub_repo, {"model.safetensors": False, "pytorch_model.bin": True})
    assert loader.in_local_cache(clip)
