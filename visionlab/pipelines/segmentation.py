"""Segment Anything, shaped for interaction: the image encoder runs once per picture and user,
every click after that only runs the small prompt encoder and mask decoder.

    seg = segment(image, points="[[120, 80]]")              # first call: encodes the picture
    seg = segment(image, points="[[120, 80], [60, 40, 0]]")  # the embedding is kept: fast
    seg.masks[0], seg.scores[0]                              # best mask first

The device work is four boundary functions of plain values (`encode_picture`, then
`decode_prompt` / `decode_boxes` / `decode_grid` on the embedding), the same for both libraries:
segment-anything's official checkpoints (`sam_official`) and the SAM family in transformers:
SlimSAM, SAM 2.1, EdgeTAM (`sam_transformers`). Embeddings are cached by (model, picture
content), shared by every session and bounded by bytes; prompts belong to whoever sent them.
Without the model's weights (offline, before the download), the same prompts drive OpenCV's
GrabCut, and `notice` says so.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from visionlab import budget
from visionlab.errors import VisionLabError
from visionlab.text import Text
from visionlab.models.cache import LRUCache
from visionlab.models.gpu import gpu_task
from visionlab.models.registry import ModelSpec, get_spec
from visionlab.ops.boxes import nms
from visionlab.ops.grids import grid_points  # the prompts of "segment everything"
from visionlab.ops.images import ImageLike, content_key, load_image

GRABCUT_SIDE = 512        # GrabCut runs on a copy at most this large (it is slow on big pictures)


class BadPrompt(VisionLabError, ValueError):
    """Points or a box that cannot be used; the message says how to fix them."""


@dataclass(frozen=True)
class Prompt:
    """points (N, 2) float32 (x, y) in picture pixels; labels (N,) int64, 1 = on the object,
    0 = not on it; box (4,) float32 XYXY picture pixels, or None."""

    points: np.ndarray
    labels: np.ndarray
    box: np.ndarray | None

    @property
    def empty(self) -> bool:
        return len(self.points) == 0 and self.box is None


@dataclass(frozen=True)
class Segmentation:
    """What one segmentation call produced.

    image: (H, W, 3) uint8 RGB. masks: (K, H, W) bool, best first. scores: (K,) SAM's predicted
    IoU of each mask (NaN for GrabCut). names: (K,) a short label per mask. method: "sam" or
    "grabcut". encoder_ms: what encoding the picture cost (whenever it ran; 0 for GrabCut);
    encoded_now: whether it ran for this call (else the shared embedding was used); decoder_ms:
    prompt encoder + mask decoder (or GrabCut). notice: why GrabCut answered instead of SAM
    (None if it did not).
    """

    image: np.ndarray
    masks: np.ndarray
    scores: np.ndarray
    names: tuple[str, ...]
    prompt: Prompt
    method: str
    model: str
    encoder_ms: float
    decoder_ms: float
    notice: Text | None = None
    encoded_now: bool = False


# ---------------------------------------------------------------------------- prompts

def _json(text: Any, what: Text, example: str):
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise BadPrompt(Text(f"The {what.en} could not be read. Write them as JSON, for example {example}.",
                             f"无法读取{what.zh}。请写成 JSON，例如 {example}。")) from None


def parse_prompt(points: Any, box: Any, width: int, height: int) -> Prompt:
    """Points as JSON [[x, y], ...] or [[x, y, label], ...] (label 1 = object, 0 = background);
    a box as JSON [x0, y0, x1, y1]; both in picture pixels."""
    raw_points = _json(points, Text("points", "点"), "[[120, 80]] or [[120, 80, 1], [60, 40, 0]]") or []
    raw_box = _json(box, Text("box", "框"), "[30, 40, 200, 180]")
    try:
        rows = [list(map(float, p)) for p in raw_points]
        if any(len(r) not in (2, 3) for r in rows):
            raise ValueError
        xy = np.array([r[:2] for r in rows], np.float32).reshape(-1, 2)
        labels = np.array([int(r[2]) if len(r) == 3 else 1 for r in rows], np.int64)
    except (TypeError, ValueError):
        raise BadPrompt(Text("Each point must be [x, y] or [x, y, label], for example [[120, 80], [60, 40, 0]].",
                             "每个点必须是 [x, y] 或 [x, y, label]，例如 [[120, 80], [60, 40, 0]]。")) from None
    if ((labels != 0) & (labels != 1)).any():
        raise BadPrompt(Text("A point's label must be 1 (on the object) or 0 (not on it).",
                             "点的标签必须是 1（在物体上）或 0（不在物体上）。"))
    outside = (xy[:, 0] < 0) | (xy[:, 0] >= width) | (xy[:, 1] < 0) | (xy[:, 1] >= height)
    if outside.any():
        x, y = xy[np.argmax(outside)]
        raise BadPrompt(Text(f"The point ({x:g}, {y:g}) is outside the picture ({width} x {height} pixels). Click inside it.",
                             f"点 ({x:g}, {y:g}) 在图片（{width} x {height} 像素）之外。请点在图片里面。"))
    box_arr = None
    if raw_box is not None:
        try:
            box_arr = np.array(raw_box, np.float32).reshape(4)
        except (TypeError, ValueError):
            raise BadPrompt(Text("A box must be four numbers [x0, y0, x1, y1], for example [30, 40, 200, 180].",
                                 "框必须是四个数 [x0, y0, x1, y1]，例如 [30, 40, 200, 180]。")) from None
        x0, y0, x1, y1 = box_arr
        box_arr = np.array([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], np.float32)
        box_arr = box_arr.clip(0, [width, height, width, height])
        if box_arr[2] - box_arr[0] < 1 or box_arr[3] - box_arr[1] < 1:
            raise BadPrompt(Text("The box has no area (its corners are on one line or outside the picture). "
                                 "Drag or type a box with some width and height.",
                                 "这个框没有面积（角点在一条线上或在图片之外）。请拖出或输入一个有宽有高的框。"))
    return Prompt(xy, labels, box_arr)


# ---------------------------------------------------------------------------- GrabCut

def prompt_box(prompt: Prompt, width: int, height: int) -> np.ndarray:
    """The prompt's box, or a box around its positive points widened by a margin (XYXY px)."""
    if prompt.box is not None:
        return prompt.box
    pos = prompt.points[prompt.labels == 1]
    pts = pos if len(pos) else prompt.points
    margin = max(10.0, 0.2 * min(width, height))
    lo, hi = pts.min(0) - margin, pts.max(0) + margin
    return np.array([*lo, *hi], np.float32).clip(0, [width, height, width, height])


def grabcut(image: np.ndarray, prompt: Prompt, iterations: int = 5) -> np.ndarray:
    """OpenCV GrabCut from a box (or a box around the points): (H, W) bool mask.

    Outside the box is background; positive points are marked certain foreground, negative
    ones certain background. Runs on a copy at most GRABCUT_SIDE pixels wide, then resizes.
    """
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, GRABCUT_SIDE / max(h, w))
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    x0, y0, x1, y1 = np.round(prompt_box(prompt, w, h) * scale).astype(int)
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    mask = np.full((sh, sw), cv2.GC_BGD, np.uint8)
    mask[y0:y1, x0:x1] = cv2.GC_PR_FGD
    for (x, y), label in zip(prompt.points * scale, prompt.labels):
        cv2.circle(mask, (int(x), int(y)), 3, cv2.GC_FGD if label == 1 else cv2.GC_BGD, -1)
    if min(sh, sw) >= 2 and (mask != cv2.GC_BGD).sum() >= 2:
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), mask, None, bgd, fgd, iterations,
                        cv2.GC_INIT_WITH_MASK)
        except cv2.error:        # too few pixels of one kind to model: keep the box as the answer
            pass
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    return cv2.resize(fg, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


# ---------------------------------------------------------------------------- SAM

@dataclass(frozen=True)
class SamEmbedding:
    """What the image encoder made of one picture: everything a click needs afterwards.

    features: (1, C, h, w) float32 image embedding (C = 256, h = w = 64 for the real models).
    high_res: SAM 2 and EdgeTAM only, their finer feature maps, finest first ((1, 32, 256, 256) and
    (1, 64, 128, 128) for the real models; empty for SAM). original_size: (H, W) of the picture;
    input_size: (h', w') of the picture as the encoder saw it (before padding). encoder_ms: how long
    the encoder took when it ran."""

    model: str
    features: np.ndarray
    original_size: tuple[int, int]
    input_size: tuple[int, int]
    encoder_ms: float
    high_res: tuple[np.ndarray, ...] = ()


# (model, picture content) -> SamEmbedding, shared by every session: 30 students on one example
# encode it once. Bounded by bytes (about 4 MB per picture for SAM, 16 MB for SAM 2 and EdgeTAM).
EMBEDDINGS: LRUCache[SamEmbedding] = LRUCache(max_bytes=int(os.environ.get("VISIONLAB_SAM_EMBEDDINGS_MB", "256")) << 20)


def backend(model: str):
    """The module that runs `model`: `sam_transformers` (SlimSAM, SAM 2.1, EdgeTAM) or `sam_official`
    (segment-anything's checkpoints). Both offer encode, predict, predict_boxes and grid_logits."""
    from visionlab.pipelines import sam_official, sam_transformers

    return sam_transformers if get_spec(model).library == "transformers" else sam_official


@gpu_task(duration=20)
def encode_picture(picture: np.ndarray, model: str = "sam-vit-b") -> SamEmbedding:
    """Run the model's image encoder on an (H, W, 3) uint8 RGB picture (the expensive part)."""
    return backend(model).encode(picture, model)


@gpu_task(duration=5)
def decode_prompt(embedding: SamEmbedding, prompt: Prompt, multimask: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The prompt encoder and mask decoder for one prompt: masks (K, H, W) bool and their
    predicted IoU (K,) float32, best first. K = 3 for a lone point with `multimask`, else 1."""
    masks, scores = backend(embedding.model).predict(
        embedding, prompt.points, prompt.labels, prompt.box,
        multimask and len(prompt.points) <= 1 and prompt.box is None)
    order = np.argsort(-scores, kind="stable")
    return masks[order], scores[order].astype(np.float32)


@gpu_task(duration=5)
def decode_boxes(embedding: SamEmbedding, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One mask per box, boxes (N, 4) XYXY picture pixels: masks (N, H, W) bool, predicted IoU (N,)."""
    masks, scores = backend(embedding.model).predict_boxes(embedding, np.asarray(boxes, np.float32))
    return masks, scores.astype(np.float32)


# "Segment everything" as segment-anything's SamAutomaticMaskGenerator does it, with its defaults.
POINTS_PER_SIDE = 32        # a 32 x 32 grid of single-point prompts
PRED_IOU_THRESH = 0.88      # keep masks whose predicted IoU is above this
STABILITY_THRESH = 0.95     # ... and whose stability score is at least this
STABILITY_OFFSET = 1.0      # the stability score compares the mask at logit thresholds 0 +- this
BOX_NMS_THRESH = 0.7        # duplicates: NMS on the masks' boxes at this IoU
POINTS_PER_BATCH = 64


def stability_score(logits, offset: float = STABILITY_OFFSET, threshold: float = 0.0):
    """How little a mask changes when its logit threshold moves by +-offset: the IoU of the mask
    at threshold + offset with the mask at threshold - offset (the first lies inside the second,
    so it is |high| / |low|). logits: (..., H, W) tensor -> (...,) float32."""
    import torch

    high = (logits > threshold + offset).sum((-1, -2), dtype=torch.int32)
    low = (logits > threshold - offset).sum((-1, -2), dtype=torch.int32)
    return high / low


def mask_boxes(masks):
    """Boxes XYXY around (N, H, W) bool masks, both edges inclusive (the box of a one-pixel mask
    at (x, y) is [x, y, x, y]), as segment-anything's `batched_mask_to_box`; [0, 0, 0, 0] for an
    empty mask. Returns (N, 4) int64."""
    import torch

    N, H, W = masks.shape
    if N == 0:
        return torch.zeros(0, 4, dtype=torch.int64, device=masks.device)
    rows, cols = masks.any(2), masks.any(1)                                        # [N, H], [N, W]
    ys = torch.arange(H, device=masks.device)
    xs = torch.arange(W, device=masks.device)
    y1 = torch.where(rows, ys, -1).amax(1)
    y0 = torch.where(rows, ys, H).amin(1)
    x1 = torch.where(cols, xs, -1).amax(1)
    x0 = torch.where(cols, xs, W).amin(1)
    boxes = torch.stack([x0, y0, x1, y1], 1)                                       # [N, 4]
    empty = ~rows.any(1)
    return torch.where(empty[:, None], torch.zeros_like(boxes), boxes)


def _grid_seconds(embedding: SamEmbedding, points_per_side: int = POINTS_PER_SIDE, *args, **kwargs) -> float:
    return 5 + 0.02 * int(points_per_side) ** 2  # about 50 points per second on a ZeroGPU slice


@gpu_task(duration=_grid_seconds)
def decode_grid(embedding: SamEmbedding, points_per_side: int = POINTS_PER_SIDE,
                pred_iou_thresh: float = PRED_IOU_THRESH, stability_thresh: float = STABILITY_THRESH,
                box_nms_thresh: float = BOX_NMS_THRESH) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """"Segment everything" on an encoded picture, as segment-anything's SamAutomaticMaskGenerator
    (one crop, no small-region clean-up): each point of a points_per_side^2 grid asks SAM for
    its three masks; a mask is kept when its predicted IoU > pred_iou_thresh and its stability
    score >= stability_thresh (a threshold <= 0 switches that filter off); duplicates go by NMS
    on the masks' boxes (edges inclusive) at box_nms_thresh, best predicted IoU first.
    Returns (points (n*n, 2) px, masks (K, H, W) bool, scores (K,) predicted IoU), large masks
    first (so small ones are drawn on top)."""
    import torch

    H, W = embedding.original_size
    points = grid_points(int(np.clip(points_per_side, 1, 64)), H, W)                  # [n*n, 2] float64
    masks, scores, boxes = [], [], []
    deadline = budget.Deadline(budget.EVERYTHING_SECONDS)
    for i in range(0, len(points), POINTS_PER_BATCH):
        if deadline.expired:
            raise budget.OverBudget(Text(
                f"Segment everything stopped after {deadline.seconds:g} s, its time budget, with {i:,} of "
                f"{len(points):,} grid points asked. Use fewer points per side.",
                f"“全部分割”用完了 {deadline.seconds:g} 秒的时间预算，停了下来：{len(points):,} 个网格点里问了 {i:,} 个。"
                "请减少每边的点数。"))
        logits, iou, threshold = backend(embedding.model).grid_logits(
            embedding, points[i:i + POINTS_PER_BATCH])                                 # [3B, H, W], [3B]
        if pred_iou_thresh > 0:
            keep = iou > pred_iou_thresh
            logits, iou = logits[keep], iou[keep]
        if stability_thresh > 0:
            keep = stability_score(logits, STABILITY_OFFSET, threshold) >= stability_thresh
            logits, iou = logits[keep], iou[keep]
        binary = logits > threshold                                                    # [k, H, W]
        masks.append(binary.cpu())
        scores.append(iou.float().cpu())
        boxes.append(mask_boxes(binary).cpu())
    masks_t = torch.cat(masks) if masks else torch.zeros(0, H, W, dtype=torch.bool)
    scores_np = torch.cat(scores).numpy() if scores else np.zeros(0, np.float32)
    boxes_np = torch.cat(boxes).numpy().astype(np.float32) if boxes else np.zeros((0, 4), np.float32)
    keep = nms(boxes_np, scores_np, box_nms_thresh)                                   # best predicted IoU first
    masks_np, scores_np = masks_t.numpy()[keep], scores_np[keep]
    order = np.argsort(-masks_np.sum((1, 2)), kind="stable")                           # large first
    return points, masks_np[order], scores_np[order]


def embedding_for(picture: np.ndarray, model: str) -> tuple[SamEmbedding, bool]:
    """The picture's embedding from the shared cache, encoding it on a miss (once, even when many
    ask at the same moment). Returns (embedding, whether the encoder ran for this call)."""
    ran: list[bool] = []

    def encode() -> SamEmbedding:
        ran.append(True)
        return encode_picture(picture, model)

    embedding = EMBEDDINGS.get_or_load((model, content_key(picture)), encode)
    if ran:  # what a new picture costs on this server, for the tab's expected wait (outside the boundary)
        from visionlab.models.costs import record

        record(model, "encode", embedding.encoder_ms / 1e3)
    return embedding, bool(ran)


def sam_unavailable(model: str, download: Callable[[int, int], None] | None = None) -> Text | None:
    """None when SAM `model` can answer (downloading its checkpoint first if it is missing and the
    hub is reachable), else the reason GrabCut must answer instead."""
    from visionlab.models.hub import hub_status
    from visionlab.models.loader import offered_keys
    from visionlab.models.sam import checkpoint_path, download_checkpoint

    spec = get_spec(model)
    if spec.task != "segmentation":
        raise VisionLabError(Text(f"{spec.title} is not a segmentation model. Pick one from the list.",
                                  f"{spec.title} 不是分割模型。请从列表中选择一个。"))
    offered = offered_keys()
    if offered is not None and model not in offered:
        return Text(f"{spec.title} was not loaded when this ZeroGPU Space started.",
                    f"这个 ZeroGPU Space 启动时没有加载 {spec.title}。")
    if spec.library == "transformers":
        return _hub_model_unavailable(spec)
    path = checkpoint_path(spec)
    if not path.exists():
        status = hub_status()
        if not status.online:
            return Text(f"{spec.title} needs its checkpoint, and VisionLab is offline ({status.reason.en}). "
                        f"Put {spec.file} in the weights/ folder to use it.",
                        f"{spec.title} 需要它的权重文件，而 VisionLab 处于离线状态（{status.reason.zh}）。"
                        f"把 {spec.file} 放进 weights/ 文件夹即可使用。")
        try:
            download_checkpoint(spec, download)
        except OSError as e:
            return Text(f"{spec.title}'s checkpoint could not be downloaded ({e}). "
                        f"Put {spec.file} in the weights/ folder to use it.",
                        f"{spec.title} 的权重文件下载失败（{e}）。把 {spec.file} 放进 weights/ 文件夹即可使用。")
    return None


def _hub_model_unavailable(spec: ModelSpec) -> Text | None:
    """Why a hub model (transformers) cannot answer now, decided without touching the network: it is
    neither in memory nor in the Hugging Face cache and VisionLab is offline, or it failed to download
    a moment ago. None when it can (online, the first use downloads it)."""
    from visionlab.models.loader import why_not_now

    why = why_not_now(spec)
    if why is None:
        return None
    return Text(f"{spec.title} cannot be loaded now ({why.en}).", f"现在无法加载 {spec.title}（{why.zh}）。")


def weights_missing(model: str) -> bool:
    """Whether the model's weights are not on this machine yet (a segment-anything checkpoint not in
    weights/, a hub model not in the Hugging Face cache). Looks at files only: no download, no network."""
    from visionlab.models.loader import in_local_cache, loaded_keys
    from visionlab.models.sam import checkpoint_path

    spec = get_spec(model)
    if spec.library == "transformers":
        return model not in loaded_keys() and not in_local_cache(spec)
    return not checkpoint_path(spec).exists()


def _grabcut_notice(why: Text) -> Text:
    return why + Text(" Meanwhile OpenCV's GrabCut (a classical colour model, no learning) answers the same prompt.",
                      "现在先由 OpenCV 的 GrabCut（经典的颜色模型，不需要学习）回答同样的提示。")


def segment(image: ImageLike, points: Any = None, box: Any = None, model: str = "sam-vit-b",
            multimask: bool = True, download: Callable[[int, int], None] | None = None) -> Segmentation:
    """Masks for a point and/or box prompt. With several candidate masks (one positive point
    and no box), all three of SAM's guesses come back, best predicted IoU first."""
    picture = np.asarray(load_image(image))
    H, W = picture.shape[:2]
    prompt = parse_prompt(points, box, W, H)
    if prompt.empty:
        raise BadPrompt(Text("Click on the object (or give points or a box) to tell Segment Anything what to cut out.",
                             "点击物体（或给出点、框），告诉 Segment Anything 要分割出什么。"))
    why = sam_unavailable(model, download)
    t0 = time.perf_counter()
    if why is not None:
        mask = grabcut(picture, prompt)
        return Segmentation(picture, mask[None], np.array([np.nan], np.float32), ("GrabCut",), prompt, "grabcut",
                            model, 0.0, (time.perf_counter() - t0) * 1e3, _grabcut_notice(why))
    embedding, ran = embedding_for(picture, model)
    t0 = time.perf_counter()
    masks, scores = decode_prompt(embedding, prompt, multimask)
    names = tuple(f"mask {i + 1} (IoU≈{s:.2f})" for i, s in enumerate(scores))
    return Segmentation(picture, masks, scores, names, prompt, "sam", model, embedding.encoder_ms,
                        (time.perf_counter() - t0) * 1e3, encoded_now=ran)


def segment_boxes(image: ImageLike, boxes: Any, names: list[str] | None = None, model: str = "sam-vit-b",
                  download: Callable[[int, int], None] | None = None) -> Segmentation:
    """One mask per box (for example the Detection tab's kept boxes): Grounded-SAM's idea,
    text -> detector boxes -> SAM masks. boxes: (N, 4) XYXY picture pixels, or the Detection
    tab's JSON [{"box": [...], "label": ...}, ...]."""
    picture = np.asarray(load_image(image))
    H, W = picture.shape[:2]
    items = _json(boxes, Text("boxes", "框"), '[{"box": [30, 40, 200, 180], "label": "cat"}]') or []
    if items and isinstance(items[0], dict):
        names = [str(b.get("label", "object")) for b in items]
        items = [b.get("box") for b in items]
    prompts = [parse_prompt(None, b, W, H) for b in items]
    if not prompts:
        raise BadPrompt(Text("There are no boxes to segment. Run the detector first, or lower its score threshold.",
                             "没有可分割的框。请先运行检测器，或者降低它的分数阈值。"))
    names = list(names or [])[:len(prompts)] + ["object"] * max(0, len(prompts) - len(names or []))
    why = sam_unavailable(model, download)
    t0 = time.perf_counter()
    if why is not None:
        masks = np.stack([grabcut(picture, p) for p in prompts])
        return Segmentation(picture, masks, np.full(len(masks), np.nan, np.float32), tuple(names), prompts[0],
                            "grabcut", model, 0.0, (time.perf_counter() - t0) * 1e3, _grabcut_notice(why))
    embedding, ran = embedding_for(picture, model)
    t0 = time.perf_counter()
    masks, scores = decode_boxes(embedding, np.stack([p.box for p in prompts]))
    return Segmentation(picture, masks, scores, tuple(names), prompts[0], "sam", model, embedding.encoder_ms,
                        (time.perf_counter() - t0) * 1e3, encoded_now=ran)


def segment_everything(image: ImageLike, model: str = "sam-vit-b", points_per_side: int = POINTS_PER_SIDE,
                       pred_iou_thresh: float = PRED_IOU_THRESH, stability_thresh: float = STABILITY_THRESH,
                       box_nms_thresh: float = BOX_NMS_THRESH,
                       download: Callable[[int, int], None] | None = None) -> Segmentation:
    """"Segment everything": see `decode_grid` (the defaults are SamAutomaticMaskGenerator's)."""
    picture = np.asarray(load_image(image))
    why = sam_unavailable(model, download)
    if why is not None:
        raise VisionLabError(why + Text(" Segment everything needs SAM; clicks and boxes still work with GrabCut.",
                                        "“全部分割”需要 SAM；点击和框仍然可以用 GrabCut。"))
    embedding, ran = embedding_for(picture, model)
    t0 = time.perf_counter()
    points, masks, scores = decode_grid(embedding, int(points_per_side), float(pred_iou_thresh),
                                        float(stability_thresh), float(box_nms_thresh))
    return Segmentation(picture, masks, scores, tuple(f"part {i + 1}" for i in range(len(masks))),
                        Prompt(points.astype(np.float32), np.ones(len(points), np.int64), None), "sam", model,
                        embedding.encoder_ms, (time.perf_counter() - t0) * 1e3, encoded_now=ran)


def grounded_masks(image: ImageLike, text: str, detector: str = "owlv2-base", model: str = "sam-vit-b",
                   score_threshold: float | None = None, iou_threshold: float | None = None,
                   nms: str | None = None, text_threshold: float | None = None,
                   download: Callable[[int, int], None] | None = None):
    """Grounded-SAM: the detector turns `text` into boxes, SAM turns each kept box into a mask.

    Which boxes are kept: score above `score_threshold`, then `nms` ("none", "per-class", ...)
    at `iou_threshold`; Grounding DINO also takes `text_threshold` (which words name a box).
    Each one left None is the answering detector's reference setting
    (`detection.reference_settings`: transformers' post-processing for OWL and Grounding DINO,
    no NMS). Returns (raw detections, kept, Segmentation)."""
    from visionlab.pipelines.detection import detect, reference_settings, suppress

    if text_threshold is None:
        text_threshold = reference_settings(detector).text_threshold
    raw = detect(image, detector, text, text_threshold)
    ref = reference_settings(raw.model)
    kept = suppress(raw, ref.score_threshold if score_threshold is None else float(score_threshold),
                    ref.iou_threshold if iou_threshold is None else float(iou_threshold),
                    ref.mode if nms is None else nms)
    return raw, kept, segment_boxes(image, kept.as_json(raw), model=model, download=download)


def spec_file_hint(spec: ModelSpec) -> str:
    """Where to put a checkpoint by hand (for the README and the tab)."""
    from visionlab.models.sam import OFFICIAL_URL

    return f"weights/{spec.file} (from {OFFICIAL_URL}{spec.file})"
