"""Models: the registry (the only place hub ids live), device choice, hub/offline
detection, a bounded LRU cache and the loaders.

    from visionlab.models import load_model
    loaded = load_model("resnet50")        # or "shapes-vit-tiny"; falls back when offline
    loaded.model, loaded.spec, loaded.notice
"""

from visionlab.models.registry import REGISTRY, ModelSpec, UnknownModel, get_spec, specs_for
from visionlab.models.loader import LoadedModel, ModelLoadError, load_model

__all__ = [
    "REGISTRY", "ModelSpec", "UnknownModel", "get_spec", "specs_for",
    "LoadedModel", "ModelLoadError", "load_model",
]
