"""VisionLab's own dense detector: anchor-free, one feature level, FCOS-style.

Every cell of a stride-8 feature map predicts, for its centre point, a score per class, the
distances (left, top, right, bottom) from that point to the four sides of a box, and a
"centredness" (how close the point is to the middle of the object). All cells inside an
object fire, so one object yields a cluster of overlapping boxes: exactly the raw output
that non-maximum suppression exists to clean up. Anchor-free was chosen over anchors because
it is the shortest honest dense detector (no anchor matching to explain before the lesson);
the Detection tab teaches anchors separately, with d2l's multibox prior.

Saved like a transformers model: a folder with `config.json` and `model.safetensors`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class DetectorConfig:
    """backbone: a timm architecture (run dilated to `stride`); labels: class names;
    input_size: square side in pixels; mean/std: normalisation on a 0-1 scale."""

    labels: tuple[str, ...]
    input_size: int = 128
    stride: int = 8
    backbone: str = "resnet10t"
    backbone_args: dict = field(default_factory=dict)
    head_width: int = 64
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass
class DenseOutput:
    """Per-cell predictions, cells in row-major order (L = h * w).

    class_logits (B, L, K); ltrb (B, L, 4) distances in input pixels; centredness_logits (B, L);
    points (L, 2) cell centres (x, y) in input pixels.
    """

    class_logits: torch.Tensor
    ltrb: torch.Tensor
    centredness_logits: torch.Tensor
    points: torch.Tensor

    def boxes(self) -> torch.Tensor:
        """(B, L, 4) XYXY boxes in input pixels."""
        p = self.points.unsqueeze(0)                                         # [1, L, 2]
        return torch.cat([p - self.ltrb[..., :2], p + self.ltrb[..., 2:]], -1)  # [B, L, 4]

    def scores(self) -> torch.Tensor:
        """(B, L, K) detection scores: sqrt(class probability x centredness), as in FCOS."""
        return (self.class_logits.sigmoid() * self.centredness_logits.sigmoid().unsqueeze(-1)).sqrt()


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.GroupNorm(8, cout), nn.ReLU(inplace=True))


class DenseDetector(nn.Module):
    """A timm backbone (features at stride 8) and a small shared head."""

    def __init__(self, config: DetectorConfig):
        super().__init__()
        import timm

        self.config = config
        self.backbone = timm.create_model(config.backbone, pretrained=False, features_only=True,
                                          out_indices=(-1,), output_stride=config.stride,
                                          **{k: tuple(v) if isinstance(v, list) else v
                                             for k, v in config.backbone_args.items()})
        channels = self.backbone.feature_info.channels()[-1]
        w = config.head_width
        self.tower = nn.Sequential(_conv_block(channels, w), _conv_block(w, w))
        self.class_head = nn.Conv2d(w, len(config.labels), 3, padding=1)
        self.box_head = nn.Conv2d(w, 4, 3, padding=1)
        self.centredness_head = nn.Conv2d(w, 1, 3, padding=1)
        nn.init.constant_(self.class_head.bias, -4.6)  # start every class at p = 0.01 (focal-loss prior)

    def points(self, h: int, w: int, device) -> torch.Tensor:
        """(h * w, 2) centres (x, y) of the feature cells, in input pixels."""
        s = self.config.stride
        ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
        return (torch.stack([xs, ys], -1).reshape(-1, 2).float() + 0.5) * s  # [h*w, 2]

    def forward(self, pixel_values: torch.Tensor) -> DenseOutput:
        """pixel_values (B, 3, H, W), normalised; H and W multiples of the stride."""
        f = self.tower(self.backbone(pixel_values)[-1])                    # [B, C, h, w]
        B, _, h, w = f.shape
        cls = self.class_head(f).flatten(2).transpose(1, 2)                # [B, h*w, K]
        ltrb = F.softplus(self.box_head(f)).flatten(2).transpose(1, 2)     # [B, h*w, 4] in strides
        ctr = self.centredness_head(f).flatten(1)                          # [B, h*w]
        return DenseOutput(cls, ltrb * self.config.stride, ctr, self.points(h, w, f.device))

    def save_pretrained(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(
            {"architecture": "DenseDetector", **asdict(self.config)}, indent=2) + "\n")
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / "model.safetensors"))

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "DenseDetector":
        from safetensors.torch import load_file

        folder = Path(folder)
        raw = json.loads((folder / "config.json").read_text())
        raw.pop("architecture", None)
        config = DetectorConfig(**{k: tuple(v) if k in ("labels", "mean", "std") else v for k, v in raw.items()})
        model = cls(config)
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        return model
