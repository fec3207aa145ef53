"""Boxes for teaching detection: IoU, NMS with a trace, per-class NMS, Soft-NMS, anchors.

Boxes are (N, 4) float32 XYXY in pixels (x0, y0 top-left, x1, y1 bottom-right). Inputs may be
numpy arrays or torch tensors; results are numpy. The NMS here keeps exactly the boxes that
`torchvision.ops.nms` keeps (tests check it on thousands of random sets), but every step of it
can be recorded and replayed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _np(x, dtype=np.float32) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def box_area(boxes) -> np.ndarray:
    """(N, 4) -> (N,) areas in square pixels."""
    b = _np(boxes).reshape(-1, 4)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(a, b) -> np.ndarray:
    """Pairwise intersection over union: (N, 4), (M, 4) -> (N, M).

    IoU = area(A ∩ B) / (area(A) + area(B) - area(A ∩ B)). Two empty boxes give NaN, which
    compares as "not overlapping" everywhere below (as in torchvision).
    """
    a, b = _np(a).reshape(-1, 4), _np(b).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])        # [N, M, 2]
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])    # [N, M, 2]
    wh = np.clip(bottom_right - top_left, 0, None)               # [N, M, 2]
    inter = wh[..., 0] * wh[..., 1]                              # [N, M]
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (box_area(a)[:, None] + box_area(b)[None, :] - inter)


@dataclass(frozen=True)
class NmsStep:
    """One decision of greedy NMS: `kept` (an input index) survives; it is compared with the
    boxes still in the race (`rivals`, input indices, best first) and those whose IoU with it
    is above the threshold are `suppressed` (a bool per rival)."""

    kept: int
    rivals: np.ndarray
    ious: np.ndarray
    suppressed: np.ndarray


def score_order(scores) -> np.ndarray:
    """Indices by decreasing score; equal scores keep their input order."""
    return np.argsort(-_np(scores), kind="stable")


def nms(boxes, scores, iou_threshold: float, trace: list[NmsStep] | None = None) -> np.ndarray:
    """Greedy non-maximum suppression. Returns kept input indices, best first.

    Take the best remaining box, keep it, drop every remaining box whose IoU with it is above
    `iou_threshold`, repeat. With `trace` (a list), every step is appended to it.
    """
    x0, y0, x1, y1 = _np(boxes).reshape(-1, 4).T      # each [N]
    areas = (x1 - x0) * (y1 - y0)                       # [N]
    order = score_order(scores)                         # still in the race, best first
    keep = []
    with np.errstate(invalid="ignore", divide="ignore"):   # two empty boxes: NaN, never "above"
        while order.size:
            best, rest = order[0], order[1:]
            keep.append(best)
            w = np.maximum(0, np.minimum(x1[best], x1[rest]) - np.maximum(x0[best], x0[rest]))   # [R]
            h = np.maximum(0, np.minimum(y1[best], y1[rest]) - np.maximum(y0[best], y0[rest]))   # [R]
            ious = w * h / (areas[best] + areas[rest] - w * h)                                    # [R]
            drop = ious > iou_threshold
            if trace is not None:
                trace.append(NmsStep(int(best), rest, ious, drop))
            order = rest[~drop]
    return np.array(keep, np.int64)


def batched_nms(boxes, scores, labels, iou_threshold: float,
                trace: list[NmsStep] | None = None) -> np.ndarray:
    """Per-class NMS: boxes of different labels never suppress each other.

    Returns kept input indices by decreasing score (ties in input order). The trace holds each class's steps,
    classes in order of their best score.
    """
    boxes, scores, labels = _np(boxes).reshape(-1, 4), _np(scores), _np(labels, np.int64)
    keep = []
    classes = [c for c in labels[score_order(scores)]]
    for c in dict.fromkeys(classes):                   # classes by their best box
        idx = np.flatnonzero(labels == c)
        sub: list[NmsStep] | None = [] if trace is not None else None
        keep.append(idx[nms(boxes[idx], scores[idx], iou_threshold, sub)])
        if trace is not None:
            trace.extend(NmsStep(int(idx[s.kept]), idx[s.rivals], s.ious, s.suppressed) for s in sub)
    keep = np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)
    return keep[score_order(scores[keep])]         # by score; ties in input order


def soft_nms(boxes, scores, iou_threshold: float = 0.3, method: str = "gaussian", sigma: float = 0.5,
             score_threshold: float = 0.001) -> tuple[np.ndarray, np.ndarray]:
    """Soft-NMS (Bodla et al. 2017): overlapping boxes lose score instead of being removed.

    linear: s <- s * (1 - IoU) when IoU > iou_threshold; gaussian: s <- s * exp(-IoU^2 / sigma).
    Boxes whose score falls below `score_threshold` are dropped. Returns (kept indices in the
    order they were picked, their decayed scores).
    """
    boxes = _np(boxes).reshape(-1, 4)
    scores = _np(scores).copy()
    alive = score_order(scores)
    keep = []
    while alive.size:
        best = alive[np.argmax(scores[alive])]
        keep.append(best)
        alive = alive[alive != best]
        ious = box_iou(boxes[best], boxes[alive])[0]    # [R]
        if method == "linear":
            decay = np.where(ious > iou_threshold, 1.0 - ious, 1.0)
        elif method == "gaussian":
            decay = np.exp(-(ious ** 2) / sigma)
        else:
            raise ValueError(f"unknown Soft-NMS method {method!r}")
        scores[alive] *= decay
        alive = alive[scores[alive] >= score_threshold]
    keep = np.array(keep, np.int64)
    return keep, scores[keep]


def multibox_prior(feature_hw: tuple[int, int], image_hw: tuple[int, int], sizes, ratios) -> np.ndarray:
    """Anchor boxes centred on every cell of a feature map (d2l's multibox prior).

    sizes: fractions of the image height (s); ratios: width / height (r). Each cell gets
    len(sizes) + len(ratios) - 1 anchors: (s_i, r_0) for every size, then (s_0, r_j) for j >= 1,
    of width s*H*sqrt(r) and height s*H/sqrt(r) pixels.
    Returns (fh * fw * A, 4) XYXY pixels, grouped by cell in row-major order.
    """
    (fh, fw), (H, W) = feature_hw, image_hw
    pairs = [(s, ratios[0]) for s in sizes] + [(sizes[0], r) for r in ratios[1:]]
    wh = np.array([(s * H * np.sqrt(r), s * H / np.sqrt(r)) for s, r in pairs], np.float32)   # [A, 2]
    ys, xs = np.meshgrid((np.arange(fh) + 0.5) * H / fh, (np.arange(fw) + 0.5) * W / fw, indexing="ij")
    centres = np.stack([xs, ys], -1).reshape(-1, 1, 2).astype(np.float32)                    # [fh*fw, 1, 2]
    anchors = np.concatenate([centres - wh / 2, centres + wh / 2], -1)                       # [fh*fw, A, 4]
    return anchors.reshape(-1, 4)
