"""What the zero-shot tab suggests for each model: labels and templates (no torch here, so the
page can be built before any model library is imported)."""

from __future__ import annotations

from dataclasses import dataclass

from visionlab.models.registry import ModelSpec, get_spec

# Defaults that follow the model: ShapesWorld words for the bundled CLIP, everyday words for real ones.
SHAPES_LABELS = "red star, yellow star, blue cross, green ring, orange square, purple triangle"
EVERYDAY_LABELS = "cat, dog, astronaut, rocket, cup of coffee, car, tree"
CHINESE_LABELS = "猫, 狗, 宇航员, 火箭, 一杯咖啡, 汽车, 树"
TEMPLATES = {
    "shapesworld": ("a photo of a {}.", "a {}.", "a drawing of a {}.", "a picture of a {}.", "{}"),
    "free-text": ("a photo of a {}.", "a blurry photo of a {}.", "a close-up photo of a {}.",
                  "a drawing of a {}.", "a photo of the small {}.", "a photo of the large {}.",
                  "a bright photo of a {}."),
    "chinese": ("一张{}的照片。", "一张模糊的{}的照片。", "一幅{}的画。", "一张{}的特写照片。"),
}


@dataclass(frozen=True)
class Defaults:
    """What the tab suggests for a model: labels (comma separated), one template, an ensemble."""

    labels: str
    template: str
    ensemble: tuple[str, ...]


def defaults_for(model: str | ModelSpec) -> Defaults:
    """The suggested labels and templates for a registry model (key or spec)."""
    spec = get_spec(model) if isinstance(model, str) else model
    if spec.labels == "shapesworld":
        kind, labels = "shapesworld", SHAPES_LABELS
    elif spec.arch == "ChineseCLIPModel":
        kind, labels = "chinese", CHINESE_LABELS
    else:
        kind, labels = "free-text", EVERYDAY_LABELS
    return Defaults(labels, TEMPLATES[kind][0], TEMPLATES[kind])
