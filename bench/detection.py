"""Detection benchmarks: our teaching NMS against torchvision's, and a warm /detect call
against the raw model forward (both ratios of medians, timed alternately)."""

from __future__ import annotations

import numpy as np

from bench.timing import paired_ms


def random_boxes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n boxes (XYXY, 0-1000 px, 10-150 px sides) with uniform scores: a crowded image."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, (n, 2))
    wh = rng.uniform(10, 150, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32), rng.random(n).astype(np.float32)


def nms_bench(n: int) -> dict[str, float]:
    import torch
    import torchvision.ops as tvo

    from visionlab.ops.boxes import nms

    out = {}
    for count in (1000, 5000):
        boxes, scores = random_boxes(count)
        tb, ts = torch.from_numpy(boxes), torch.from_numpy(scores)
        same = np.array_equal(nms(boxes, scores, 0.5), tvo.nms(tb, ts, 0.5).numpy())
        ours, theirs = paired_ms(lambda: nms(boxes, scores, 0.5), lambda: tvo.nms(tb, ts, 0.5), n)
        out[f"nms_same_indices[{count} boxes]"] = float(same)
        out[f"nms_time_ratio[{count} boxes]"] = ours / theirs
        out[f"nms_ms[{count} boxes]"] = ours
        out[f"torchvision_nms_ms[{count} boxes]"] = theirs
    return out


def detect_bench(n: int, picture: str) -> dict[str, float]:
    """The whole pipeline (decode the file, resize, forward, boxes in picture pixels, sort) plus
    per-class NMS, against model(x) on the already-prepared tensor."""
    import torch

    from visionlab.models import load_model
    from visionlab.pipelines.detection import DenseDetectorPipeline, suppress

    loaded = load_model("shapes-detector-tiny")
    pipe = DenseDetectorPipeline(loaded)
    x = pipe.preprocess(picture)["pixel_values"]

    def raw():
        with torch.inference_mode():
            loaded.model(x)

    full, base = paired_ms(lambda: suppress(DenseDetectorPipeline(loaded)(picture), 0.3, 0.5, "per-class"), raw, n)
    return {"detect_overhead_ratio[shapes-detector-tiny]": full / base, "detect_ms[shapes-detector-tiny]": full}
