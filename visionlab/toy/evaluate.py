"""Evaluate a ShapesWorld classifier on fresh held-out pictures and print JSON.

    python -m visionlab.toy.evaluate weights/shapes-vit-tiny [--images 1000] [--seed 3]
    python -m visionlab.toy.evaluate shapes-resnet-tiny      # a registry key works too

Pictures come from the stream `--seed` (default 3), which no trainer uses (training uses 1,
validation 2), and go through the app's own loader and classification pipeline.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from visionlab.toy.shapes import SHAPES, make_batch

TEST_SEED = 3


def load_classifier(name: str):
    """A `ClassificationPipeline` for a registry key or a saved timm folder."""
    from visionlab.models import REGISTRY, LoadedModel, ModelSpec, load_model
    from visionlab.models.loader import load_spec
    from visionlab.pipelines.classification import ClassificationPipeline

    if name in REGISTRY:
        return ClassificationPipeline(load_model(name))
    folder = Path(name).resolve()
    cfg = json.loads((folder / "config.json").read_text())["pretrained_cfg"]
    spec = ModelSpec(key=f"folder:{folder}", task="classification", library="timm", title=folder.name,
                     family="vit" if "vit" in folder.name else "cnn", input_size=cfg["input_size"][-1],
                     mean=tuple(cfg["mean"]), std=tuple(cfg["std"]), labels="shapesworld",
                     licence=cfg.get("license", "unknown"), path=str(folder))
    model, seconds, memo = load_spec(spec)
    return ClassificationPipeline(LoadedModel(spec, spec, model, None, seconds, memo))


def evaluate(name: str, images: int = 1000, seed: int = TEST_SEED, size: int = 64,
             batch: int = 250) -> dict:
    """Top-1 accuracy (overall and per shape) on `images` held-out pictures."""
    pipe = load_classifier(name)
    correct = np.zeros(len(SHAPES))
    total = np.zeros(len(SHAPES))
    for start in range(0, images, batch):
        x, y = make_batch(seed, start, min(batch, images - start), size)
        pred = pipe.predict_batch(list(x)).argmax(1)
        np.add.at(total, y, 1)
        np.add.at(correct, y, pred == y)
    return {
        "model": name, "images": images, "seed": seed,
        "accuracy": round(float(correct.sum() / total.sum()), 4),
        "per_class": {s: round(float(c / max(t, 1)), 4) for s, c, t in zip(SHAPES, correct, total)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="registry key or folder with config.json + model.safetensors")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=TEST_SEED)
    args = parser.parse_args()
    print(json.dumps(evaluate(args.model, args.images, args.seed), indent=2))


if __name__ == "__main__":
    main()
