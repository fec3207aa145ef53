"""Segment Anything benchmark: a click with the cached embedding against encoding the picture
(`set_image`), on a real-size ViT-B SAM with random weights (no checkpoint ships here)."""

from __future__ import annotations

import statistics
import time

import numpy as np


def click_bench(n: int, picture: str) -> dict[str, float]:
    import torch

    from visionlab.models.sam import SIZES, build_sam
    from visionlab.ops.images import load_image

    from segment_anything import SamPredictor

    torch.manual_seed(0)
    predictor = SamPredictor(build_sam(SIZES["vit_b"]))
    image = np.asarray(load_image(picture))
    point, label = np.array([[image.shape[1] / 2, image.shape[0] / 2]]), np.array([1])
    encode, click = [], []
    for _ in range(max(1, n)):
        t0 = time.perf_counter()
        predictor.set_image(image)
        encode.append(time.perf_counter() - t0)
        for _ in range(5):
            t0 = time.perf_counter()
            predictor.predict(point_coords=point, point_labels=label, multimask_output=True)
            click.append(time.perf_counter() - t0)
    e, c = statistics.median(encode), statistics.median(click)
    return {"sam_click_over_set_image[vit_b random weights]": c / e, "sam_set_image_s[vit_b]": e,
            "sam_click_ms[vit_b]": c * 1e3}
