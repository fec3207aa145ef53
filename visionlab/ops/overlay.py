"""Pictures for teaching: heatmaps blended on images, colour bars, tiles, patch grids.

Every function takes and returns (H, W, 3) uint8 RGB arrays; heatmaps are (h, w) floats in
any range (they are min-max scaled for display unless `lo`/`hi` are given).
"""

from __future__ import annotations

import cv2
import numpy as np

from visionlab.ops import style

COLORMAP = cv2.COLORMAP_JET  # blue = little, red = much: what students expect from a heatmap


def colourise(heat: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """(h, w) floats -> (h, w, 3) uint8 RGB through the colormap (scaled to [lo, hi])."""
    heat = np.asarray(heat, np.float32)
    lo = float(heat.min()) if lo is None else lo
    hi = float(heat.max()) if hi is None else hi
    scaled = np.clip((heat - lo) / max(hi - lo, 1e-12), 0, 1)
    bgr = cv2.applyColorMap(np.round(scaled * 255).astype(np.uint8), COLORMAP)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def heatmap_overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5, smooth: bool = True,
                    colour_bar: bool = True) -> np.ndarray:
    """Blend a heatmap over `image`: the map is resized to the picture (bilinear if `smooth`,
    else blocky, one block per patch), coloured, mixed with weight `alpha`, and a colour bar
    with the map's min and max is added on the right. Under a high-contrast style
    (`visionlab.ops.style`) the weight is at least the style's `min_alpha`."""
    alpha = max(alpha, style.current().min_alpha)
    h, w = image.shape[:2]
    interp = cv2.INTER_LINEAR if smooth else cv2.INTER_NEAREST
    big = cv2.resize(np.asarray(heat, np.float32), (w, h), interpolation=interp)
    blend = (1 - alpha) * image.astype(np.float32) + alpha * colourise(big).astype(np.float32)
    out = np.clip(blend, 0, 255).astype(np.uint8)
    return add_colour_bar(out, float(np.min(heat)), float(np.max(heat))) if colour_bar else out


def add_colour_bar(image: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Append a vertical colour bar (top = hi, bottom = lo) with both values written on it."""
    h = image.shape[0]
    width = max(24, h // 12)
    ramp = np.linspace(1, 0, h, dtype=np.float32)[:, None].repeat(width, 1)   # [h, width]
    bar = colourise(ramp, 0, 1)
    st = style.current()
    scale = max(0.3, h / 900) * st.font_scale
    thick = 2 if st.outline else 1                                            # bolder on a projector
    labels = (f"{hi:.2g}", f"{lo:.2g}")
    text_w = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] for t in labels)
    pad = np.full((h, width + text_w + 16, 3), 255, np.uint8)                  # bar, gap, the longer label
    pad[:, 4:4 + width] = bar
    for text, y in zip(labels, (int(14 * scale / 0.4), h - 6)):
        cv2.putText(pad, text, (width + 10, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return np.concatenate([image, pad], axis=1)


def tile(images: list[np.ndarray], cols: int, captions: list[str] | None = None, gap: int = 6) -> np.ndarray:
    """Lay same-size pictures out in a grid (white gaps), each with an optional caption above."""
    h, w = images[0].shape[:2]
    cap = 22 if captions else 0
    rows = (len(images) + cols - 1) // cols
    out = np.full((rows * (h + cap + gap), cols * (w + gap), 3), 255, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        y, x = r * (h + cap + gap) + cap, c * (w + gap)
        out[y:y + h, x:x + w] = img
        if captions:
            cv2.putText(out, captions[k], (x + 2, y - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def patch_grid(image: np.ndarray, grid: tuple[int, int], highlight: int | None = None) -> np.ndarray:
    """The picture cut into its gh x gw patches, numbered in reading order (the token order),
    with a [CLS] token drawn beside it. `highlight` outlines one patch."""
    gh, gw = grid
    h, w = image.shape[:2]
    out = image.copy()
    ph, pw = h / gh, w / gw
    scale = max(0.25, min(ph, pw) / 110)
    for i in range(1, gh):
        cv2.line(out, (0, round(i * ph)), (w, round(i * ph)), (255, 255, 255), 1)
    for j in range(1, gw):
        cv2.line(out, (round(j * pw), 0), (round(j * pw), h), (255, 255, 255), 1)
    for i in range(gh):
        for j in range(gw):
            org = (round(j * pw) + 2, round(i * ph + min(ph, 14 * scale / 0.35)))
            cv2.putText(out, str(i * gw + j + 1), org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 2, cv2.LINE_AA)
            cv2.putText(out, str(i * gw + j + 1), org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    if highlight is not None:
        i, j = divmod(highlight, gw)
        cv2.rectangle(out, (round(j * pw), round(i * ph)), (round((j + 1) * pw) - 1, round((i + 1) * ph) - 1),
                      (255, 0, 0), 2)
    side = cls_panel_width(image.shape, grid) - 16
    cls = np.full((h, side + 16, 3), 255, np.uint8)
    cv2.rectangle(cls, (8, 8), (8 + side, 8 + side), (90, 90, 90), -1)
    cv2.putText(cls, "CLS", (12, 8 + side // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, max(0.35, side / 110),
                (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(cls, "0", (12, 8 + side + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([cls, out], axis=1)


def cls_panel_width(shape: tuple[int, ...], grid: tuple[int, int]) -> int:
    """Width in pixels of the [CLS] panel that `patch_grid` puts left of a (H, W, 3) picture."""
    return max(40, int(min(shape[0] / grid[0], shape[1] / grid[1]))) + 16


def patch_at(x: float, y: float, shape: tuple[int, ...], grid: tuple[int, int]) -> int | None:
    """The patch (0-based, reading order) under pixel (x, y) of a `patch_grid` picture made
    from a picture of `shape`; None on the [CLS] panel or outside."""
    h, w = shape[:2]
    x -= cls_panel_width(shape, grid)
    if not (0 <= x < w and 0 <= y < h):
        return None
    return int(y * grid[0] // h) * grid[1] + int(x * grid[1] // w)


def similarity_mosaic(sim: np.ndarray, cell: int = 24, gap: int = 2) -> np.ndarray:
    """(gh, gw, gh, gw) similarities -> one picture: at grid place (i, j), the small map of
    patch (i, j)'s similarity to every patch (as in the ViT paper's position-embedding figure)."""
    gh, gw = sim.shape[:2]
    lo, hi = float(sim.min()), float(sim.max())
    out = np.full((gh * (cell + gap), gw * (cell + gap), 3), 255, np.uint8)
    for i in range(gh):
        for j in range(gw):
            small = cv2.resize(colourise(sim[i, j], lo, hi), (cell, cell), interpolation=cv2.INTER_NEAREST)
            out[i * (cell + gap):i * (cell + gap) + cell, j * (cell + gap):j * (cell + gap) + cell] = small
    return add_colour_bar(out, lo, hi)
