"""Write the ShapesWorld example pictures shown in the app: ``python -m visionlab.toy.examples``.

One picture per shape and a few multi-object scenes (for detection and segmentation), from a
seed stream that no trainer uses (EXAMPLE_SEED), rendered larger than the models' inputs so
they look crisp in the browser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from visionlab.toy.shapes import COLOUR_NAMES, SHAPES, make_scene, make_single

EXAMPLE_SEED = 7


def write_examples(out_dir: Path, size: int = 192) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, shape in enumerate(SHAPES):
        scene = make_single(EXAMPLE_SEED, i, size, shape=i, colour=(i * 5) % len(COLOUR_NAMES))
        path = out_dir / f"{COLOUR_NAMES[int(scene.colour_ids[0])]}-{shape}.png"
        Image.fromarray(scene.image).save(path, optimize=True)
        paths.append(path)
    return paths


def write_scenes(out_dir: Path, size: int = 128, count: int = 4, min_objects: int = 3) -> list[Path]:
    """The first `count` scenes of the example stream with at least `min_objects` objects, at the
    detector's own input size (128 px: the app enlarges them for display)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, index = [], 0
    while len(paths) < count:
        scene = make_scene(EXAMPLE_SEED, index, size)
        index += 1
        if len(scene.shape_ids) >= min_objects:
            path = out_dir / f"scene-{len(paths) + 1}.png"
            Image.fromarray(scene.image).save(path, optimize=True)
            paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples", help="folder holding shapes/ and scenes/")
    out = Path(parser.parse_args().out)
    for p in write_examples(out / "shapes") + write_scenes(out / "scenes"):
        print(p)


if __name__ == "__main__":
    main()
