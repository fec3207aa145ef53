"""Regular grids over a picture: cell centres, row by row (x varies fastest).

Pure numpy: the prompts of SAM's "segment everything" (in pixels) and the patch centres of a
ViT's g x g grid (in shares of the side, with height = width = 1) are the same points.
"""

from __future__ import annotations

import numpy as np


def grid_points(points_per_side: int, height: int, width: int) -> np.ndarray:
    """The centres of an n x n grid of cells over a height x width picture: (n*n, 2) float64
    (x, y) in the picture's units (pixels, or shares of the side for 1 x 1), row by row."""
    n = int(points_per_side)
    centres = (np.arange(n) + 0.5) / n                                           # [n] in 0-1
    xy = np.stack(np.meshgrid(centres, centres), -1).reshape(-1, 2)             # [n*n, 2] x varies fastest
    return xy * np.array([width, height], np.float64)
