"""The arithmetic of CLIP's zero-shot head, and the picture of its similarity matrix.

Embeddings are float32 arrays of unit vectors, one per row: images (N, D), texts (M, D).
The cosine similarity of two unit vectors is their dot product, in [-1, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

from visionlab.ops.overlay import add_colour_bar, colourise


def normalise(x: np.ndarray) -> np.ndarray:
    """Scale every row of (..., D) to length 1."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def ensemble(per_template: np.ndarray) -> np.ndarray:
    """(T, M, D) unit text embeddings, T templates of M labels -> (M, D): the mean over
    templates, normalised again (CLIP's prompt ensembling)."""
    return normalise(per_template.mean(0))  # [T, M, D] -> [M, D]


def cosine_matrix(images: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """(N, D) x (M, D) unit vectors -> (N, M) cosine similarities."""
    return images @ texts.T  # [N, D] @ [D, M] -> [N, M]


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along `axis` (values sum to 1 along it)."""
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


MAX_MATRIX_SIDE = 4096   # the matrix picture's longest side in pixels (WebP stops at 16383)
_BAR = 600               # room kept on the right for the colour bar and its labels


def matrix_cell(n: int, m: int, cell: int = 84, max_side: int = MAX_MATRIX_SIDE) -> int:
    """The side of one cell (pixels) so that an N x M matrix, its thumbnails, column names and
    colour bar fit in `max_side` x `max_side`: `cell` when they fit, smaller when they would not."""
    head = 28
    fit_w = (max_side - _BAR) // (m + 1) - 2
    fit_h = (max_side - head) // max(n, 1) - 2
    return max(1, min(cell, fit_w, fit_h))


def matrix_picture(sim: np.ndarray, thumbs: list[np.ndarray], columns: list[str], cell: int = 84,
                   highlight: np.ndarray | None = None) -> np.ndarray:
    """The CLIP figure: one row per picture (its thumbnail on the left), one column per text,
    each cell coloured by its value (blue = low, red = high, scaled to the matrix's min..max) with
    the value written in it. `columns` are short column names (T1, T2, ...) written on top;
    `highlight` (N, M) bool outlines cells (e.g. each row's best text). A colour bar
    with the min and max is added on the right. Cells shrink (and values, then names, are left
    out when they no longer fit) so the picture stays within MAX_MATRIX_SIDE pixels a side,
    whatever N and M. Returns (H, W, 3) uint8."""
    n, m = sim.shape
    cell = matrix_cell(n, m, cell)
    head, gap = 28, (2 if cell >= 8 else 0)
    font = 0.5 * min(1.0, cell / 84)
    out = np.full((head + n * (cell + gap), cell + gap + m * (cell + gap), 3), 255, np.uint8)
    colours = colourise(sim)  # [N, M, 3]
    lo, hi = float(sim.min()), float(sim.max())
    if cell >= 24:
        for j, name in enumerate(columns):
            x = cell + gap + j * (cell + gap)
            cv2.putText(out, name[:9], (x + 2, head - 9), cv2.FONT_HERSHEY_SIMPLEX, max(font, 0.35), (0, 0, 0), 1,
                        cv2.LINE_AA)
    for i in range(n):
        y = head + i * (cell + gap)
        out[y:y + cell, :cell] = cv2.resize(thumbs[i], (cell, cell), interpolation=cv2.INTER_AREA)
        for j in range(m):
            x = cell + gap + j * (cell + gap)
            out[y:y + cell, x:x + cell] = colours[i, j]
            if cell >= 32:
                light = (sim[i, j] - lo) / max(hi - lo, 1e-12)
                ink = (0, 0, 0) if 0.25 < light < 0.8 else (255, 255, 255)
                text = f"{sim[i, j]:.2f}"
                (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, 1)
                cv2.putText(out, text, (x + (cell - w) // 2, y + (cell + h) // 2), cv2.FONT_HERSHEY_SIMPLEX, font,
                            ink, 1, cv2.LINE_AA)
            if highlight is not None and highlight[i, j]:
                line = 3 if cell >= 24 else 1
                cv2.rectangle(out, (x + 1, y + 1), (x + cell - 2, y + cell - 2), (255, 255, 255), line)
                cv2.rectangle(out, (x + 1, y + 1), (x + cell - 2, y + cell - 2), (0, 0, 0), 1)
    return add_colour_bar(out, lo, hi)
