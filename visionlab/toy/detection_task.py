"""Train VisionLab's dense detector on ShapesWorld scenes (config `task = "detection"`).

Targets follow FCOS with centre sampling: a feature cell is a positive for an object when its
centre lies inside the object's box and within `centre_radius` strides of the box centre
(the smallest such object wins). Losses: sigmoid focal loss on the class scores (over all
cells), GIoU loss on the boxes and binary cross-entropy on the centredness (positives only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import generalized_box_iou_loss, sigmoid_focal_loss

from visionlab.models.dense_detector import DenseDetector, DetectorConfig
from visionlab.ops.boxes import batched_nms
from visionlab.ops.detection_metrics import Detections, Truth, mean_average_precision
from visionlab.toy.shapes import SHAPES, make_scene
from visionlab.toy.tasks import to_model_input

MAX_OBJECTS = 5


def scene_arrays(seed: int, count: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`count` scenes: images (B, S, S, 3) uint8, boxes (B, 5, 4) XYXY px, labels (B, 5) (-1 = none)."""
    images = np.zeros((count, size, size, 3), np.uint8)
    boxes = np.zeros((count, MAX_OBJECTS, 4), np.float32)
    labels = np.full((count, MAX_OBJECTS), -1, np.int64)
    for i in range(count):
        scene = make_scene(seed, i, size, MAX_OBJECTS)
        n = len(scene.shape_ids)
        images[i], boxes[i, :n], labels[i, :n] = scene.image, scene.boxes, scene.shape_ids
    return torch.from_numpy(images), torch.from_numpy(boxes), torch.from_numpy(labels)


def flip(images: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror a (B, S, S, 3) batch left-right, with its (B, N, 4) boxes."""
    size = images.shape[2]
    x0, y0, x1, y1 = boxes.unbind(-1)
    return images.flip(2), torch.stack([size - x1, y0, size - x0, y1], -1)


def fcos_targets(points: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor, stride: int,
                 centre_radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Assign each cell at most one object.

    points (L, 2) px; boxes (B, N, 4) px; labels (B, N), -1 for padding.
    Returns matched (B, L) object index or -1, and ltrb (B, L, 4) distances to its box sides.
    """
    px, py = points[None, :, None, 0], points[None, :, None, 1]                # [1, L, 1]
    x0, y0, x1, y1 = (boxes[:, None, :, k] for k in range(4))                  # each [B, 1, N]
    ltrb = torch.stack([px - x0, py - y0, x1 - px, y1 - py], -1)               # [B, L, N, 4]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    r = centre_radius * stride
    near_centre = ((px - cx).abs() < r) & ((py - cy).abs() < r)                # [B, L, N]
    ok = (ltrb.min(-1).values > 0) & near_centre & (labels[:, None, :] >= 0)
    area = ((x1 - x0) * (y1 - y0)).expand_as(ok).masked_fill(~ok, float("inf"))  # [B, L, N]
    best_area, matched = area.min(-1)                                          # [B, L]
    matched = matched.masked_fill(best_area.isinf(), -1)
    ltrb = ltrb.gather(2, matched.clamp(min=0)[..., None, None].expand(-1, -1, 1, 4)).squeeze(2)  # [B, L, 4]
    return matched, ltrb


class DetectionTask:
    """The dense detector on multi-object ShapesWorld scenes."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.data = cfg["data"]
        self.labels = tuple(SHAPES)
        self.centre_radius = float(cfg["model"].get("centre_radius", 1.5))

    def build(self) -> DenseDetector:
        m = self.cfg["model"]
        self.config = DetectorConfig(labels=self.labels, input_size=self.data["image_size"],
                                     backbone=m["backbone"], backbone_args=dict(m.get("backbone_args", {})),
                                     head_width=m.get("head_width", 64))
        return DenseDetector(self.config)

    def train_arrays(self) -> tuple[torch.Tensor, ...]:
        return scene_arrays(self.data["train_seed"], self.data["train_images"], self.data["image_size"])

    def loss(self, model: DenseDetector, batch) -> torch.Tensor:
        images, boxes, labels = batch
        if torch.rand(()) < 0.5:
            images, boxes = flip(images, boxes)
        out = model(to_model_input(images, self.config.mean, self.config.std))
        matched, ltrb = fcos_targets(out.points, boxes, labels, self.config.stride, self.centre_radius)
        pos = matched >= 0                                                     # [B, L]
        n_pos = max(1, int(pos.sum()))
        cls_target = torch.zeros_like(out.class_logits)                       # [B, L, K]
        cls_target[pos, labels.gather(1, matched.clamp(min=0))[pos]] = 1.0
        cls_loss = sigmoid_focal_loss(out.class_logits, cls_target, reduction="sum") / n_pos
        pred_boxes, true_boxes = out.boxes()[pos], boxes.gather(1, matched.clamp(min=0)[..., None].expand(-1, -1, 4))[pos]
        box_loss = generalized_box_iou_loss(pred_boxes, true_boxes, reduction="mean")
        l, t, r, b = ltrb[pos].unbind(-1)
        centredness = ((torch.minimum(l, r) / torch.maximum(l, r)) * (torch.minimum(t, b) / torch.maximum(t, b))).sqrt()
        ctr_loss = F.binary_cross_entropy_with_logits(out.centredness_logits[pos], centredness)
        return cls_loss + box_loss + ctr_loss

    @torch.inference_mode()
    def validate(self, model: DenseDetector) -> dict[str, float]:
        images, boxes, labels = scene_arrays(self.data["val_seed"], self.data["val_images"], self.data["image_size"])
        return {"val_map50": round(evaluate_map(model, images, boxes, labels), 4)}

    def save(self, model: DenseDetector, out_dir: Path) -> None:
        model.save_pretrained(out_dir)


@torch.inference_mode()
def detect_batch(model: DenseDetector, images: torch.Tensor, score_threshold: float = 0.05,
                 iou_threshold: float = 0.5) -> list[Detections]:
    """Per-class NMS detections for (B, S, S, 3) uint8 scenes (one box per cell, its best class)."""
    out = model(to_model_input(images, model.config.mean, model.config.std))
    scores, labels = out.scores().max(-1)                                      # [B, L]
    boxes = out.boxes()
    dets = []
    for b in range(len(images)):
        keep = (scores[b] >= score_threshold).numpy()
        bx, sc, lb = boxes[b].numpy()[keep], scores[b].numpy()[keep], labels[b].numpy()[keep]
        k = batched_nms(bx, sc, lb, iou_threshold)
        dets.append(Detections(bx[k], sc[k], lb[k]))
    return dets


def evaluate_map(model: DenseDetector, images, boxes, labels, iou_threshold: float = 0.5) -> float:
    """mAP@`iou_threshold` after per-class NMS over a set of scenes."""
    dets = [d for i in range(0, len(images), 64) for d in detect_batch(model, images[i:i + 64])]
    truths = [Truth(bx[lb >= 0].numpy(), lb[lb >= 0].numpy()) for bx, lb in zip(boxes, labels)]
    return mean_average_precision(dets, truths, len(SHAPES), iou_threshold)[0]



def report(model: DenseDetector, scenes: int = 500, seed: int = 3, score_threshold: float = 0.3) -> dict[str, float]:
    """The lesson in numbers, on held-out scenes: mAP@0.5 after NMS, and precision / recall at
    one score threshold with per-class NMS and without any NMS."""
    from visionlab.ops.detection_metrics import precision_recall

    images, boxes, labels = scene_arrays(seed, scenes, model.config.input_size)
    truths = [Truth(bx[lb >= 0].numpy(), lb[lb >= 0].numpy()) for bx, lb in zip(boxes, labels)]
    out = {"scenes": scenes, "map50_after_nms": round(evaluate_map(model, images, boxes, labels), 4)}
    for name, iou in (("nms", 0.5), ("no_nms", 1.0)):
        dets = [d for i in range(0, scenes, 64) for d in detect_batch(model, images[i:i + 64], score_threshold, iou)]
        p, r = precision_recall(dets, truths)
        out.update({f"precision_{name}": round(p, 4), f"recall_{name}": round(r, 4),
                    f"boxes_per_scene_{name}": round(sum(len(d.scores) for d in dets) / scenes, 2)})
    return out


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Evaluate the dense detector on held-out ShapesWorld scenes.")
    parser.add_argument("folder", nargs="?", default="weights/shapes-detector-tiny")
    parser.add_argument("--scenes", type=int, default=500)
    args = parser.parse_args()
    print(json.dumps(report(DenseDetector.from_pretrained(args.folder).eval(), args.scenes), indent=2))
