"""Masked image modeling: hide patches, let MAE or SimMIM paint them back, measure the error.

    r = reconstruct(image, "shapes-mae-tiny", ratio=0.75, seed=0)
    r.original, r.masked, r.reconstruction, r.pasted   # (S, S, 3) uint8 RGB, the model's input size
    r.loss, r.baseline_loss                              # masked-region MSE (MAE) or L1 (SimMIM)
    a, b = reconstruct_pair(image, "shapes-mae-tiny", "shapes-simmim-tiny")  # one mask for both

The mask is computed here, per call, and handed to the model (MAE: the indices of the kept
patches; SimMIM: `bool_masked_pos`), so each request gets its own ratio and no config
shared between users is ever changed. Losses are in 0-1 pixel units on the hidden pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from visionlab.errors import VisionLabError
from visionlab.text import Text
from visionlab.models import LoadedModel, load_model
from visionlab.models.gpu import gpu_task
from visionlab.ops.images import ImageLike, load_image, upscale_nearest
from visionlab.ops.masking import (MaskIndices, block_mask, cells_for, denormalise_patches, indices_from_mask,
                                   mask_from_brush, masked_loss, mean_colour_fill, patch_error, patchify,
                                   pixel_mask, resample_mask, unpatchify)
from visionlab.ops.overlay import heatmap_overlay
from visionlab.pipelines.base import Pipeline, Timings
from visionlab.models.masked_facts import DEFAULT_RATIO, METHOD_OF_ARCH, RATIO_RANGE, default_mask_patch

LOSS_KIND = {"MAE": "mse", "SimMIM": "l1"}
HIDDEN_COLOUR = (20, 20, 20)   # hidden patches in the "masked" panel (ShapesWorld has no such dark)
# MAE checkpoints whose config does not say how they were trained: key -> norm_pix_loss.
# (The hub MAE checkpoints are the authors' "visualize" ones, trained on plain pixels, as
# their configs say; add a key here for a checkpoint whose config says otherwise.)
NORM_PIX_OVERRIDE: dict[str, bool] = {}


class NotAMaskedModel(VisionLabError, ValueError):
    """The chosen model cannot reconstruct hidden patches."""


@dataclass(frozen=True)
class Reconstruction:
    """One masked reconstruction.

    Pictures are (S, S, 3) uint8 RGB at the model's input size S (the upload resized to a
    square, aspect ratio not kept, as the models' own processors do):
    original (what the model was given, before hiding), masked (hidden patches dark),
    reconstruction (the model's prediction for every patch), pasted (prediction on the hidden
    patches, the original on the visible ones), baseline (hidden pixels filled with the mean
    colour of the visible ones). error_heatmap: (D, D + bar, 3) uint8, the per-patch error of
    `pasted` over the original (enlarged to at least 256 px, with a colour bar).
    mask: (gh, gw) bool, True = hidden, one entry per model patch. error_map: (gh, gw) float32,
    per-patch MSE (MAE) or L1 (SimMIM) in 0-1 pixel units, 0 on visible patches.
    loss, baseline_loss: that error over the hidden pixels, for the model and the baseline.
    ratio: the share of patches actually hidden; requested_ratio: what was asked for.
    norm_pix: an MAE trained on per-patch normalised pixels (its hidden patches' brightness
    and contrast are estimated from the visible ones). notes: sentences about this call
    (ratio clamped, brush empty...). notice: why another model answered (None if none).
    """

    method: str
    model: str
    requested: str
    original: np.ndarray
    masked: np.ndarray
    reconstruction: np.ndarray
    pasted: np.ndarray
    baseline: np.ndarray
    error_heatmap: np.ndarray
    mask: np.ndarray
    error_map: np.ndarray
    loss_name: str
    loss: float
    baseline_loss: float
    ratio: float
    requested_ratio: float
    patch_size: int
    mask_patch: int
    mask_source: str
    norm_pix: bool
    notes: tuple[Text, ...]
    notice: Text | None
    timings: Timings

    @property
    def hidden_patches(self) -> int:
        return int(self.mask.sum())

    @property
    def latency_ms(self) -> float:
        return self.timings.preprocess_ms + self.timings.forward_ms

    @property
    def target_kind(self) -> Text:
        """How the model's pixel targets were prepared during training, in words."""
        if self.norm_pix:
            return Text("per-patch normalised pixels (each patch's mean and spread removed)",
                        "逐块归一化的像素（去掉了每个图块自己的均值和离散程度）")
        return Text("plain pixels (normalised with the dataset's mean and std)", "普通像素（用数据集的均值和标准差归一化）")


def method_of(loaded: LoadedModel) -> str:
    """"MAE" or "SimMIM", from the model class."""
    method = METHOD_OF_ARCH.get(type(loaded.model).__name__)
    if method is None:
        raise NotAMaskedModel(Text(f"{loaded.spec.title} cannot paint hidden patches back. Choose an MAE or SimMIM model.",
                                   f"{loaded.spec.title} 不会把被遮住的块画回来。请选择一个 MAE 或 SimMIM 模型。"))
    return method


def model_patch(model) -> int:
    """The model's patch side in pixels (Swin: its first-stage patch, 4 px)."""
    p = model.config.patch_size
    return int(p[0] if isinstance(p, (list, tuple)) else p)


def _ratio_range() -> Text:
    lo, hi = RATIO_RANGE
    return Text(f"The mask ratio must be a number between {lo} and {hi}.", f"掩码比例必须是 {lo} 到 {hi} 之间的数。")


def clamp_ratio(ratio: float | None, method: str) -> tuple[float, float, list[Text]]:
    """(used, requested, notes): the method's default when None, else clamped to RATIO_RANGE."""
    if ratio is None:
        r = DEFAULT_RATIO[method]
        return r, r, []
    try:
        requested = float(ratio)
    except (TypeError, ValueError):
        raise VisionLabError(_ratio_range()) from None
    if not math.isfinite(requested):
        raise VisionLabError(_ratio_range())
    lo, hi = RATIO_RANGE
    if requested < lo:
        return lo, requested, [Text(f"A mask ratio of {requested:g} hides (almost) nothing, so there would be "
                                    f"nothing to reconstruct: VisionLab used {lo:g} instead.",
                                    f"掩码比例 {requested:g} 几乎什么都没遮住，就没有东西可以重建：VisionLab 改用了 {lo:g}。")]
    if requested > hi:
        return hi, requested, [Text(f"A mask ratio of {requested:g} hides (almost) everything, leaving the model "
                                    f"nothing to go on: VisionLab used {hi:g} instead. (To hide every patch on "
                                    "purpose, paint over the whole picture with the brush.)",
                                    f"掩码比例 {requested:g} 几乎遮住了一切，模型没有任何依据：VisionLab 改用了 {hi:g}。"
                                    "（如果想故意遮住所有图块，用画笔涂满整张图。）")]
    return requested, requested, []


def painted_pixels(brush: Any) -> np.ndarray | None:
    """A brush layer -> (h, w) bool, True where painted; None when there is no layer.
    Accepts (h, w) numbers (non-zero = painted), (h, w, 4) RGBA (alpha > 0) or (h, w, 3) RGB
    (any non-zero channel), as numpy arrays, PIL images or file paths."""
    if brush is None:
        return None
    if isinstance(brush, (str, Image.Image)) or hasattr(brush, "__fspath__"):
        img = brush if isinstance(brush, Image.Image) else Image.open(brush)
        brush = np.asarray(img.convert("RGBA") if img.mode in ("RGBA", "LA", "P", "PA") else img)
    arr = np.asarray(brush)
    if arr.ndim == 3 and arr.shape[2] == 4:
        return arr[..., 3] > 0
    if arr.ndim == 3:
        return arr.any(axis=2)
    if arr.ndim == 2:
        return arr != 0
    raise VisionLabError(Text("The brush layer is not a picture-shaped mask.", "画笔图层不是和图片同形状的掩码。"))


@dataclass(frozen=True)
class MaskRequest:
    """What to hide. ratio: share of mask squares (None: the method's default). mask_patch:
    side of a square in pixels of the model's input (0/None: the method's default).
    seed: for the random squares. brush: a painted layer (see `painted_pixels`); used when
    it holds paint, else random squares. mask: an explicit (mh, mw) bool mask, carried to the
    model's grid by position (used to give two models the same mask)."""

    ratio: float | None = None
    mask_patch: int | None = None
    seed: int = 0
    brush: Any = None
    mask: np.ndarray | None = field(default=None, compare=False)


def image_processor_for(loaded: LoadedModel):
    """The checkpoint's own image processor (its preprocessor_config.json: size, resampling,
    mean and std), loaded once per model. It is the one source of these numbers: the registry's
    are only what the UI shows before a model is loaded."""
    if "image_processor" not in loaded.memo:
        from visionlab.models.loader import IMPORT_LOCK

        with IMPORT_LOCK:
            from transformers import AutoImageProcessor
        spec = loaded.spec
        loaded.memo["image_processor"] = AutoImageProcessor.from_pretrained(
            spec.local_dir if spec.bundled else spec.hub_id, trust_remote_code=False)
    return loaded.memo["image_processor"]


def processor_side(processor, fallback: int) -> int:
    """The square side in pixels an image processor resizes to."""
    size = getattr(processor, "size", None) or {}
    get = size.get if isinstance(size, dict) else (lambda k: getattr(size, k, None))
    side = get("height") or get("shortest_edge") or fallback
    if get("width") not in (None, side):
        raise ValueError(f"the image processor resizes to {get('height')} x {get('width')}, not a square")
    return int(side)


class MaskedPipeline(Pipeline[Reconstruction]):
    def __init__(self, loaded: LoadedModel):
        self.method = method_of(loaded)
        super().__init__(loaded)
        self.processor = image_processor_for(loaded)
        self.size = processor_side(self.processor, int(self.model.config.image_size))
        self.patch = model_patch(self.model)
        self.grid = (self.size // self.patch, self.size // self.patch)
        self.mean = np.asarray(self.processor.image_mean, np.float32)
        self.std = np.asarray(self.processor.image_std, np.float32)
        cfg_norm = bool(getattr(self.model.config, "norm_pix_loss", False))
        self.norm_pix = self.method == "MAE" and NORM_PIX_OVERRIDE.get(loaded.spec.key, cfg_norm)

    # -- pictures <-> tensors ------------------------------------------------------------
    def pixel_values(self, image: ImageLike) -> torch.Tensor:
        """Any upload -> (1, 3, S, S) float32, by the checkpoint's own image processor (resized
        to its square, aspect ratio not kept, with its resampling; normalised by its mean/std)."""
        x = self.processor(images=load_image(image), return_tensors="pt")["pixel_values"].float()   # [1, 3, S, S]
        if tuple(x.shape[-2:]) != (self.size, self.size):
            raise ValueError(f"the image processor gave {tuple(x.shape[-2:])} pixels, not {self.size} x {self.size}")
        return x

    def to_pixels(self, x: torch.Tensor) -> np.ndarray:
        """(3, S, S) normalised -> (S, S, 3) float32 in [0, 1] (clipped)."""
        return np.clip(x.float().numpy().transpose(1, 2, 0) * self.std + self.mean, 0, 1)

    # -- the mask ------------------------------------------------------------------------
    def make_mask(self, req: MaskRequest) -> dict[str, Any]:
        """The (gh, gw) mask for a request, with the sentences that explain it."""
        ratio, requested, ratio_notes = clamp_ratio(req.ratio, self.method)
        notes: list[Text] = []
        brush_notes: list[Text] = []  # the only ones that still matter when the brush made the mask
        mask_patch = int(req.mask_patch or 0) or default_mask_patch(self.method, self.size, self.patch)
        cell = max(1, math.ceil(mask_patch / self.patch))
        if cell * self.patch != mask_patch:
            notes.append(Text(f"Mask squares must be whole patches of {self.patch} px: {mask_patch} px was rounded "
                              f"to {cell * self.patch} px.",
                              f"掩码方块必须由整块 {self.patch} 像素的图块组成：{mask_patch} 像素被取整为 "
                              f"{cell * self.patch} 像素。"))
        mask_patch = min(cell * self.patch, self.size)
        cell = mask_patch // self.patch
        source = "random"
        if req.mask is not None:
            mask, source = resample_mask(np.asarray(req.mask, bool), self.grid), "shared"
        else:
            painted = painted_pixels(req.brush)
            mask = None
            if painted is not None and painted.any():
                mask, source = mask_from_brush(painted, self.grid), "brush"
            elif painted is not None:
                brush_notes.append(Text("The brush layer is empty, so random squares were hidden instead.",
                                        "画笔图层是空的，所以改为随机遮住一些方块。"))
            if mask is None:
                mask = block_mask(self.grid, cell, ratio, int(req.seed), self.method)
                if not mask.any():  # a tiny ratio on a coarse grid of squares rounds to nothing
                    cells = cells_for(self.grid, cell)
                    notes.append(Text(f"With {mask_patch} px squares the picture has only {cells[0] * cells[1]} of "
                                      "them, so one square was hidden.",
                                      f"用 {mask_patch} 像素的方块，这张图只有 {cells[0] * cells[1]} 个方块，"
                                      "所以遮住了一个。"))
                    mask = block_mask(self.grid, cell, 1.0 / (cells[0] * cells[1]), int(req.seed), self.method)
        if source == "random":
            notes = ratio_notes + notes + brush_notes  # the ratio and mask patch matter only for random squares
        else:
            notes, mask_patch = brush_notes, self.patch
        if mask.all() and source == "brush":
            notes.append(Text("The brush covers every patch: the model sees nothing of the picture and can only "
                              "guess what pictures usually look like.",
                              "画笔盖住了所有图块：模型看不到图片的任何部分，只能猜一般的图片是什么样子。"))
        return {"mask": mask, "ratio": float(mask.mean()), "requested_ratio": requested,
                "mask_patch": mask_patch, "source": source, "notes": notes}

    # -- Pipeline stages -----------------------------------------------------------------
    def preprocess(self, image: ImageLike, request: MaskRequest | None = None, **params: Any) -> dict[str, Any]:
        x = self.pixel_values(image)                                                          # [1, 3, S, S]
        return {"pixels": self.to_pixels(x[0]), "pixel_values": x, **self.make_mask(request or MaskRequest())}

    def _forward(self, inputs: dict[str, Any]) -> torch.Tensor:
        """(3, S, S) normalised reconstruction of every patch."""
        x = inputs["pixel_values"].to(self.device, self.dtype)
        hidden = torch.from_numpy(inputs["mask"].reshape(1, -1)).to(self.device)          # [1, L]
        if self.method == "SimMIM":
            return self.model(pixel_values=x, bool_masked_pos=hidden).reconstruction[0]    # [3, S, S]
        logits = mae_forward(self.model, x, indices_from_mask(hidden.cpu())).float()        # [1, L, p*p*3]
        if self.norm_pix:
            target = patchify(x.float(), self.patch)                                         # [1, L, p*p*3]
            logits = denormalise_patches(logits[0], target[0], hidden[0], self.grid)[None]      # [1, L, p*p*3]
        return unpatchify(logits, self.patch, self.grid)[0]                                  # [3, S, S]

    def postprocess(self, inputs: dict[str, Any], outputs: torch.Tensor, timings: Timings,
                    **params: Any) -> Reconstruction:
        original = inputs["pixels"]                                                          # [S, S, 3]
        mask = inputs["mask"]                                                                # [gh, gw]
        hidden = pixel_mask(mask, self.patch)                                                # [S, S]
        recon = self.to_pixels(outputs)
        pasted = np.where(hidden[..., None], recon, original)
        baseline = mean_colour_fill(original, hidden, default=tuple(self.mean))
        kind = LOSS_KIND[self.method]
        masked = np.where(hidden[..., None], np.asarray(HIDDEN_COLOUR, np.float32) / 255, original)
        err = patch_error(pasted, original, self.patch, kind)                                # [gh, gw]
        big = upscale_nearest(to_uint8(original), 256)
        spec = self.loaded.spec
        return Reconstruction(
            method=self.method, model=spec.key, requested=self.loaded.requested.key,
            original=to_uint8(original), masked=to_uint8(masked), reconstruction=to_uint8(recon),
            pasted=to_uint8(pasted), baseline=to_uint8(baseline),
            error_heatmap=heatmap_overlay(big, err, alpha=0.6, smooth=False),
            mask=mask, error_map=err, loss_name=kind.upper() if kind == "mse" else "L1",
            loss=masked_loss(pasted, original, hidden, kind),
            baseline_loss=masked_loss(baseline, original, hidden, kind),
            ratio=inputs["ratio"], requested_ratio=inputs["requested_ratio"], patch_size=self.patch,
            mask_patch=inputs["mask_patch"], mask_source=inputs["source"], norm_pix=bool(self.norm_pix),
            notes=tuple(inputs["notes"]), notice=self.loaded.notice, timings=timings)

    def plain_forward(self, inputs: dict[str, Any]) -> Any:
        """The model's own forward on the same input, mask and all (for the benchmark)."""
        x = inputs["pixel_values"].to(self.device, self.dtype)
        hidden = torch.from_numpy(inputs["mask"].reshape(1, -1)).to(self.device)
        with torch.inference_mode():
            if self.method == "SimMIM":
                return self.model(pixel_values=x, bool_masked_pos=hidden).reconstruction
            return self.model(pixel_values=x).logits  # its own mask, at config.mask_ratio


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8, rounded."""
    return np.clip(np.round(pixels * 255), 0, 255).astype(np.uint8)


def mae_forward(model, pixel_values: torch.Tensor, idx: MaskIndices) -> torch.Tensor:
    """MAE's encoder + decoder with *our* mask: (B, 3, S, S) normalised -> (B, L, p*p*3) logits.

    transformers' `ViTMAEForPreTraining.forward` draws its own mask at `config.mask_ratio`
    (a per-call ratio is ignored, and changing the shared config is not thread-safe), so the
    same modules are called here in the same order, keeping the patches `idx.ids_keep`.
    """
    emb = model.vit.embeddings
    x = emb.patch_embeddings(pixel_values)                                   # [B, L, D]
    pos = emb.position_embeddings.to(x.dtype)                                # [1, 1+L, D]
    x = x + pos[:, 1:, :]
    keep = idx.ids_keep.to(x.device)                                         # [B, K]
    x = torch.gather(x, 1, keep.unsqueeze(-1).expand(-1, -1, x.shape[-1]))   # [B, K, D] visible only
    cls = (emb.cls_token + pos[:, :1, :]).expand(x.shape[0], -1, -1)         # [B, 1, D]
    x = torch.cat([cls, x], dim=1)                                           # [B, 1+K, D]
    for layer in model.vit.layers:
        x = layer(x, None)
    x = model.vit.layernorm(x)
    return model.decoder(x, idx.ids_restore.to(x.device)).logits             # [B, L, p*p*3]


@gpu_task(duration=10)
def reconstruct(image: ImageLike, model: str = "shapes-mae-tiny", ratio: float | None = None,
                mask_patch: int | None = None, seed: int = 0, brush: Any = None,
                mask: np.ndarray | None = None) -> Reconstruction:
    """Hide part of `image` and let registry model `model` (MAE or SimMIM) paint it back."""
    return _reconstruct(image, model, MaskRequest(ratio, mask_patch, int(seed), brush, mask))


def _reconstruct(image: ImageLike, model: str, request: MaskRequest) -> Reconstruction:
    return MaskedPipeline(load_model(model))(image, request=request)


@gpu_task(duration=15)
def reconstruct_pair(image: ImageLike, mae: str = "shapes-mae-tiny", simmim: str = "shapes-simmim-tiny",
                     ratio: float | None = None, mask_patch: int | None = None, seed: int = 0,
                     brush: Any = None) -> tuple[Reconstruction, Reconstruction]:
    """MAE and SimMIM side by side with the same mask: it is made on the MAE model's grid
    (its default ratio when None) and carried to the SimMIM model's grid by position."""
    ratio = ratio if ratio is not None else DEFAULT_RATIO["MAE"]
    first = _reconstruct(image, mae, MaskRequest(ratio, mask_patch, int(seed), brush, None))
    second = _reconstruct(image, simmim, MaskRequest(None, None, 0, None, first.mask))
    return first, second
