"""Masked image modeling arithmetic: patches, masks, errors and the mean-colour baseline.

Layouts (B: batch, C: channels, H, W: pixels, p: patch side in pixels):
- pictures are (B, C, H, W) float tensors; one picture for display is (H, W, 3).
- a patch grid is (gh, gw) = (H // p, W // p); patches are numbered in reading order
  (row by row), so patch k sits at row k // gw, column k % gw. L = gh * gw.
- patchified pictures are (B, L, p*p*C), each patch flattened as (row, column, channel):
  the layout of MAE's reference code and of transformers' `ViTMAEForPreTraining.patchify`.
- a mask is (gh, gw) or (B, L) bool, True = hidden (removed), as in MAE (1 = remove).

Everything here is pure: no model, no global state; randomness comes from a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


def patchify(images: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, p*p*C). H and W must be multiples of `p`."""
    B, C, H, W = images.shape
    if H % p or W % p:
        raise ValueError(f"a {H} x {W} picture does not split into {p} x {p} patches")
    gh, gw = H // p, W // p
    x = images.reshape(B, C, gh, p, gw, p)          # [B, C, gh, p, gw, p]
    x = x.permute(0, 2, 4, 3, 5, 1)                 # [B, gh, gw, p, p, C]
    return x.reshape(B, gh * gw, p * p * C)         # [B, L, p*p*C]


def unpatchify(patches: torch.Tensor, p: int, grid: tuple[int, int]) -> torch.Tensor:
    """(B, L, p*p*C) -> (B, C, gh*p, gw*p): the inverse of `patchify`."""
    B, L, D = patches.shape
    gh, gw = grid
    C = D // (p * p)
    if L != gh * gw or C * p * p != D:
        raise ValueError(f"{L} patches of {D} values do not fill a {gh} x {gw} grid of {p} x {p} patches")
    x = patches.reshape(B, gh, gw, p, p, C)         # [B, gh, gw, p, p, C]
    x = x.permute(0, 5, 1, 3, 2, 4)                 # [B, C, gh, p, gw, p]
    return x.reshape(B, C, gh * p, gw * p)          # [B, C, H, W]


@dataclass(frozen=True)
class MaskIndices:
    """The index tensors of MAE's per-sample random masking (all (B, L) except ids_keep).

    ids_shuffle: patch numbers, kept ones first, then the hidden ones.
    ids_restore: argsort of ids_shuffle; gathering with it puts a shuffled sequence back
                 into reading order (the decoder uses it to place its mask tokens).
    ids_keep:    (B, K) the first K entries of ids_shuffle, the patches the encoder sees.
    mask:        (B, L) bool in reading order, True = hidden.
    """

    ids_shuffle: torch.Tensor
    ids_restore: torch.Tensor
    ids_keep: torch.Tensor
    mask: torch.Tensor

    @property
    def num_hidden(self) -> int:
        return int(self.mask[0].sum())


def count_hidden(num_patches: int, ratio: float) -> int:
    """How many of `num_patches` patches MAE hides at a mask ratio: L - int(L * (1 - ratio)), as
    the official MAE code and transformers' ViTMAE keep int(L * (1 - ratio)) patches. (One fewer
    than round(ratio * L) at some ratios: 196 patches at 0.7 hide 138, not 137.)"""
    L = int(num_patches)
    return L - int(L * (1 - min(max(float(ratio), 0.0), 1.0)))


def count_hidden_simmim(num_squares: int, ratio: float) -> int:
    """How many of `num_squares` mask squares SimMIM hides: ceil(squares * ratio), as the
    official SimMIM MaskGenerator does (int(np.ceil(token_count * mask_ratio)))."""
    return int(np.ceil(int(num_squares) * min(max(float(ratio), 0.0), 1.0)))


HIDDEN_COUNT = {"MAE": count_hidden, "SimMIM": count_hidden_simmim}


def random_masking(num_patches: int, ratio: float, seed: int, batch: int = 1, method: str = "MAE") -> MaskIndices:
    """MAE's random masking with a seed: sort uniform noise, keep the patches with the
    smallest noise, hide `HIDDEN_COUNT[method](num_patches, ratio)`. Same seed -> same mask."""
    gen = torch.Generator().manual_seed(int(seed))
    noise = torch.rand(batch, num_patches, generator=gen)          # [B, L]
    return masking_from_noise(noise, HIDDEN_COUNT[method](num_patches, ratio))


def masking_from_noise(noise: torch.Tensor, num_hidden: int) -> MaskIndices:
    """Indices for a (B, L) noise tensor: the `num_hidden` largest-noise patches are hidden."""
    B, L = noise.shape
    keep = L - num_hidden
    ids_shuffle = torch.argsort(noise, dim=1)                      # [B, L] small noise first: kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)                # [B, L]
    ids_keep = ids_shuffle[:, :keep]                               # [B, K]
    shuffled = torch.ones(B, L, dtype=torch.bool)                  # [B, L] in shuffled order
    shuffled[:, :keep] = False
    mask = torch.gather(shuffled, 1, ids_restore)                  # [B, L] back in reading order
    return MaskIndices(ids_shuffle, ids_restore, ids_keep, mask)


def indices_from_mask(mask: torch.Tensor) -> MaskIndices:
    """The MAE index tensors for a given (B, L) bool mask (every row must hide the same number
    of patches). Kept patches come first in reading order, then the hidden ones."""
    mask = mask.bool()
    counts = mask.sum(1)
    if not bool((counts == counts[0]).all()):
        raise ValueError("every picture of a batch must hide the same number of patches")
    L = mask.shape[1]
    order = torch.arange(L, dtype=torch.float32)                   # [L] reading order as tie-break
    noise = mask.float() * L + order / L                           # [B, L] hidden ones sort last
    return masking_from_noise(noise, int(counts[0]))


def cells_for(grid: tuple[int, int], cell: int) -> tuple[int, int]:
    """How many mask cells of `cell` x `cell` patches cover a (gh, gw) grid (the last row and
    column of cells may be cut short by the picture's edge)."""
    return math.ceil(grid[0] / cell), math.ceil(grid[1] / cell)


def block_mask(grid: tuple[int, int], cell: int, ratio: float, seed: int, method: str = "MAE") -> np.ndarray:
    """Hide random squares of `cell` x `cell` patches (the mask patch size is `cell` times the
    model's patch), as many as `method`'s rule says: MAE's L - int(L * (1 - ratio)), SimMIM's
    ceil(squares * ratio). (gh, gw) bool."""
    ch, cw = cells_for(grid, cell)
    coarse = random_masking(ch * cw, ratio, seed, method=method).mask[0].reshape(ch, cw).numpy()   # [ch, cw]
    fine = np.repeat(np.repeat(coarse, cell, axis=0), cell, axis=1)                 # [ch*cell, cw*cell]
    return fine[:grid[0], :grid[1]]                                                 # [gh, gw]


def mask_from_brush(painted: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """A brush stroke -> a patch mask: any painted pixel hides the patch it falls in.

    painted: (h, w) bool over the whole picture, at any resolution (it is mapped onto the
    grid by relative position). Returns (gh, gw) bool.
    """
    h, w = painted.shape
    gh, gw = grid
    ys, xs = np.nonzero(painted)
    mask = np.zeros((gh, gw), bool)
    mask[ys * gh // h, xs * gw // w] = True
    return mask


def resample_mask(mask: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Carry a (mh, mw) mask to another (gh, gw) grid by position: each new patch takes the
    value under its centre. Used to give two models with different grids the same mask."""
    mh, mw = mask.shape
    rows = ((np.arange(grid[0]) + 0.5) * mh / grid[0]).astype(int)
    cols = ((np.arange(grid[1]) + 0.5) * mw / grid[1]).astype(int)
    return mask[np.ix_(rows, cols)]


def pixel_mask(mask: np.ndarray, p: int) -> np.ndarray:
    """(gh, gw) patch mask -> (gh*p, gw*p) pixel mask."""
    return np.repeat(np.repeat(mask, p, axis=0), p, axis=1)


def patch_error(prediction: np.ndarray, target: np.ndarray, p: int, kind: str = "mse") -> np.ndarray:
    """Mean squared ("mse") or absolute ("l1") error of each patch: (H, W, C) x2 -> (gh, gw)."""
    diff = prediction.astype(np.float64) - target.astype(np.float64)                # [H, W, C]
    per_pixel = diff ** 2 if kind == "mse" else np.abs(diff) if kind == "l1" else None
    if per_pixel is None:
        raise ValueError(f"error kind must be 'mse' or 'l1', not {kind!r}")
    H, W, C = per_pixel.shape
    blocks = per_pixel.reshape(H // p, p, W // p, p, C)                             # [gh, p, gw, p, C]
    return blocks.mean(axis=(1, 3, 4)).astype(np.float32)                           # [gh, gw]


def masked_loss(prediction: np.ndarray, target: np.ndarray, hidden: np.ndarray, kind: str = "mse") -> float:
    """Mean squared ("mse") or absolute ("l1") error over the hidden pixels only.
    prediction, target: (H, W, C); hidden: (H, W) bool. NaN when nothing is hidden."""
    diff = prediction.astype(np.float64)[hidden] - target.astype(np.float64)[hidden]  # [N, C]
    if diff.size == 0:
        return float("nan")
    return float((diff ** 2).mean() if kind == "mse" else np.abs(diff).mean())


def mean_colour_fill(image: np.ndarray, hidden: np.ndarray, default: tuple[float, ...] | None = None) -> np.ndarray:
    """The baseline a model must beat: every hidden pixel becomes the mean colour of the
    visible pixels. image: (H, W, C) float; hidden: (H, W) bool. When nothing is visible,
    `default` (e.g. the dataset's mean colour) is used, or mid-grey of the image's range."""
    out = image.astype(np.float64).copy()
    visible = image[~hidden]                                                        # [N, C]
    if len(visible):
        colour = visible.mean(axis=0)
    elif default is not None:
        colour = np.asarray(default, np.float64)
    else:
        colour = np.full(image.shape[-1], 0.5 * (float(image.max()) + float(image.min())))
    out[hidden] = colour
    return out.astype(image.dtype)


def denormalise_patches(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                        grid: tuple[int, int], eps: float = 1e-6) -> torch.Tensor:
    """Undo MAE's per-patch normalisation (norm_pix_loss) of one picture's predictions.

    A norm-pix model predicts each patch as (x - mean) / std over its own p*p*C values, so
    the patch's own mean and std are needed to get pixels back. Visible patches use their
    true statistics; a hidden patch's are estimated from the visible patches, weighted by
    1 / distance^2 on the grid (near neighbours count most). pred, target: (L, D); mask:
    (L,) bool, True = hidden. Returns (L, D) predictions in the target's units.
    """
    mean = target.mean(-1, keepdim=True)                                            # [L, 1]
    std = (target.var(-1, keepdim=True) + eps).sqrt()                               # [L, 1]
    hidden = mask.bool()
    if hidden.all():  # nothing visible: fall back to the statistics of the whole picture
        return pred * target.std() + target.mean()
    if hidden.any():
        gh, gw = grid
        ids = torch.arange(gh * gw, device=target.device)
        rows, cols = ids // gw, ids % gw
        pos = torch.stack([rows, cols], 1).float()                                  # [L, 2]
        d2 = torch.cdist(pos[hidden], pos[~hidden]) ** 2                            # [M, V]
        weight = 1.0 / d2
        weight = weight / weight.sum(1, keepdim=True)                               # [M, V] rows sum to 1
        mean, std = mean.clone(), std.clone()
        mean[hidden] = weight @ mean[~hidden]                                       # [M, 1]
        std[hidden] = weight @ std[~hidden]
    return pred * std + mean
