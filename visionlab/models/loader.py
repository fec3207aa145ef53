"""Load registry models lazily, cache them, and fall back to bundled ones when offline.

`load_model(key)` never waits on an unreachable hub: the hub is probed once (see `hub`),
and a model that cannot be had is replaced by the bundled model of the same task and
family, with a `notice` saying which model answered and why.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from visionlab.models.cache import LRUCache
from visionlab.models.device import get_device
from visionlab.models.hub import hub_status
from visionlab.models.registry import ModelSpec, get_spec

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model (and its fallback) could not be loaded; the message is for the user."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference (eval mode, on the process device).

    spec: the model actually loaded. requested: the one asked for. notice: a sentence
    saying why they differ (None when they do not). load_seconds: time of the first load.
    """

    spec: ModelSpec
    requested: ModelSpec
    model: Any
    notice: str | None
    load_seconds: float


def _load_timm(spec: ModelSpec):
    import timm

    if spec.bundled:
        if not (spec.local_dir / "config.json").exists():
            raise ModelLoadError(
                f"the bundled weights for {spec.title} are missing from {spec.local_dir}; "
                f"re-create them with: python -m visionlab.toy.train configs/{spec.key}.toml")
        return timm.create_model(f"local-dir:{spec.local_dir}", pretrained=True)
    return timm.create_model(spec.hub_id, pretrained=True)


def in_local_cache(spec: ModelSpec) -> bool:
    """Whether a hub model's weights are already in the Hugging Face cache (no network)."""
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(spec.hub_repo, f), str)
               for f in ("model.safetensors", "pytorch_model.bin"))


# library name -> function(spec) returning a torch module; later tabs add their libraries.
LOADERS: dict[str, Callable[[ModelSpec], Any]] = {"timm": _load_timm}


def _place(model, spec: ModelSpec):
    """Eval mode, on the process device; half precision on CUDA where the spec allows it."""
    device = get_device()
    model = model.eval().to(device)
    if device.type == "cuda" and spec.half_ok:
        model = model.half()
    return model


def _release(entry: tuple[Any, float]) -> None:
    model = entry[0]
    try:
        import torch

        if next(model.parameters()).is_cuda:
            model.cpu()
            torch.cuda.empty_cache()
    except (StopIteration, AttributeError):
        pass


_cache: LRUCache[tuple[Any, float]] = LRUCache(int(os.environ.get("VISIONLAB_MAX_MODELS", "4")), _release)
_unavailable: dict[str, str] = {}  # hub models that failed while offline: key -> reason


def load_spec(spec: ModelSpec):
    """Load one spec through its library's loader (cached). Returns (model, load_seconds)."""
    def load() -> tuple[Any, float]:
        t0 = time.perf_counter()
        model = _place(LOADERS[spec.library](spec), spec)
        return model, time.perf_counter() - t0

    return _cache.get_or_load(spec.key, load)


def _fallback(requested: ModelSpec, why: str) -> LoadedModel:
    if not requested.fallback:
        raise ModelLoadError(f"{requested.title} is not available ({why}), and there is no bundled stand-in.")
    used = get_spec(requested.fallback)
    try:
        model, seconds = load_spec(used)
    except Exception as e:  # noqa: BLE001 - the message goes to the user
        raise ModelLoadError(f"{requested.title} is not available ({why}), and the bundled "
                             f"{used.title} failed to load too: {e}") from e
    notice = (f"{requested.title} is not available ({why}), so the bundled {used.title} answered "
              f"instead. It was trained on ShapesWorld: it knows only ShapesWorld's classes.")
    return LoadedModel(used, requested, model, notice, seconds)


def load_model(key: str) -> LoadedModel:
    """The model named `key` (a registry key), or its bundled stand-in with a notice."""
    spec = get_spec(key)
    if spec.bundled:
        try:
            model, seconds = load_spec(spec)
        except ModelLoadError:
            raise
        except Exception as e:  # noqa: BLE001
            raise ModelLoadError(f"{spec.title} failed to load: {e}") from e
        return LoadedModel(spec, spec, model, None, seconds)
    status = hub_status()
    if key in _unavailable:
        return _fallback(spec, _unavailable[key])
    if not status.online and not in_local_cache(spec):
        # Decide before building the network: a big model takes seconds just to initialise.
        _unavailable[key] = f"offline: {status.reason}, and it has not been downloaded before"
        return _fallback(spec, _unavailable[key])
    try:
        model, seconds = load_spec(spec)
    except Exception as e:  # noqa: BLE001 - any hub/library failure means: use the stand-in
        log.warning("loading %s failed: %s", key, e)
        if status.online:
            return _fallback(spec, f"downloading it failed: {type(e).__name__}")
        return _fallback(spec, f"offline: {status.reason}, and loading it from the local cache failed")
    return LoadedModel(spec, spec, model, None, seconds)


def loaded_keys() -> list[str]:
    """Keys of the models in memory now, least recently used first."""
    return _cache.keys()
