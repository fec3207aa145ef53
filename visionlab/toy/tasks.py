"""Task definitions for the generic ShapesWorld trainer (see `visionlab.toy.train`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from visionlab.toy.shapes import SHAPES, make_batch


def to_model_input(images: np.ndarray | torch.Tensor, mean, std) -> torch.Tensor:
    """(B, H, W, 3) uint8 RGB -> (B, 3, H, W) float32, normalised with `mean`/`std` (0-1 scale)."""
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255.0  # [B, 3, H, W]
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s


def augment(images: torch.Tensor) -> torch.Tensor:
    """Random flips and quarter turns of a (B, H, W, 3) uint8 batch (shape names survive them)."""
    if torch.rand(()) < 0.5:
        images = images.flip(2)
    return torch.rot90(images, int(torch.randint(4, ())), dims=(1, 2))


class ClassificationTask:
    """A timm classifier that names the one shape in a ShapesWorld picture."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.data = cfg["data"]
        self.labels = list(SHAPES)

    def build(self) -> torch.nn.Module:
        import timm

        m = self.cfg["model"]
        args = dict(m.get("args", {}))
        if "channels" in args:
            args["channels"] = tuple(args["channels"])
        model = timm.create_model(m["architecture"], pretrained=False, num_classes=len(self.labels), **args)
        cfg = model.pretrained_cfg
        self.mean, self.std = cfg.get("mean"), cfg.get("std")
        return model

    def train_arrays(self) -> tuple[torch.Tensor, ...]:
        images, labels = make_batch(self.data["train_seed"], 0, self.data["train_images"], self.data["image_size"])
        return torch.from_numpy(images), torch.from_numpy(labels)

    def loss(self, model, batch) -> torch.Tensor:
        images, labels = batch
        x = to_model_input(augment(images), self.mean, self.std)
        return F.cross_entropy(model(x), labels, label_smoothing=self.cfg["optim"].get("label_smoothing", 0.0))

    @torch.inference_mode()
    def validate(self, model) -> dict[str, float]:
        images, labels = make_batch(self.data["val_seed"], 0, self.data["val_images"], self.data["image_size"])
        preds = torch.cat([model(to_model_input(images[i:i + 256], self.mean, self.std)).argmax(1)
                           for i in range(0, len(images), 256)])
        return {"val_accuracy": round(float((preds.numpy() == labels).mean()), 4)}

    def save(self, model, out_dir: Path) -> None:
        from timm.models import save_for_hf

        size = self.data["image_size"]
        save_for_hf(
            model, str(out_dir), safe_serialization=True,
            model_config={"label_names": self.labels,
                          "pretrained_cfg": {"tag": "shapesworld", "license": "mit"}},
            # trained on whole size x size pictures: no centre crop at test time
            data_config={"input_size": (3, size, size), "crop_pct": 1.0, "interpolation": "bilinear"},
        )
