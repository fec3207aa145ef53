"""Turn recorded attention (AttentionMaps) and Grad-CAM (GradCamMap) into pictures.

Every function returns (picture, caption): an (H, W, 3) uint8 RGB array and one sentence
saying what it shows (a `Text`, in English and Chinese). Layers and heads are counted from 1 here, as people count; values out
of range are clamped and the caption says so.
"""

from __future__ import annotations

import numpy as np
import torch

from visionlab.ops.attention import dino_masks, rollout, token_to_patches, top_mass_mask
from visionlab.ops.images import upscale_nearest
from visionlab.ops import overlay
from visionlab.ops.overlay import heatmap_overlay, patch_grid, similarity_mosaic, tile
from visionlab.pipelines.attention import (GRID_DISPLAY, HEAD, LAYER, AttentionMaps, DinoAttention, GradCamMap,
                                           PatchAttention, WrongKindOfModel, attention_of_patch)
from visionlab.pipelines.attention import clamp_counted as _clamp
from visionlab.text import Text

DISPLAY = GRID_DISPLAY  # pictures are shown at least this large, so 8 x 8 patches stay visible


def _big(picture: np.ndarray) -> np.ndarray:
    return upscale_nearest(picture, DISPLAY)


def _caption(text: Text, notes: list[Text]) -> Text:
    for note in notes:
        text = text + " " + note
    return text


def rollout_view(maps: AttentionMaps, fusion: str = "mean", discard: float = 0.9,
                 alpha: float = 0.55, protect: str = "cls-entry") -> tuple[np.ndarray, Text]:
    """Rollout of [CLS] over the patches. protect: which links the discard spares (see
    `visionlab.ops.attention.discard_lowest`); the default is the usual implementation's."""
    joint = rollout(torch.from_numpy(maps.attn), fusion, discard, protect)  # [T, T]
    heat = token_to_patches(joint[0], maps.prefix, maps.grid).numpy()       # [gh, gw]
    L = maps.attn.shape[0]
    fused = {"mean": "平均", "max": "最大值", "min": "最小值"}.get(fusion, fusion)
    text = Text(f"Attention rollout through all {L} layers: how much the [CLS] token draws on "
                f"each patch (heads fused by {fusion}, lowest {discard:.0%} of links discarded).",
                f"贯穿全部 {L} 层的注意力展开（rollout）：[CLS] token 从每个图块汲取多少信息"
                f"（多头用{fused}融合，丢弃最弱的 {discard:.0%} 连接）。")
    if discard > 0 and protect != "cls-entry":
        text += Text(" VisionLab's variant: no link to or from [CLS] is ever discarded (the usual "
                     "implementation spares only [CLS] to [CLS]).",
                     " 这是 VisionLab 的变体：与 [CLS] 相连的连接一律不丢弃（通常的实现只保留 [CLS] 到 [CLS] 这一个）。")
    return heatmap_overlay(_big(maps.picture), heat, alpha), text


def head_view(maps: AttentionMaps, layer: int, head: int, alpha: float = 0.55) -> tuple[np.ndarray, Text]:
    L, H = maps.attn.shape[:2]
    notes: list[Text] = []
    layer, head = _clamp(layer, L, LAYER, notes), _clamp(head, H, HEAD, notes)
    row = maps.attn[layer - 1, head - 1, 0]                                # [T]: the [CLS] query
    heat = token_to_patches(torch.from_numpy(row), maps.prefix, maps.grid).numpy()
    return (heatmap_overlay(_big(maps.picture), heat, alpha, smooth=False),
            _caption(Text(f"Layer {layer}, head {head}: the [CLS] token's attention over the patches "
                          "(the row of softmax(QK^T/sqrt(d)) for [CLS]).",
                          f"第 {layer} 层、第 {head} 个头：[CLS] token 对各图块的注意力"
                          "（softmax(QK^T/sqrt(d)) 中 [CLS] 的那一行）。"), notes))


def all_heads_view(maps: AttentionMaps, layer: int, alpha: float = 0.55) -> tuple[np.ndarray, Text]:
    L, H = maps.attn.shape[:2]
    notes: list[Text] = []
    layer = _clamp(layer, L, LAYER, notes)
    small = upscale_nearest(maps.picture, 192)
    tiles = [heatmap_overlay(small, token_to_patches(torch.from_numpy(maps.attn[layer - 1, h, 0]), maps.prefix,
                                                     maps.grid).numpy(), alpha, smooth=False, colour_bar=False)
             for h in range(H)]
    cols = min(H, 4 if H <= 8 else 6)
    return (tile(tiles, cols, [f"head {h + 1}" for h in range(H)]),
            _caption(Text(f"Layer {layer}: the [CLS] token's attention in each of its {H} heads. Heads learn to "
                          "look for different things.",
                          f"第 {layer} 层：[CLS] token 在全部 {H} 个头里的注意力。不同的头学会关注不同的东西。"), notes))


def dino_view(maps: AttentionMaps, keep: float = 0.6, fusion: str = "mean") -> tuple[np.ndarray, Text]:
    """VisionLab's variant of DINO's masks: the last layer's [CLS] attention with the heads fused,
    on the model's own input (the centre crop); the caption says so. DINO's own figures are
    `dino_heads_view` of `attention.dino_attention`: each head, the whole picture."""
    last = torch.from_numpy(maps.attn[-1])                                  # [H, T, T]
    fused = {"mean": last.mean(0), "max": last.amax(0), "min": last.amin(0)}[fusion][0]  # [T]
    heat = token_to_patches(fused, maps.prefix, maps.grid)
    mask = top_mass_mask(heat, keep).numpy().astype(np.float32)             # [gh, gw]
    big = _big(maps.picture)
    h, w = big.shape[:2]
    up = np.kron(mask, np.ones((h // maps.grid[0], w // maps.grid[1]), np.float32))[..., None]
    out = (big * (0.25 + 0.75 * up)).astype(np.uint8)                      # dim what is left out
    kept, total = int(mask.sum()), mask.size
    fusion_zh = {"mean": "平均", "max": "最大值", "min": "最小值"}.get(fusion, fusion)
    S = maps.picture.shape[0]
    return out, Text(f"DINO-style mask: the {kept} of {total} patches that hold {keep:.0%} of the "
                     f"last layer's [CLS] attention; the rest is dimmed. VisionLab's variant: the heads fused by "
                     f"{fusion}, on the model's {S} x {S} input; DINO's own figures mask each head separately, "
                     "on the whole picture.",
                     f"DINO 式掩码：{total} 个图块中的 {kept} 个占了最后一层 [CLS] 注意力的 {keep:.0%}；其余的被调暗。"
                     f"这是 VisionLab 的变体：多头用{fusion_zh}融合，用的是模型的 {S} x {S} 输入；"
                     "DINO 论文里的图是每个头单独做掩码，用的是整张图片。")


def dino_heads_view(dino: DinoAttention, keep: float = 0.6) -> tuple[np.ndarray, Text]:
    """DINO's masks as its visualize_attention.py makes them: for each head of the last layer, the
    patches that hold `keep` of its [CLS] attention, on the whole picture; one tile per head."""
    H, gh, gw = dino.cls.shape
    masks = dino_masks(torch.from_numpy(dino.cls.reshape(H, -1)), keep).numpy().reshape(H, gh, gw)
    small = dino.picture
    scale = max(1, int(np.ceil(192 / max(1, min(small.shape[:2])))))
    tiles = []
    for h in range(H):
        up = np.kron(masks[h].astype(np.float32), np.ones((small.shape[0] // gh, small.shape[1] // gw), np.float32))
        shown = (small * (0.25 + 0.75 * up[..., None])).astype(np.uint8)   # dim what is left out
        tiles.append(np.repeat(np.repeat(shown, scale, 0), scale, 1) if scale > 1 else shown)
    cols = min(H, 3 if H <= 6 else 4)
    S = small.shape[0]
    return (tile(tiles, cols, [f"head {h + 1}" for h in range(H)]),
            Text(f"DINO's masks, as in its visualize_attention.py: for each of the last layer's {H} heads, the patches "
                 f"holding {keep:.0%} of its [CLS] attention, on the whole picture resized to {S} x {S} "
                 f"({gh} x {gw} patches); the rest is dimmed. Different heads pick out different objects and parts.",
                 f"DINO 的掩码，做法和它的 visualize_attention.py 一样：最后一层的 {H} 个头各自保留占其 [CLS] 注意力 "
                 f"{keep:.0%} 的图块，用的是缩放到 {S} x {S} 的整张图片（{gh} x {gw} 个图块）；其余的被调暗。"
                 "不同的头会挑出不同的物体和部位。"))


def patch_view(maps: AttentionMaps, patch: int, layer: int, alpha: float = 0.55) -> tuple[np.ndarray, Text]:
    """What one patch (0-based, reading order) attends to in one layer, heads averaged."""
    return patch_attention_view(attention_of_patch(maps, patch, layer), alpha)


def patch_attention_view(looked: PatchAttention, alpha: float = 0.55) -> tuple[np.ndarray, Text]:
    """A `PatchAttention` drawn: the heat over the patches, the patch outlined."""
    maps = looked.maps
    overlay_picture = heatmap_overlay(_big(maps.picture), looked.heat, alpha, smooth=False, colour_bar=False)
    marked = patch_grid(overlay_picture, maps.grid, highlight=looked.patch)
    n, layer, cls_share = looked.patch + 1, looked.layer, looked.cls_share
    return marked, _caption(Text(f"Patch {n} (outlined) in layer {layer}: where it looks, heads averaged. "
                                 f"It gives {cls_share:.0%} of its attention to the [CLS] token.",
                                 f"第 {layer} 层的第 {n} 个图块（带框的）：它看向哪里，多头取平均。"
                                 f"它把 {cls_share:.0%} 的注意力给了 [CLS] token。"), list(looked.notes))


def patches_view(maps: AttentionMaps) -> tuple[np.ndarray, Text]:
    gh, gw = maps.grid
    p = maps.patch_size
    return (patch_grid(_big(maps.picture), maps.grid),
            Text(f"How a ViT reads the picture: {gh} x {gw} = {gh * gw} patches of {p} x {p} pixels, numbered "
                 "in token order, plus the [CLS] token (0). Click a patch to see what it attends to.",
                 f"ViT 怎样读这张图：{gh} x {gw} = {gh * gw} 个 {p} x {p} 像素的图块，按 token 顺序编号，"
                 "再加上 [CLS] token（0 号）。点击一个图块，看看它在关注什么。"))


def position_view(maps: AttentionMaps) -> tuple[np.ndarray, Text]:
    if maps.pos_similarity is None:
        raise WrongKindOfModel(Text("This model has no learned position embedding to show.",
                                    "这个模型没有可以展示的（学习得到的）位置嵌入。"))
    cell = max(12, 448 // max(maps.grid))
    return (similarity_mosaic(maps.pos_similarity, cell=cell),
            Text("Position embeddings: at each patch's place, a small map of how similar (cosine) its position "
                 "embedding is to every other patch's. ViTs trained on photos learn that nearby patches, and patches "
                 "in the same row or column, belong together; the bundled tiny ViT saw its pictures flipped and "
                 "turned, so it mostly learned how far a patch is from the centre.",
                 "位置嵌入：在每个图块的位置上画一张小图，表示它的位置嵌入和其他每个图块的有多相似（余弦）。"
                 "在照片上训练的 ViT 会学到：相邻的图块、同一行或同一列的图块是一起的；自带的小 ViT "
                 "看到的图片被翻转和旋转过，所以它主要学到的是图块离中心有多远。"))


def grad_cam_view(cam: GradCamMap, alpha: float = 0.55) -> tuple[np.ndarray, Text]:
    h, w = cam.cam.shape
    return (heatmap_overlay(_big(cam.picture), cam.cam, alpha),
            Text(f"Grad-CAM for '{cam.label}' ({cam.probability:.0%}): the {h} x {w} feature maps of `{cam.layer}`, "
                 "weighted by how much each raises that class's score.",
                 f"“{cam.label}”（{cam.probability:.0%}）的 Grad-CAM：`{cam.layer}` 的 {h} x {w} 特征图，"
                 "按每张图能把这个类别的分数提高多少来加权。"))


def patch_at(maps: AttentionMaps, x: float, y: float) -> int | None:
    """The patch under a click at (x, y) on a `patches_view` / `patch_view` picture."""
    return overlay.patch_at(x, y, _big(maps.picture).shape, maps.grid)


def cam_peak(cam: np.ndarray, size: int) -> tuple[float, float]:
    """(x, y) in input pixels of the centre of the strongest Grad-CAM cell."""
    h, w = cam.shape
    cy, cx = divmod(int(cam.argmax()), w)
    return (cx + 0.5) * size / w, (cy + 0.5) * size / h
