"""ShapesWorld: a seeded generator of coloured shapes on noisy, textured backgrounds.

Every picture is a pure function of its seed, so "held-out" simply means "made from seeds
the trainer never used". One object per picture serves classification; several objects per
picture (with boxes, class ids and masks) serve detection and segmentation.

Conventions: images are (H, W, 3) uint8 RGB; boxes are (N, 4) float32 XYXY in pixels
(x0, y0 inclusive top-left corner, x1, y1 exclusive bottom-right corner); masks are
(N, H, W) bool and hold the *visible* part of each object (later objects occlude earlier).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 215),
    "yellow": (235, 205, 35),
    "purple": (145, 60, 185),
    "orange": (245, 130, 25),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)

_SUPERSAMPLE = 4  # shapes are drawn 4x larger, then area-averaged: smooth edges


@dataclass(frozen=True)
class ShapeSpec:
    """One object to draw: class ids, centre (x, y) and radius in pixels, angle in degrees."""

    shape: int
    colour: int
    cx: float
    cy: float
    radius: float
    angle: float


@dataclass(frozen=True)
class Scene:
    """A rendered picture and its ground truth.

    image: (H, W, 3) uint8 RGB. boxes: (N, 4) float32 XYXY pixels of the visible part.
    shape_ids, colour_ids: (N,) int64 indices into SHAPES and COLOUR_NAMES.
    masks: (N, H, W) bool, visible pixels of each object.
    """

    image: np.ndarray
    boxes: np.ndarray
    shape_ids: np.ndarray
    colour_ids: np.ndarray
    masks: np.ndarray

    @property
    def label(self) -> int:
        """Class id of the first object (the only one in a classification picture)."""
        return int(self.shape_ids[0])


def rng_for(seed: int, index: int) -> np.random.Generator:
    """The generator for picture `index` of the stream `seed` (independent streams)."""
    return np.random.default_rng([int(seed), int(index)])


def _polygon(kind: str, radius: float, angle_deg: float, n_circle: int = 48) -> np.ndarray:
    """Outline of a shape centred on (0, 0): (V, 2) float (x, y) vertices."""
    def ring_of(n: int, r: float, phase: float = 0.0) -> np.ndarray:
        t = np.linspace(0, 2 * np.pi, n, endpoint=False) + phase
        return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)  # [n, 2]

    if kind in ("circle", "ring"):
        pts = ring_of(n_circle, radius)
    elif kind == "square":
        pts = ring_of(4, radius, np.pi / 4)
    elif kind == "triangle":
        pts = ring_of(3, radius * 1.1, -np.pi / 2)
    elif kind == "star":
        outer = ring_of(5, radius * 1.1, -np.pi / 2)
        inner = ring_of(5, radius * 0.45, -np.pi / 2 + np.pi / 5)
        pts = np.stack([outer, inner], axis=1).reshape(10, 2)  # [5, 2, 2] -> [10, 2] alternating
    elif kind == "cross":
        a, w = radius, radius * 0.34
        pts = np.array([[-w, -a], [w, -a], [w, -w], [a, -w], [a, w], [w, w],
                        [w, a], [-w, a], [-w, w], [-a, w], [-a, -w], [-w, -w]], dtype=float)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    t = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return pts @ rot.T


def shape_alpha(spec: ShapeSpec, size: int) -> np.ndarray:
    """Coverage of one shape on a size x size canvas: (H, W) float32 in [0, 1]."""
    s = _SUPERSAMPLE
    kind = SHAPES[spec.shape]
    canvas = np.zeros((size * s, size * s), np.uint8)
    centre = np.array([spec.cx, spec.cy]) * s
    pts = _polygon(kind, spec.radius * s, spec.angle) + centre
    cv2.fillPoly(canvas, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_8, shift=4)
    if kind == "ring":
        hole = _polygon("circle", spec.radius * s * 0.55, 0) + centre
        cv2.fillPoly(canvas, [np.round(hole * 16).astype(np.int32)], 0, lineType=cv2.LINE_8, shift=4)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A muted, low-saturation background: gradient + blobby texture + pixel noise.

    Returns (H, W, 3) float32 in [0, 255].
    """
    grey = rng.uniform(70, 190)
    tint = rng.uniform(-18, 18, size=3)
    base = np.full((size, size, 3), grey, np.float32) + tint
    # a linear gradient in a random direction
    t = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1) - 0.5
    base += (np.cos(t) * xx + np.sin(t) * yy)[..., None] * rng.uniform(0, 50)
    # low-frequency texture: a small random grid, smoothly upsampled
    cells = int(rng.integers(3, 9))
    blobs = rng.normal(0, 1, size=(cells, cells, 1)).astype(np.float32)
    blobs = cv2.resize(blobs, (size, size), interpolation=cv2.INTER_CUBIC)
    base += blobs[..., None] * rng.uniform(0, 14)
    base += rng.normal(0, rng.uniform(2, 12), size=base.shape).astype(np.float32)
    return base


def _composite(canvas: np.ndarray, alpha: np.ndarray, colour: np.ndarray, rng: np.random.Generator) -> None:
    """Paint `colour` over `canvas` (H, W, 3 float) with coverage `alpha` (H, W), in place."""
    size = canvas.shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1) - 0.5
    t = rng.uniform(0, 2 * np.pi)
    shading = 1.0 + (np.cos(t) * xx + np.sin(t) * yy) * rng.uniform(0, 0.25)  # gentle light
    fill = colour[None, None, :] * shading[..., None]
    fill = fill + rng.normal(0, 4, size=fill.shape).astype(np.float32)
    a = alpha[..., None]
    canvas *= 1 - a
    canvas += a * fill


def random_spec(rng: np.random.Generator, size: int, radius_range: tuple[float, float],
                shape: int | None = None, colour: int | None = None) -> ShapeSpec:
    """Draw a random object whose circumscribed circle lies inside the canvas."""
    radius = rng.uniform(*radius_range) * size
    margin = radius * 1.1 + 1
    return ShapeSpec(
        shape=int(rng.integers(len(SHAPES))) if shape is None else int(shape),
        colour=int(rng.integers(len(COLOURS))) if colour is None else int(colour),
        cx=float(rng.uniform(margin, size - margin)),
        cy=float(rng.uniform(margin, size - margin)),
        radius=float(radius),
        angle=float(rng.uniform(0, 360)),
    )


def render(rng: np.random.Generator, size: int, specs: list[ShapeSpec]) -> Scene:
    """Draw `specs` in order (later ones on top) over a fresh random background."""
    canvas = background(rng, size)
    alphas = []
    for spec in specs:
        alpha = shape_alpha(spec, size)
        jitter = rng.uniform(-12, 12, size=3)
        colour = np.clip(np.array(COLOURS[COLOUR_NAMES[spec.colour]], np.float32) + jitter, 0, 255)
        _composite(canvas, alpha, colour, rng)
        alphas.append(alpha)
    masks = np.zeros((len(specs), size, size), bool)
    covered = np.zeros((size, size), bool)
    for i in range(len(specs) - 1, -1, -1):  # top-most first: it hides what lies below
        full = alphas[i] > 0.5
        masks[i] = full & ~covered
        covered |= full
    return Scene(
        image=np.clip(canvas, 0, 255).astype(np.uint8),
        boxes=np.array([mask_to_box(m) for m in masks], np.float32).reshape(-1, 4),
        shape_ids=np.array([s.shape for s in specs], np.int64),
        colour_ids=np.array([s.colour for s in specs], np.int64),
        masks=masks,
    )


def mask_to_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """Tight XYXY box (pixels, exclusive right/bottom) around a (H, W) bool mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


def make_single(seed: int, index: int, size: int = 64, shape: int | None = None,
                colour: int | None = None) -> Scene:
    """One centred-ish object per picture: the classification and CLIP sample."""
    rng = rng_for(seed, index)
    return render(rng, size, [random_spec(rng, size, (0.16, 0.40), shape, colour)])


def make_scene(seed: int, index: int, size: int = 128, max_objects: int = 5,
               min_visible: float = 0.6) -> Scene:
    """Several objects that may overlap a little (each keeps >= `min_visible` of its area)."""
    rng = rng_for(seed, index)
    n = int(rng.integers(1, max_objects + 1))
    specs: list[ShapeSpec] = []
    areas: list[float] = []
    for _ in range(n * 10):  # rejection sampling, bounded
        if len(specs) == n:
            break
        cand = random_spec(rng, size, (0.07, 0.18))
        alphas = [shape_alpha(s, size) > 0.5 for s in specs + [cand]]
        cover = np.zeros((size, size), bool)
        ok = True
        for i in range(len(alphas) - 1, -1, -1):
            visible = (alphas[i] & ~cover).sum()
            area = areas[i] if i < len(areas) else alphas[i].sum()
            if area == 0 or visible < min_visible * area:
                ok = False
                break
            cover |= alphas[i]
        if ok:
            specs.append(cand)
            areas.append(float(alphas[-1].sum()))
    return render(rng, size, specs)


def make_batch(seed: int, start: int, count: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """`count` single-object pictures from one stream: images (B, H, W, 3) uint8, labels (B,) int64."""
    scenes = [make_single(seed, start + i, size) for i in range(count)]
    return (np.stack([s.image for s in scenes]),
            np.array([s.label for s in scenes], np.int64))
