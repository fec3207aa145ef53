"""Pictures for the Segment Anything tab: masks over the picture, the prompts drawn on top.

Pictures are (H, W, 3) uint8 RGB on `visionlab.ops.box_drawing.Canvas` (longer side DISPLAY
px): a click on such a picture at display pixel (u, v) is picture pixel (u, v) / display_scale.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from visionlab.ops.box_drawing import DISPLAY, PALETTE, Canvas
from visionlab.pipelines.segmentation import Prompt, Segmentation

POSITIVE, NEGATIVE = (40, 200, 60), (230, 40, 40)


def display_scale(height: int, width: int) -> float:
    """Display pixels per picture pixel for a picture of this size."""
    return DISPLAY / max(height, width)


def prompt_picture(image: np.ndarray, prompt: Prompt | None, mask: np.ndarray | None = None,
                   corner: tuple[float, float] | None = None, alpha: float = 0.45) -> np.ndarray:
    """The picture with one mask tinted, the points (green = object, red = not) and the box.
    corner: the first corner of a box still being drawn (picture px)."""
    c = Canvas(image)
    if mask is not None:
        _tint(c, mask, PALETTE[0], alpha)
    if prompt is not None:
        if prompt.box is not None:
            c.box(prompt.box, (255, 200, 0), width=3)
        for (x, y), label in zip(prompt.points, prompt.labels):
            _dot(c, x, y, POSITIVE if label == 1 else NEGATIVE)
    if corner is not None:
        _dot(c, *corner, (255, 200, 0))
    return c.picture()


def masks_picture(seg: Segmentation, alpha: float = 0.5) -> np.ndarray:
    """Every mask of a result in its own colour (largest first, so small ones stay visible)."""
    c = Canvas(seg.image)
    for k, mask in enumerate(seg.masks):
        _tint(c, mask, PALETTE[k % len(PALETTE)], alpha)
    return c.picture()


def mask_png(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> (H, W) uint8, 255 inside: the mask as a black-and-white picture."""
    return mask.astype(np.uint8) * 255


def _tint(c: Canvas, mask: np.ndarray, colour, alpha: float) -> None:
    small = Image.fromarray(mask_png(mask)).resize(c.layer.size, Image.NEAREST)
    layer = Image.new("RGBA", c.layer.size, (*colour, int(255 * alpha)))
    c.layer.paste(layer, (0, 0), small)


def _dot(c: Canvas, x: float, y: float, colour, r: int = 7) -> None:
    u, v = x * c.scale, y * c.scale
    c.draw.ellipse([u - r, v - r, u + r, v + r], fill=(*colour, 255), outline=(255, 255, 255, 255), width=2)
