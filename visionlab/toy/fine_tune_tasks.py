"""ShapesWorld tasks the bundled backbones were never trained on, for the fine-tuning tab.

The bundled classifiers learned to name a picture's *shape*. These tasks ask something else
about the same kind of picture: its colour, its size, which side it sits on, how many objects
it holds. Every picture is a pure function of (task, class, index, seed), so a task is
reproducible and "fresh pictures" just means other indices.

    pictures, labels, names = task_pictures("colour", per_class=10, seed=0)
    pictures.shape  # (40, 64, 64, 3) uint8 RGB; labels (40,) int64; names ("red", "green", ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# visionlab.toy.shapes (and OpenCV with it) is imported when a picture is drawn, not when the page
# is built from TASKS.
SIZE = 64  # the bundled backbones' input size
_STREAM = 7_000  # seeds of these tasks start here: far from the trainers' streams (1, 2, ...)


@dataclass(frozen=True)
class ShapesTask:
    """One task: its name, its class names (English and Chinese), what it asks, and how a picture
    of class `c` is drawn from a random generator."""

    name: str
    classes: tuple[str, ...]
    classes_zh: tuple[str, ...]
    question: str
    question_zh: str
    draw: Callable[[np.random.Generator, int], np.ndarray]


def _one(rng: np.random.Generator, spec) -> np.ndarray:
    from visionlab.toy.shapes import render

    return render(rng, SIZE, [spec]).image


def _spec(rng: np.random.Generator, radius_range: tuple[float, float], **kwargs):
    from visionlab.toy.shapes import random_spec

    return random_spec(rng, SIZE, radius_range, **kwargs)


def _colour(rng: np.random.Generator, c: int) -> np.ndarray:
    from visionlab.toy.shapes import COLOUR_NAMES

    return _one(rng, _spec(rng, (0.16, 0.40), colour=COLOUR_NAMES.index(COLOUR_CLASSES[c])))


def _size(rng: np.random.Generator, c: int) -> np.ndarray:
    return _one(rng, _spec(rng, (0.10, 0.15) if c == 0 else (0.33, 0.42)))


def _position(rng: np.random.Generator, c: int) -> np.ndarray:
    from visionlab.toy.shapes import ShapeSpec

    spec = _spec(rng, (0.12, 0.22))
    margin = spec.radius * 1.1 + 1
    cx = rng.uniform(margin, SIZE / 2 - 4) if c == 0 else rng.uniform(SIZE / 2 + 4, SIZE - margin)
    return _one(rng, ShapeSpec(spec.shape, spec.colour, float(cx), spec.cy, spec.radius, spec.angle))


def _count(rng: np.random.Generator, c: int) -> np.ndarray:
    from visionlab.toy.shapes import render

    specs: list = []
    while len(specs) < c + 1:  # objects that do not touch, so each one can be counted
        cand = _spec(rng, (0.09, 0.14))
        if all((cand.cx - o.cx) ** 2 + (cand.cy - o.cy) ** 2 > (cand.radius + o.radius + 2) ** 2 for o in specs):
            specs.append(cand)
    return render(rng, SIZE, specs).image


COLOUR_CLASSES = ("red", "green", "blue", "yellow")
ROUND, POINTED = ("circle", "ring"), ("triangle", "star")


def _round_or_pointed(rng: np.random.Generator, c: int) -> np.ndarray:
    from visionlab.toy.shapes import SHAPES

    kinds = ROUND if c == 0 else POINTED
    shape = SHAPES.index(kinds[int(rng.integers(len(kinds)))])
    return _one(rng, _spec(rng, (0.16, 0.40), shape=shape))


TASKS: dict[str, ShapesTask] = {t.name: t for t in (
    ShapesTask("colour", COLOUR_CLASSES, ("红", "绿", "蓝", "黄"),
               "What colour is the shape?", "形状是什么颜色？", _colour),
    ShapesTask("size", ("small", "big"), ("小", "大"), "Is the shape small or big?", "形状是小还是大？", _size),
    ShapesTask("position", ("left", "right"), ("左", "右"), "Is the shape on the left or the right?",
               "形状在左边还是右边？", _position),
    ShapesTask("count", ("one", "two", "three"), ("一个", "两个", "三个"), "How many shapes are there?",
               "图里有几个形状？", _count),
    ShapesTask("round-or-pointed", ("round", "pointed"), ("圆的", "尖的"),
               "Is the shape round (circle, ring) or pointed (triangle, star)?",
               "形状是圆的（圆、环）还是尖的（三角形、星形）？", _round_or_pointed),
)}


def task_pictures(name: str, per_class: int, seed: int = 0, start: int = 0
                  ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """`per_class` pictures of each class of task `name`, class by class.

    Returns pictures (N, 64, 64, 3) uint8 RGB, labels (N,) int64 (indices into the names) and the
    class names. `start` skips that many pictures per class (fresh pictures for a test set)."""
    from visionlab.toy.shapes import rng_for

    task = TASKS[name]
    pictures, labels = [], []
    for c in range(len(task.classes)):
        for i in range(start, start + per_class):
            pictures.append(task.draw(rng_for(_STREAM + seed, (c << 20) + i), c))
            labels.append(c)
    return np.stack(pictures), np.array(labels, np.int64), task.classes
