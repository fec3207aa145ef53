"""Turn recorded attention (AttentionMaps) and Grad-CAM (GradCamMap) into pictures.

Every function returns (picture, caption): an (H, W, 3) uint8 RGB array and one sentence
saying what it shows. Layers and heads are counted from 1 here, as people count; values out
of range are clamped and the caption says so.
"""

from __future__ import annotations

import numpy as np
import torch

from visionlab.ops.attention import rollout, token_to_patches, top_mass_mask
from visionlab.ops.images import upscale_nearest
from visionlab.ops import overlay
from visionlab.ops.overlay import heatmap_overlay, patch_grid, similarity_mosaic, tile
from visionlab.pipelines.attention import AttentionMaps, GradCamMap, WrongKindOfModel
from visionlab.text import Text

DISPLAY = 448  # pictures are shown at least this large, so 8 x 8 patches stay visible


def _clamp(value: int, high: int, what: str, notes: list[str]) -> int:
    """1-based `value` into [1, high]; a note is added when it had to move."""
    v = min(max(int(value), 1), high)
    if v != int(value):
        notes.append(f"{what.capitalize()} {int(value)} does not exist here, so {what} {v} of {high} is shown.")
    return v


def _big(picture: np.ndarray) -> np.ndarray:
    return upscale_nearest(picture, DISPLAY)


def _caption(text: str, notes: list[str]) -> str:
    return " ".join([text, *notes])


def rollout_view(maps: AttentionMaps, fusion: str = "mean", discard: float = 0.9,
                 alpha: float = 0.55) -> tuple[np.ndarray, str]:
    joint = rollout(torch.from_numpy(maps.attn), fusion, discard)           # [T, T]
    heat = token_to_patches(joint[0], maps.prefix, maps.grid).numpy()       # [gh, gw]
    return (heatmap_overlay(_big(maps.picture), heat, alpha),
            f"Attention rollout through all {maps.attn.shape[0]} layers: how much the [CLS] token draws on "
            f"each patch (heads fused by {fusion}, lowest {discard:.0%} of links discarded).")


def head_view(maps: AttentionMaps, layer: int, head: int, alpha: float = 0.55) -> tuple[np.ndarray, str]:
    L, H = maps.attn.shape[:2]
    notes: list[str] = []
    layer, head = _clamp(layer, L, "layer", notes), _clamp(head, H, "head", notes)
    row = maps.attn[layer - 1, head - 1, 0]                                # [T]: the [CLS] query
    heat = token_to_patches(torch.from_numpy(row), maps.prefix, maps.grid).numpy()
    return (heatmap_overlay(_big(maps.picture), heat, alpha, smooth=False),
            _caption(f"Layer {layer}, head {head}: the [CLS] token's attention over the patches "
                     "(the row of softmax(QK^T/sqrt(d)) for [CLS]).", notes))


def all_heads_view(maps: AttentionMaps, layer: int, alpha: float = 0.55) -> tuple[np.ndarray, str]:
    L, H = maps.attn.shape[:2]
    notes: list[str] = []
    layer = _clamp(layer, L, "layer", notes)
    small = upscale_nearest(maps.picture, 192)
    tiles = [heatmap_overlay(small, token_to_patches(torch.from_numpy(maps.attn[layer - 1, h, 0]), maps.prefix,
                                                     maps.grid).numpy(), alpha, smooth=False, colour_bar=False)
             for h in range(H)]
    cols = min(H, 4 if H <= 8 else 6)
    return (tile(tiles, cols, [f"head {h + 1}" for h in range(H)]),
            _caption(f"Layer {layer}: the [CLS] token's attention in each of its {H} heads. Heads learn to "
                     "look for different things.", notes))


def dino_view(maps: AttentionMaps, keep: float = 0.6, fusion: str = "mean") -> tuple[np.ndarray, str]:
    """Keep the patches holding `keep` of the last layer's [CLS] attention (heads fused)."""
    last = torch.from_numpy(maps.attn[-1])                                  # [H, T, T]
    fused = {"mean": last.mean(0), "max": last.amax(0), "min": last.amin(0)}[fusion][0]  # [T]
    heat = token_to_patches(fused, maps.prefix, maps.grid)
    mask = top_mass_mask(heat, keep).numpy().astype(np.float32)             # [gh, gw]
    big = _big(maps.picture)
    h, w = big.shape[:2]
    up = np.kron(mask, np.ones((h // maps.grid[0], w // maps.grid[1]), np.float32))[..., None]
    out = (big * (0.25 + 0.75 * up)).astype(np.uint8)                      # dim what is left out
    return out, (f"DINO-style mask: the {int(mask.sum())} of {mask.size} patches that hold {keep:.0%} of the "
                 "last layer's [CLS] attention; the rest is dimmed.")


def patch_view(maps: AttentionMaps, patch: int, layer: int, alpha: float = 0.55) -> tuple[np.ndarray, str]:
    """What one patch (0-based, reading order) attends to in one layer, heads averaged."""
    L = maps.attn.shape[0]
    gh, gw = maps.grid
    notes: list[str] = []
    layer = _clamp(layer, L, "layer", notes)
    if not 0 <= int(patch) < gh * gw:
        clamped = min(max(int(patch), 0), gh * gw - 1)
        notes.append(f"There is no patch {int(patch) + 1}; patch {clamped + 1} of {gh * gw} is shown.")
        patch = clamped
    row = maps.attn[layer - 1, :, maps.prefix + int(patch)].mean(0)        # [T], heads averaged
    heat = token_to_patches(torch.from_numpy(row), maps.prefix, maps.grid).numpy()
    overlay = heatmap_overlay(_big(maps.picture), heat, alpha, smooth=False, colour_bar=False)
    marked = patch_grid(overlay, maps.grid, highlight=int(patch))
    cls_share = float(row[:maps.prefix].sum())
    return marked, _caption(f"Patch {int(patch) + 1} (outlined) in layer {layer}: where it looks, heads averaged. "
                            f"It gives {cls_share:.0%} of its attention to the [CLS] token.", notes)


def patches_view(maps: AttentionMaps) -> tuple[np.ndarray, str]:
    gh, gw = maps.grid
    return (patch_grid(_big(maps.picture), maps.grid),
            f"How a ViT reads the picture: {gh} x {gw} = {gh * gw} patches of {maps.patch_size} x "
            f"{maps.patch_size} pixels, numbered in token order, plus the [CLS] token (0). Click a patch "
            "to see what it attends to.")


def position_view(maps: AttentionMaps) -> tuple[np.ndarray, str]:
    if maps.pos_similarity is None:
        raise WrongKindOfModel(Text("This model has no learned position embedding to show.",
                                    "这个模型没有可以展示的（学习得到的）位置嵌入。"))
    cell = max(12, 448 // max(maps.grid))
    return (similarity_mosaic(maps.pos_similarity, cell=cell),
            "Position embeddings: at each patch's place, a small map of how similar (cosine) its position "
            "embedding is to every other patch's. ViTs trained on photos learn that nearby patches, and patches "
            "in the same row or column, belong together; the bundled tiny ViT saw its pictures flipped and "
            "turned, so it mostly learned how far a patch is from the centre.")


def grad_cam_view(cam: GradCamMap, alpha: float = 0.55) -> tuple[np.ndarray, str]:
    h, w = cam.cam.shape
    return (heatmap_overlay(_big(cam.picture), cam.cam, alpha),
            f"Grad-CAM for '{cam.label}' ({cam.probability:.0%}): the {h} x {w} feature maps of `{cam.layer}`, "
            "weighted by how much each raises that class's score.")


def patch_at(maps: AttentionMaps, x: float, y: float) -> int | None:
    """The patch under a click at (x, y) on a `patches_view` / `patch_view` picture."""
    return overlay.patch_at(x, y, _big(maps.picture).shape, maps.grid)


def cam_peak(cam: np.ndarray, size: int) -> tuple[float, float]:
    """(x, y) in input pixels of the centre of the strongest Grad-CAM cell."""
    h, w = cam.shape
    cy, cx = divmod(int(cam.argmax()), w)
    return (cx + 0.5) * size / w, (cy + 0.5) * size / h
