"""What every timm pipeline derives once per loaded model: the eval transform, label names,
FLOPs and parameter count; and the conversions between pictures and model tensors."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from visionlab.models import LoadedModel
from visionlab.ops.images import ImageLike, load_image


def count_gflops(model: torch.nn.Module, size: int) -> float:
    """FLOPs (2 per multiply-add) of one forward pass on a size x size picture, in billions."""
    from torch.utils.flop_counter import FlopCounterMode

    p = next(model.parameters())
    x = torch.zeros(1, 3, size, size, device=p.device, dtype=p.dtype)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 1e9


@functools.lru_cache(maxsize=1)
def imagenet_names() -> tuple[str, ...]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.index_to_description(i) for i in range(1000))


def label_names(model: torch.nn.Module, num_classes: int) -> list[str]:
    """Readable class names: the checkpoint's own, else ImageNet-1k descriptions."""
    names = model.pretrained_cfg.get("label_names")
    if names and len(names) == num_classes:
        return [str(n) for n in names]
    if num_classes == 1000:
        return list(imagenet_names())
    return [f"class {i}" for i in range(num_classes)]


@dataclass(frozen=True)
class TimmInputs:
    """data_config: timm's resolved preprocessing (input_size, mean, std, crop_pct...).
    labels: one name per output class (empty for feature extractors such as DINO)."""

    data_config: dict
    transform: Any
    labels: list[str]
    gflops: float
    params: int

    @property
    def size(self) -> int:
        return int(self.data_config["input_size"][-1])

    def tensor(self, image: ImageLike) -> torch.Tensor:
        """Any picture -> (1, 3, S, S) float32, resized, centre-cropped and normalised."""
        return self.transform(load_image(image)).unsqueeze(0)

    def picture(self, pixel_values: torch.Tensor) -> np.ndarray:
        """(3, S, S) normalised tensor -> (S, S, 3) uint8 RGB, the normalisation undone."""
        mean = torch.tensor(self.data_config["mean"]).view(3, 1, 1)
        std = torch.tensor(self.data_config["std"]).view(3, 1, 1)
        x = pixel_values.float().cpu() * std + mean                      # [3, S, S], 0-1 scale
        return (x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()  # [S, S, 3]


def timm_inputs(loaded: LoadedModel) -> TimmInputs:
    """The TimmInputs of a loaded model, computed on first use and kept with the model."""
    if "timm_inputs" not in loaded.memo:
        from timm.data import create_transform, resolve_model_data_config

        model = loaded.model
        data_config = resolve_model_data_config(model)
        loaded.memo["timm_inputs"] = TimmInputs(
            data_config, create_transform(**data_config, is_training=False),
            label_names(model, model.num_classes), count_gflops(model, int(data_config["input_size"][-1])),
            sum(p.numel() for p in model.parameters()))
    return loaded.memo["timm_inputs"]
