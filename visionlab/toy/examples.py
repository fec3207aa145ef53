"""Write the ShapesWorld example pictures shown in the app: ``python -m visionlab.toy.examples``.

One picture per shape, from a seed stream that no trainer uses (EXAMPLE_SEED), rendered at
192 px so it looks crisp in the browser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from visionlab.toy.shapes import COLOUR_NAMES, SHAPES, make_single

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/shapes")
    for p in write_examples(Path(parser.parse_args().out)):
        print(p)


if __name__ == "__main__":
    main()
