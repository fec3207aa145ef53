"""The masked image modeling tab's defaults, importable without torch (the UI reads them at
start-up): mask ratios, mask patch sizes, and which class is which method."""

from __future__ import annotations

import json
from typing import Any

from visionlab.models.registry import get_spec

RATIO_RANGE = (0.05, 0.95)
DEFAULT_RATIO = {"MAE": 0.75, "SimMIM": 0.6}  # the MAE and SimMIM papers' defaults
METHOD_OF_ARCH = {"ViTMAEForPreTraining": "MAE", "ViTForMaskedImageModeling": "SimMIM",
                  "SwinForMaskedImageModeling": "SimMIM"}
SIMMIM_MASK_PATCH = (32, 192)  # the paper's mask patch: 32 px squares on 192 px pictures
# Patch side of the hub checkpoints by class (bundled models: read from their config.json).
_HUB_PATCH = {"ViTMAEForPreTraining": 16, "SwinForMaskedImageModeling": 4, "ViTForMaskedImageModeling": 16}


def default_mask_patch(method: str, input_size: int, patch: int) -> int:
    """MAE hides single patches; SimMIM hides squares of 32 px per 192 px of picture, rounded
    to the nearest multiple of the model's patch (32 px at 192 and 224 px; 8 px, one patch,
    on 64 px ShapesWorld pictures)."""
    if method == "MAE":
        return patch
    px = SIMMIM_MASK_PATCH[0] * input_size / SIMMIM_MASK_PATCH[1]
    return max(patch, round(px / patch) * patch)


def model_facts(key: str) -> dict[str, Any]:
    """What the UI needs before loading a registry model: its method, patch side, input size
    and default mask patch (pixels)."""
    spec = get_spec(key)
    method = METHOD_OF_ARCH.get(spec.arch or "", "MAE")
    patch = _HUB_PATCH.get(spec.arch or "", 16)
    if spec.bundled and (spec.local_dir / "config.json").exists():
        patch = int(json.loads((spec.local_dir / "config.json").read_text())["patch_size"])
    return {"method": method, "patch": patch, "input_size": spec.input_size,
            "mask_patch": default_mask_patch(method, spec.input_size, patch)}
