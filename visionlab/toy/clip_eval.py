"""Zero-shot evaluation of a ShapesWorld CLIP: shape, colour and colour x shape, by text alone.

    python -m visionlab.toy.clip_eval [shapes-clip-tiny | weights/shapes-clip-tiny] [--images 360]

The pictures come from the held-out stream (seed 3; training uses 1, validation 2), an equal
number for each of the 36 colour-shape pairs, plus a separate set made only of the pairs the
model never saw in training. Every question is asked with a template that training never used
(`UNSEEN_TEMPLATE`), through the app's own zero-shot pipeline. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import numpy as np

from visionlab.toy.clip_captions import UNSEEN_TEMPLATE, make_captioned_batch
from visionlab.toy.shapes import COLOUR_NAMES, SHAPES

TEST_SEED = 3
HELD_OUT_START = 100_000  # the held-out-pair pictures use indices from here (no overlap)
ALL_PAIRS = np.array([(s, c) for s in range(len(SHAPES)) for c in range(len(COLOUR_NAMES))], np.int64)  # [36, 2]

Encoder = Callable[[list], np.ndarray]  # pictures or sentences -> (N, D) unit vectors


def pair_ids(names: list[list[str]] | list[tuple[str, str]]) -> np.ndarray:
    """[["red", "star"], ...] (colour, shape) -> (K, 2) int64 rows of (shape id, colour id)."""
    return np.array([(SHAPES.index(s), COLOUR_NAMES.index(c)) for c, s in names], np.int64).reshape(-1, 2)


def question_sets(template: str = UNSEEN_TEMPLATE) -> dict[str, list[str]]:
    """The three zero-shot questions as sentences: 6 shapes, 6 colours, 36 colour-shape pairs."""
    return {
        "shape": [template.format(s) for s in SHAPES],
        "colour": [template.format(f"{c} shape") for c in COLOUR_NAMES],
        "pair": [template.format(f"{COLOUR_NAMES[c]} {SHAPES[s]}") for s, c in ALL_PAIRS],
    }


def balanced_pairs(n: int, pairs: np.ndarray = ALL_PAIRS) -> np.ndarray:
    """(n, 2) rows cycling through `pairs`: every pair equally often."""
    return pairs[np.arange(n) % len(pairs)]


def zero_shot_accuracy(encode_images: Encoder, encode_texts: Encoder, images: np.ndarray,
                       truth_pairs: np.ndarray, template: str = UNSEEN_TEMPLATE) -> dict[str, float]:
    """Top-1 of the three questions on `images` (B, H, W, 3) whose true (shape, colour) rows are
    `truth_pairs` (B, 2). Each picture picks the sentence of highest cosine similarity."""
    img = encode_images(list(images))  # [B, D]
    out = {}
    for name, sentences in question_sets(template).items():
        pred = (img @ encode_texts(sentences).T).argmax(1)  # [B, M] -> [B]
        if name == "shape":
            right = pred == truth_pairs[:, 0]
        elif name == "colour":
            right = pred == truth_pairs[:, 1]
        else:
            right = (ALL_PAIRS[pred] == truth_pairs).all(1)
        out[f"{name}_top1"] = round(float(right.mean()), 4)
    return out


def evaluate_encoders(encode_images: Encoder, encode_texts: Encoder, held_out: np.ndarray, images: int = 360,
                      held_out_images: int = 300, seed: int = TEST_SEED, size: int = 64,
                      template: str = UNSEEN_TEMPLATE) -> dict:
    """All pairs (balanced) and the held-out pairs alone, on pictures from stream `seed`."""
    pairs = balanced_pairs(images)
    x, attrs = make_captioned_batch(seed, 0, pairs, size)
    result = {"images": images, "seed": seed, "template": template,
              **zero_shot_accuracy(encode_images, encode_texts, x, attrs[:, :2], template)}
    if len(held_out) and held_out_images:
        pairs = balanced_pairs(held_out_images, held_out)
        x, attrs = make_captioned_batch(seed, HELD_OUT_START, pairs, size)
        scores = zero_shot_accuracy(encode_images, encode_texts, x, attrs[:, :2], template)
        result["held_out_images"] = held_out_images
        result["held_out_pairs"] = [f"{COLOUR_NAMES[c]} {SHAPES[s]}" for s, c in held_out]
        result["held_out_pair_top1"] = scores["pair_top1"]
        result["held_out_shape_top1"] = scores["shape_top1"]
        result["held_out_colour_top1"] = scores["colour_top1"]
    return result


def held_out_of(folder: Path) -> np.ndarray:
    """The held-out (shape, colour) rows recorded beside the weights (shapesworld.json)."""
    info = json.loads((folder / "shapesworld.json").read_text())
    return pair_ids(info["held_out_pairs"])


def evaluate(name: str = "shapes-clip-tiny", images: int = 360, held_out_images: int = 300,
             seed: int = TEST_SEED) -> dict:
    """Evaluate a registry key or a saved CLIP folder through the zero-shot pipeline."""
    from visionlab.pipelines.zero_shot import ZeroShotPipeline, pipeline_for

    pipe: ZeroShotPipeline = pipeline_for(name)
    folder = pipe.loaded.spec.local_dir
    result = evaluate_encoders(pipe.encode_images, pipe.encode_texts, held_out_of(folder), images,
                               held_out_images, seed)
    return {"model": name, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="shapes-clip-tiny",
                        help="registry key or folder with config.json + model.safetensors + tokenizer")
    parser.add_argument("--images", type=int, default=360)
    parser.add_argument("--held-out-images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=TEST_SEED)
    args = parser.parse_args()
    print(json.dumps(evaluate(args.model, args.images, args.held_out_images, args.seed), indent=2))


if __name__ == "__main__":
    main()
