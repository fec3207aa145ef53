"""Attention arithmetic for Vision Transformers: pure functions on torch tensors.

Layout: `attn` is (L, H, T, T) = (layers, heads, query tokens, key tokens); each row
attn[l, h, i, :] is a softmax, so it sums to 1. The first `prefix` tokens are the [CLS]
(and any register) tokens; the rest are the patches in row-major order over a (gh, gw) grid.
"""

from __future__ import annotations

import torch

FUSIONS = ("mean", "max", "min")


def fuse_heads(attn: torch.Tensor, fusion: str = "mean") -> torch.Tensor:
    """(..., H, T, T) -> (..., T, T): combine the heads of a layer by mean, max or min."""
    if fusion == "mean":
        return attn.mean(-3)
    if fusion == "max":
        return attn.amax(-3)
    if fusion == "min":
        return attn.amin(-3)
    raise ValueError(f"head fusion must be one of {FUSIONS}, not {fusion!r}")


DISCARDS = ("cls-entry", "cls-row-and-column")


def discard_lowest(a: torch.Tensor, ratio: float, keep: int = 0, protect: str = "cls-entry") -> torch.Tensor:
    """Zero the weakest links of one (T, T) map. Returns a new tensor.

    protect="cls-entry" (the usual implementation, jacobgil/vit-explain's rollout): the lowest
    int(T*T * ratio) of all entries are picked, and the [CLS]-to-[CLS] entry (keep, keep) is
    spared if it is among them. protect="cls-row-and-column" (VisionLab's earlier variant):
    never row or column `keep`; round(ratio * the others) of the others go."""
    if ratio <= 0:
        return a.clone()
    T = a.shape[-1]
    flat = a.flatten().clone()                                 # [T*T]
    if protect == "cls-entry":
        lowest = flat.topk(int(T * T * min(ratio, 1.0)), largest=False).indices
        lowest = lowest[lowest != keep * T + keep]             # spare [CLS] -> [CLS]
        flat[lowest] = 0
        return flat.view(T, T)
    if protect != "cls-row-and-column":
        raise ValueError(f"protect must be one of {DISCARDS}, not {protect!r}")
    protected = torch.zeros(T, T, dtype=torch.bool, device=a.device)
    protected[keep, :] = protected[:, keep] = True
    candidates = (~protected.flatten()).nonzero().squeeze(1)   # [C] indices that may go
    n = int(round(candidates.numel() * min(ratio, 1.0)))
    if n:
        lowest = flat[candidates].topk(n, largest=False).indices
        flat[candidates[lowest]] = 0
    return flat.view(T, T)


def rollout(attn: torch.Tensor, fusion: str = "mean", discard_ratio: float = 0.0,
            protect: str = "cls-entry") -> torch.Tensor:
    """Attention rollout (Abnar and Zuidema, 2020): how much each token at the output draws
    on each input token, through all layers. (L, H, T, T) -> (T, T), rows sum to 1.

    Assumes the residual connection mixes half of each token with itself, so each layer's
    map is 0.5 * A + 0.5 * I, its rows renormalised to sum to 1 (after the discard they no
    longer do), and that the maps simply chain by matrix product, ignoring the MLPs and the
    values. `discard_ratio` and `protect`: see `discard_lowest`.
    """
    L, H, T, _ = attn.shape
    eye = torch.eye(T, dtype=attn.dtype, device=attn.device)
    joint = eye
    for layer in range(L):
        a = discard_lowest(fuse_heads(attn[layer], fusion), discard_ratio, protect=protect)  # [T, T]
        a = 0.5 * a + 0.5 * eye
        a = a / a.sum(-1, keepdim=True)
        joint = a @ joint                                                   # [T, T]
    return joint


def token_to_patches(row: torch.Tensor, prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """One attention row (T,) -> (gh, gw) map over the patches, dropping the prefix tokens."""
    gh, gw = grid
    return row[prefix:].reshape(gh, gw)  # [T - prefix] -> [gh, gw]


def top_mass_mask(weights: torch.Tensor, keep: float) -> torch.Tensor:
    """DINO-style mask: the fewest entries holding `keep` (0-1) of the total mass. Same shape, bool."""
    flat = weights.flatten()
    order = flat.argsort(descending=True)
    cum = flat[order].cumsum(0) / flat.sum().clamp_min(1e-12)   # [N], rising to 1
    n = int((cum < keep).sum()) + 1                             # include the one that crosses
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[order[:n]] = True
    return mask.view_as(weights)


def dino_masks(attn: torch.Tensor, keep: float) -> torch.Tensor:
    """DINO's masks, as its visualize_attention.py makes them: for each row (a head's [CLS]
    attention over the N patches), sort ascending, normalise to sum 1, and keep the patches
    whose cumulative share is above 1 - keep, i.e. the strongest ones holding `keep` of the
    mass. (H, N) -> (H, N) bool."""
    values, order = attn.sort(-1)                               # [H, N] ascending
    share = values / values.sum(-1, keepdim=True)
    kept_sorted = share.cumsum(-1) > (1 - keep)                 # [H, N] in sorted order
    return kept_sorted.gather(-1, order.argsort(-1))            # [H, N] back in patch order


def patch_mass_on(weights: torch.Tensor, inside: torch.Tensor) -> float:
    """Share (0-1) of non-negative `weights` (gh, gw) that falls where `inside` (gh, gw) is True."""
    return float(weights[inside].sum() / weights.sum().clamp_min(1e-12))


def position_similarity(pos_embed: torch.Tensor, prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """Cosine similarity of each patch's position embedding to every other's.

    pos_embed: (T, D) or (1, T, D), with or without the prefix rows (detected by length).
    Returns (gh, gw, gh, gw): [i, j] is the map of patch (i, j)'s similarity to all patches.
    """
    gh, gw = grid
    p = pos_embed.reshape(-1, pos_embed.shape[-1])              # [T or N, D]
    if p.shape[0] == gh * gw + prefix:
        p = p[prefix:]                                          # [N, D] patches only
    p = torch.nn.functional.normalize(p.float(), dim=-1)
    return (p @ p.T).reshape(gh, gw, gh, gw)                    # [N, N] -> [gh, gw, gh, gw]
