"""Box ops: IoU, NMS (against torchvision), its trace, Soft-NMS, anchors, and mAP."""

import numpy as np
import pytest
import torch
import torchvision.ops as tvo

from visionlab.ops.boxes import batched_nms, box_iou, multibox_prior, nms, soft_nms
from visionlab.ops.detection_metrics import (Detections, Truth, average_precision, mean_average_precision,
                                             precision_recall, true_positives)


def random_boxes(rng, n, degenerate=False):
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(0, 40, (n, 2))
    if degenerate:
        wh[rng.random(n) < 0.2] = 0          # empty boxes
        wh[rng.random(n) < 0.1, 0] = 0       # zero width only
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


def random_case(rng, t):
    n = int(rng.integers(0, 120))
    boxes = random_boxes(rng, n, degenerate=t % 3 == 0)
    scores = rng.random(n).astype(np.float32)
    if t % 2 == 0:
        scores = (np.round(scores * 4) / 4).astype(np.float32)   # many exact ties
    if t % 7 == 0 and n:
        boxes[n // 2:] = boxes[0]                                # exact duplicates
    labels = rng.integers(0, 4, n)
    thr = float(rng.choice([0.0, 0.1, 0.3, 0.5, 0.7, 1.0]))
    return boxes, scores, labels, thr


def test_iou_by_hand():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0]])
    np.testing.assert_allclose(box_iou(a, b), tvo.box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy())


def test_nms_keeps_exactly_what_torchvision_keeps():
    rng = np.random.default_rng(0)
    for t in range(2000):
        boxes, scores, labels, thr = random_case(rng, t)
        tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
        np.testing.assert_array_equal(nms(boxes, scores, thr), tvo.nms(tb, ts, thr).numpy(), err_msg=f"case {t}")
        np.testing.assert_array_equal(batched_nms(boxes, scores, labels, thr),
                                      tvo.batched_nms(tb, ts, torch.from_numpy(labels), thr).numpy(),
                                      err_msg=f"case {t}")


def test_nms_properties_and_the_trace_replays_to_the_kept_set():
    rng = np.random.default_rng(1)
    for t in range(300):
        boxes, scores, labels, thr = random_case(rng, t + 1)   # odd t: no degenerate boxes
        trace = []
        keep = nms(boxes, scores, thr, trace)
        assert [s.kept for s in trace] == keep.tolist()
        ious = box_iou(boxes[keep], boxes[keep])
        np.fill_diagonal(ious, 0)
        assert not (ious > thr).any(), "two kept boxes overlap above the threshold"
        suppressed = np.setdiff1d(np.arange(len(scores)), keep)
        for step in trace:                                     # each suppressed box is removed once,
            for i in step.rivals[step.suppressed]:             # by a kept box scoring at least as high
                assert scores[step.kept] >= scores[i] and box_iou(boxes[step.kept], boxes[i])[0, 0] > thr
        assert sorted(int(i) for s in trace for i in s.rivals[s.suppressed]) == sorted(suppressed.tolist())
        btrace = []
        bkeep = batched_nms(boxes, scores, labels, thr, btrace)
        assert sorted(s.kept for s in btrace) == sorted(bkeep.tolist())


def test_soft_nms_decays_instead_of_removing():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    keep, new = soft_nms(boxes, scores, iou_threshold=0.3, method="linear")
    iou = box_iou(boxes[0], boxes[1])[0, 0]
    assert keep.tolist() == [0, 2, 1]                       # the overlapping box survives, weaker
    np.testing.assert_allclose(new, [0.9, 0.7, 0.8 * (1 - iou)], rtol=1e-6)
    keep, new = soft_nms(boxes, scores, method="gaussian", sigma=0.5)
    np.testing.assert_allclose(new[keep.tolist().index(1)], 0.8 * np.exp(-iou ** 2 / 0.5), rtol=1e-6)
    keep, _ = soft_nms(boxes, scores, method="linear", iou_threshold=0.3, score_threshold=0.5)
    assert keep.tolist() == [0, 2]                          # decayed below the floor: gone
    with pytest.raises(ValueError):
        soft_nms(boxes, scores, method="cubic")


def test_anchors_follow_d2l_multibox_prior():
    anchors = multibox_prior((2, 3), (40, 60), sizes=[0.5, 0.25], ratios=[1, 2, 0.5])
    assert anchors.shape == (2 * 3 * 4, 4)                  # (sizes + ratios - 1) per cell
    first = anchors[:4]                                     # the cell at row 0, column 0: centre (10, 10)
    np.testing.assert_allclose((first[:, :2] + first[:, 2:]) / 2, [[10, 10]] * 4)
    w, h = first[:, 2] - first[:, 0], first[:, 3] - first[:, 1]
    np.testing.assert_allclose(w, [20, 10, 20 * np.sqrt(2), 20 / np.sqrt(2)], rtol=1e-6)
    np.testing.assert_allclose(w / h, [1, 1, 2, 0.5], rtol=1e-6)


def test_matching_counts_duplicates_as_false_positives():
    truth = Truth(np.array([[0, 0, 10, 10]], np.float32), np.array([1]))
    det = Detections(np.array([[0, 0, 10, 10], [0, 0, 10, 9], [0, 0, 10, 10]], np.float32),
                     np.array([0.5, 0.9, 0.8], np.float32), np.array([1, 1, 2]))
    assert true_positives(det, truth).tolist() == [False, True, False]   # best score claims it; wrong label fails
    assert precision_recall([det], [truth]) == (1 / 3, 1.0)


def test_average_precision_by_hand():
    # 2 objects; detections by score: hit, miss, hit -> precision 1 at recall .5, 2/3 at recall 1
    assert average_precision(np.array([True, False, True]), 2) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert average_precision(np.array([True, True]), 2) == 1.0
    assert np.isnan(average_precision(np.array([], bool), 0))
    truths = [Truth(np.array([[0, 0, 10, 10]], np.float32), np.array([0]))]
    perfect = [Detections(truths[0].boxes, np.array([0.9], np.float32), np.array([0]))]
    assert mean_average_precision(perfect, truths, 3)[0] == 1.0
    assert mean_average_precision([Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                                              np.zeros(0, int))], truths, 3)[0] == 0.0
