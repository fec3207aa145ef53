"""How good is a detector? Matching, precision and recall, and mean average precision.

A detection is a true positive when it has the right label and IoU >= the threshold with a
ground-truth box that no higher-scoring detection has already claimed; otherwise it is a false
positive (a duplicate of an already-found object counts as a false positive: that is what NMS
removes). Boxes are XYXY pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from visionlab.ops.boxes import box_iou, score_order


@dataclass(frozen=True)
class Detections:
    """One image's detections: boxes (N, 4) XYXY pixels, scores (N,), labels (N,) int."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class Truth:
    """One image's ground truth: boxes (M, 4) XYXY pixels, labels (M,) int."""

    boxes: np.ndarray
    labels: np.ndarray


def true_positives(det: Detections, truth: Truth, iou_threshold: float = 0.5) -> np.ndarray:
    """(N,) bool per detection, in the detections' own order (greedy matching by score)."""
    tp = np.zeros(len(det.scores), bool)
    claimed = np.zeros(len(truth.labels), bool)
    ious = box_iou(det.boxes, truth.boxes) if len(truth.labels) else np.zeros((len(det.scores), 0))
    for i in score_order(det.scores):
        candidates = (truth.labels == det.labels[i]) & ~claimed & (np.nan_to_num(ious[i]) >= iou_threshold)
        if candidates.any():
            j = np.flatnonzero(candidates)[np.argmax(ious[i][candidates])]
            claimed[j] = tp[i] = True
    return tp


def average_precision(tp_sorted: np.ndarray, n_truth: int) -> float:
    """Area under the precision-recall curve (all-point interpolation, as PASCAL VOC 2010+).

    tp_sorted: (N,) bool true-positive flags of all detections of one class, best score first.
    """
    if n_truth == 0:
        return float("nan")
    tp = np.cumsum(tp_sorted)
    recall = np.concatenate([[0.0], tp / n_truth])
    precision = np.concatenate([[1.0], tp / np.arange(1, len(tp_sorted) + 1)])
    precision = np.maximum.accumulate(precision[::-1])[::-1]   # the best precision at recall >= r
    return float(np.sum(np.diff(recall) * precision[1:]))


def mean_average_precision(dets: list[Detections], truths: list[Truth], num_classes: int,
                           iou_threshold: float = 0.5) -> tuple[float, list[float]]:
    """mAP over classes that occur in the ground truth, and the AP of each class (NaN if absent)."""
    flags = [true_positives(d, t, iou_threshold) for d, t in zip(dets, truths)]
    scores = np.concatenate([d.scores for d in dets]) if dets else np.zeros(0)
    labels = np.concatenate([d.labels for d in dets]) if dets else np.zeros(0, int)
    tp = np.concatenate(flags) if flags else np.zeros(0, bool)
    per_class = []
    for c in range(num_classes):
        mine = labels == c
        n_truth = sum(int((t.labels == c).sum()) for t in truths)
        per_class.append(average_precision(tp[mine][score_order(scores[mine])], n_truth))
    present = [ap for ap in per_class if not np.isnan(ap)]
    return (float(np.mean(present)) if present else float("nan")), per_class


def precision_recall(dets: list[Detections], truths: list[Truth], iou_threshold: float = 0.5) -> tuple[float, float]:
    """Precision (found / reported) and recall (found / present) of the detections as given."""
    tp = sum(int(true_positives(d, t, iou_threshold).sum()) for d, t in zip(dets, truths))
    reported = sum(len(d.scores) for d in dets)
    present = sum(len(t.labels) for t in truths)
    return (tp / reported if reported else 1.0), (tp / present if present else 1.0)
