"""Each tab's default model, chosen for the kind of device the app runs on.

Most tabs start on the same model everywhere. Two do not: on a CPU the open-vocabulary
detector and Segment Anything start on a model that answers a new picture in about a second
(a 2-core CPU Space is where most classes meet VisionLab); with a GPU they start on the bigger,
better one. Offline, every default becomes its bundled stand-in (`demos.common.model_choices`).

    default_for("detection")   # "owlvit-base-32" on a CPU, "owlv2-base" with a GPU
"""

from __future__ import annotations

import os
import platform
import sys

# The same model on every device.
DEFAULTS = {"classification": "resnet50", "attention": "dino-vit-s8", "grad-cam": "resnet50",
            "zero-shot": "clip-vit-b32", "masked-mae": "mae-vit-base"}

# task -> {"cpu": key, "gpu": key}. Why, with the figures measured by bench/real_size.py on 2 CPU
# threads: OWLv2 at 960 px takes ~5.6 s a picture there, OWL-ViT B/32 at 768 px ~0.6 s.
BY_DEVICE = {
    "detection": {"cpu": "owlvit-base-32", "gpu": "owlv2-base"},
    "segmentation": {"cpu": "sam-vit-b", "gpu": "sam-vit-b"},
}


def device_class() -> str:
    """"gpu" or "cpu": the kind of device the models will run on, guessed without importing torch
    (importing it costs seconds at start-up). Order: torch's own answer if it is already imported;
    the device asked for (--device, VISIONLAB_DEVICE); a ZeroGPU Space; an NVIDIA driver on this
    machine; Apple silicon (mps); else the CPU."""
    from visionlab.models.device import get_device, requested_device
    from visionlab.models.gpu import on_zero_gpu

    if "torch" in sys.modules:
        return "cpu" if get_device().type == "cpu" else "gpu"
    asked = requested_device()
    if asked:
        return "cpu" if asked == "cpu" else "gpu"
    if on_zero_gpu() or os.path.exists("/proc/driver/nvidia/version"):
        return "gpu"
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return "gpu"
    return "cpu"


def default_for(task: str) -> str:
    """The registry key a tab's model dropdown starts on, on this kind of device."""
    if task in BY_DEVICE:
        return BY_DEVICE[task][device_class()]
    return DEFAULTS[task]
