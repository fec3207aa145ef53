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

from visionlab.text import Text

# The same model on every device.
DEFAULTS = {"classification": "resnet50", "attention": "dino-vit-s8", "grad-cam": "resnet50",
            "zero-shot": "clip-vit-b32", "masked-mae": "mae-vit-base",
            "caption": "blip-caption-base", "vqa": "blip-vqa-base", "itm": "blip-itm-base-coco"}

# task -> {"cpu": key, "gpu": key}. Why, with the figures measured by bench/real_size.py on 2 CPU
# threads: OWLv2 at 960 px takes ~5.6 s a picture there, OWL-ViT B/32 at 768 px ~0.6 s; through the app,
# 8.1 s against 1.2 s a new picture (6.8x). EdgeTAM: see bench/sam_family.py and costs.PRIORS.
BY_DEVICE = {
    "detection": {"cpu": "owlvit-base-32", "gpu": "owlv2-base"},
    "segmentation": {"cpu": "edgetam", "gpu": "sam-vit-b"},
}


# task -> {device class: why that default}, shown in the tab under its model list.
REASONS = {
    "detection": {
        "cpu": Text("On a CPU VisionLab starts on OWL-ViT B/32: about seven times faster than OWLv2 at 960 px, "
                    "which sees small objects better and is the default when there is a GPU.",
                    "在 CPU 上 VisionLab 默认用 OWL-ViT B/32：它比 960 像素的 OWLv2 快约七倍；OWLv2 更擅长找小物体，"
                    "有 GPU 时默认用它。"),
        "gpu": Text("With a GPU VisionLab starts on OWLv2 (960 px), which sees small objects better; on a CPU it "
                    "starts on OWL-ViT B/32, about seven times faster.",
                    "有 GPU 时 VisionLab 默认用 OWLv2（960 像素），它更擅长找小物体；在 CPU 上默认用快约七倍的 OWL-ViT B/32。"),
    },
    "segmentation": {
        "cpu": Text("On a CPU VisionLab starts on EdgeTAM: Meta's on-device SAM 2, whose small convolutional encoder "
                    "(RepViT-M1) encodes a new picture many times faster than SAM ViT-B's, with the same prompt encoder "
                    "and mask decoder design. SAM ViT-B, the original, is the default when there is a GPU.",
                    "在 CPU 上 VisionLab 默认用 EdgeTAM：它是 Meta 为手机做的 SAM 2，小小的卷积编码器（RepViT-M1）编码一张新图片"
                    "比 SAM ViT-B 快很多倍，提示编码器和掩码解码器的设计相同。有 GPU 时默认用原版 SAM ViT-B。"),
        "gpu": Text("With a GPU VisionLab starts on SAM ViT-B, the original Segment Anything; on a CPU it starts on "
                    "EdgeTAM, whose small encoder answers a new picture many times faster.",
                    "有 GPU 时 VisionLab 默认用原版 Segment Anything：SAM ViT-B；在 CPU 上默认用 EdgeTAM，"
                    "它的小编码器处理新图片快很多倍。"),
    },
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


def default_reason(task: str, model: str) -> Text | None:
    """Why `model` is the tab's default on this kind of device, or None when it is not the default
    (or the tab's default is the same everywhere)."""
    if task not in BY_DEVICE or model != default_for(task):
        return None
    return REASONS.get(task, {}).get(device_class())
