"""Grad-CAM (Selvaraju et al., 2017): where a CNN's evidence for a class lies."""

from __future__ import annotations

import torch


def grad_cam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """(C, h, w) feature maps and the gradients of the class score w.r.t. them -> (h, w) >= 0.

    Each channel is weighted by its average gradient (how much the class score rises when
    the channel rises); the weighted sum is clipped at 0 (only evidence *for* the class).
    """
    weights = gradients.mean(dim=(1, 2))                         # [C]
    cam = (weights[:, None, None] * activations).sum(0)          # [h, w]
    return cam.clamp_min(0)
