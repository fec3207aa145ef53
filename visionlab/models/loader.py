"""Load registry models lazily, cache them, and fall back to bundled ones when offline.

`load_model(key)` never waits on an unreachable hub: the hub is probed once (see `hub`),
and a model that cannot be had is replaced by the bundled model of the same task and
family, with a `notice` saying which model answered and why.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from visionlab.errors import VisionLabError
from visionlab.text import Text
from visionlab.models.cache import LRUCache, nbytes
from visionlab.models.device import get_device
from visionlab.models.hub import hub_status
from visionlab.models.registry import ModelSpec, get_spec

log = logging.getLogger(__name__)


class ModelLoadError(VisionLabError, RuntimeError):
    """A model (and its fallback) could not be loaded; the message is for the user."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference (eval mode, on the process device).

    spec: the model actually loaded. requested: the one asked for. notice: a sentence
    saying why they differ (None when they do not). load_seconds: time of the first load.
    memo: per-model scratch space for things derived once from the model (transforms,
    label names, FLOPs); it lives and dies with the cached model.
    """

    spec: ModelSpec
    requested: ModelSpec
    model: Any
    notice: Text | None
    load_seconds: float
    memo: dict = field(default_factory=dict, compare=False, repr=False)


IMPORT_LOCK = threading.Lock()
LOAD_LOCK = threading.Lock()


def _load_timm(spec: ModelSpec):
    import timm

    if spec.bundled:
        return timm.create_model(f"local-dir:{spec.local_dir}", pretrained=True)
    return timm.create_model(spec.hub_id, pretrained=True)


def _load_transformers(spec: ModelSpec):
    """A transformers model of class `spec.arch`, from weights/ or the hub (never remote code)."""
    with IMPORT_LOCK:  # transformers' lazy imports are not thread-safe: two at once can fail
        import transformers

        cls = getattr(transformers, spec.arch or "")
    # One from_pretrained at a time: two at once can leave a model's tied weights (BLIP's output
    # layer, Grounding DINO's box heads) on the meta device (seen in transformers 5.23).
    with LOAD_LOCK:
        if spec.bundled:
            return cls.from_pretrained(spec.local_dir)
        return cls.from_pretrained(spec.hub_id, trust_remote_code=False)


def _load_visionlab(spec: ModelSpec):
    """VisionLab's own architectures (config.json + model.safetensors), bundled only."""
    from visionlab.models.dense_detector import DenseDetector

    return {"DenseDetector": DenseDetector}[spec.arch].from_pretrained(spec.local_dir)


def _load_sam(spec: ModelSpec):
    from visionlab.models.sam import load_sam

    return load_sam(spec)


def in_local_cache(spec: ModelSpec) -> bool:
    """Whether a hub model's weights are already in the Hugging Face cache (no network)."""
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(spec.hub_repo, f), str)
               for f in ("model.safetensors", "pytorch_model.bin"))


# library name -> function(spec) returning a torch module; later tabs add their libraries.
LOADERS: dict[str, Callable[[ModelSpec], Any]] = {"timm": _load_timm, "transformers": _load_transformers,
                                                   "visionlab": _load_visionlab, "segment-anything": _load_sam}


def _place(model, spec: ModelSpec):
    """Eval mode, on the process device; half precision on CUDA where the spec allows it."""
    device = get_device()
    model = model.eval().to(device)
    if device.type == "cuda" and spec.half_ok:
        model = model.half()
    return model


def _release(entry: tuple[Any, float, dict]) -> None:
    model = entry[0]
    try:
        import torch

        if next(model.parameters()).is_cuda:
            model.cpu()
            torch.cuda.empty_cache()
    except (StopIteration, AttributeError):
        pass


MODEL_MEMORY_MB = int(os.environ.get("VISIONLAB_MODEL_MEMORY_MB", "8192"))
_cache: LRUCache[tuple[Any, float, dict]] = LRUCache(on_evict=_release, max_bytes=MODEL_MEMORY_MB << 20,
                                                     weigh=lambda entry: nbytes(entry[0]))
_unavailable: dict[str, tuple[str, float]] = {}  # hub models that failed: key -> (reason, when)
RETRY_AFTER_S = 600.0  # online, a failed download is tried again after this long, not at every click
_offered: dict[str, tuple[Any, float, dict]] | None = None  # ZeroGPU: the models loaded before launch
_stand_in_notices: dict[str, Text] = {}  # preloaded hub models whose stand-in answered: key -> why


def load_spec(spec: ModelSpec) -> tuple[Any, float, dict]:
    """Load one spec through its library's loader (cached). Returns (model, load_seconds, memo).

    After `offer_only_loaded()` (ZeroGPU) nothing new loads: the models loaded before launch
    are read from a plain dict (no lock: this may run in a worker forked at any moment)."""
    if _offered is not None:
        if spec.key not in _offered:
            raise ModelLoadError(_not_offered(spec))
        return _offered[spec.key]

    def load() -> tuple[Any, float, dict]:
        if spec.bundled and not (spec.local_dir / "config.json").exists():
            config = f"configs/{spec.path.split('/')[0]}.toml"  # the trained folder's config (BLIP's three share one)
            raise ModelLoadError(Text(
                f"the bundled weights for {spec.title} are missing from {spec.local_dir}; "
                f"re-create them with: python -m visionlab.toy.train {config}",
                f"{spec.local_dir} 里缺少 {spec.title} 的自带权重；"
                f"用这个命令重新生成：python -m visionlab.toy.train {config}"))
        t0 = time.perf_counter()
        model = _place(LOADERS[spec.library](spec), spec)
        seconds = time.perf_counter() - t0
        # One line per load, on stderr: how often each model loads (tests and logs count them).
        print(f"VisionLab loaded model {spec.key} in {seconds:.2f} s (pid {os.getpid()})", file=sys.stderr, flush=True)
        return model, seconds, {}

    return _cache.get_or_load(spec.key, load)


def _fallback(requested: ModelSpec, why: Text) -> LoadedModel:
    if not requested.fallback:
        raise ModelLoadError(Text(f"{requested.title} is not available ({why.en}), and there is no bundled stand-in.",
                                  f"{requested.title} 现在用不了（{why.zh}），也没有自带的替代模型。"))
    used = get_spec(requested.fallback)
    try:
        model, seconds, memo = load_spec(used)
    except Exception as e:  # noqa: BLE001 - the message goes to the user
        raise ModelLoadError(Text(f"{requested.title} is not available ({why.en}), and the bundled "
                                  f"{used.title} failed to load too: {e}",
                                  f"{requested.title} 现在用不了（{why.zh}），自带的 {used.title} 也加载失败：{e}")) from e
    notice = Text(f"{requested.title} is not available ({why.en}), so the bundled {used.title} answered "
                  f"instead. It was trained on ShapesWorld: it knows only ShapesWorld's pictures.",
                  f"{requested.title} 现在用不了（{why.zh}），所以由自带的 {used.title} 回答。"
                  f"它是在 ShapesWorld 上训练的：只认识 ShapesWorld 的图片。")
    return LoadedModel(used, requested, model, notice, seconds, memo)


def load_model(key: str) -> LoadedModel:
    """The model named `key` (a registry key), or its bundled stand-in with a notice."""
    spec = get_spec(key)
    if _offered is not None:
        return _load_offered(spec)
    if spec.bundled or spec.file:  # weights on this machine (a checkpoint file for SAM): no hub involved
        try:
            model, seconds, memo = load_spec(spec)
        except ModelLoadError:
            raise
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(Text(f"{spec.title} failed to load: {e}", f"{spec.title} 加载失败：{e}")) from e
        return LoadedModel(spec, spec, model, None, seconds, memo)
    cached = _cache.get(spec.key)
    if cached is not None:  # in memory: no need to ask about the hub
        model, seconds, memo = cached
        return LoadedModel(spec, spec, model, None, seconds, memo)
    why = why_not_now(spec)
    if why:
        return _fallback(spec, why)
    try:
        model, seconds, memo = load_spec(spec)
    except Exception as e:  # noqa: BLE001 - any hub/library failure means: use the stand-in
        log.warning("loading %s failed: %s", key, e)
        status = hub_status()
        why = (Text(f"downloading it failed ({type(e).__name__})", f"下载失败（{type(e).__name__}）") if status.online
               else Text(f"offline: {status.reason.en}, and loading it from the local cache failed",
                         f"离线：{status.reason.zh}，并且从本地缓存加载也失败了"))
        _unavailable[key] = (why, time.monotonic())
        return _fallback(spec, why)
    return LoadedModel(spec, spec, model, None, seconds, memo)


def why_not_now(spec: ModelSpec) -> Text | None:
    """A reason not to try loading a hub model now (decided without building it), or None."""
    status = hub_status()
    failed = _unavailable.get(spec.key)
    if failed and (not status.online or time.monotonic() - failed[1] < RETRY_AFTER_S):
        return failed[0]
    if not status.online and spec.key not in _cache and not in_local_cache(spec):
        return Text(f"offline: {status.reason.en}, and it has not been downloaded before",
                    f"离线：{status.reason.zh}，而且以前没有下载过")
    return None


def answering_key(key: str) -> str:
    """The key of the model that would answer for `key` now (itself, or its stand-in), decided
    without loading anything: what a cached answer depends on."""
    spec = get_spec(key)
    if spec.bundled or spec.file:
        return key
    if _offered is not None:
        return spec.fallback if key in _stand_in_notices else key
    if key in _cache:
        return key
    return (spec.fallback or key) if why_not_now(spec) else key


def preload(keys: list[str]) -> list[LoadedModel]:
    """Load each model now (or its stand-in when it cannot be had), in the calling thread."""
    loaded = [load_model(k) for k in keys]
    for key, one in zip(keys, loaded):
        if one.notice is not None:
            _stand_in_notices[key] = one.notice
    return loaded


def offer_only_loaded() -> None:
    """ZeroGPU: from now on only the models already in memory answer (their stand-ins too, for
    hub models that could not be loaded); asking for any other gives a sentence. Models must
    load in the main process before launch there, never inside a GPU worker."""
    global _offered
    _offered = _cache.snapshot()


def offered_keys() -> list[str] | None:
    """The keys `offer_only_loaded` fixed (None when models still load on demand)."""
    return None if _offered is None else list(_offered)


def _not_offered(spec: ModelSpec) -> Text:
    offered = ", ".join(get_spec(k).title for k in (_offered or {}))
    return Text(f"{spec.title} is not offered on this Space: on ZeroGPU, models load when the Space starts, and it "
                f"loaded {offered}. Pick one of those (the Space's owner can add models with VISIONLAB_MODELS).",
                f"这个 Space 不提供 {spec.title}：在 ZeroGPU 上，模型在 Space 启动时加载，它加载了 {offered}。"
                "请从中选一个（Space 的所有者可以用 VISIONLAB_MODELS 添加模型）。")


def _load_offered(spec: ModelSpec) -> LoadedModel:
    """`load_model` after `offer_only_loaded`: the model, its stand-in (if it failed at start), or a refusal."""
    if spec.key in _offered:
        model, seconds, memo = _offered[spec.key]
        return LoadedModel(spec, spec, model, None, seconds, memo)
    notice = _stand_in_notices.get(spec.key)
    if notice is not None and spec.fallback in _offered:
        model, seconds, memo = _offered[spec.fallback]
        return LoadedModel(get_spec(spec.fallback), spec, model, notice, seconds, memo)
    raise ModelLoadError(_not_offered(spec))


def loaded_keys() -> list[str]:
    """Keys of the models in memory now, least recently used first."""
    return list(_offered) if _offered is not None else _cache.keys()
