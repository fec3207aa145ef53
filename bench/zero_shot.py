"""Zero-shot CLIP benchmarks (bundled tiny CLIP, CPU): the text cache, and our pipeline against
transformers' own ``pipeline("zero-shot-image-classification")`` on the same model.

    python -m bench.zero_shot [--calls 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = sorted((ROOT / "examples" / "shapes").glob("*.png"))
LABELS = ["red star", "yellow star", "blue cross", "green ring", "orange square", "purple triangle"]
ENSEMBLE = ["a photo of a {}.", "a {}.", "a drawing of a {}.", "a picture of a {}.", "{}"]


def _ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def zero_shot_bench(n: int = 20) -> dict[str, float]:
    """Ratios (bigger = ours faster), medians over `n` repeats.

    cache_speedup: the same labels asked twice about a new picture: first call (text encoder
    runs) / second call (text embeddings from the cache). Measured with the 5-template ensemble
    of 6 labels (30 sentences), the tab's "Ensemble" preset.
    vs_transformers_speedup: 20 queries (pictures) with the same 6 labels and one template:
    transformers' zero-shot pipeline (re-encodes the labels each call) / ours (warm caches for
    the labels, fresh pictures).
    """
    import torch
    from PIL import Image
    from transformers import pipeline as hf_pipeline

    from visionlab.models import load_model
    from visionlab.pipelines import zero_shot as zs
    from visionlab.toy.clip_captions import make_captioned

    ours = zs.ZeroShotPipeline(load_model("shapes-clip-tiny"))
    folder = str(ours.loaded.spec.local_dir)
    theirs = hf_pipeline("zero-shot-image-classification", model=folder, device="cpu")
    pictures = [Image.fromarray(make_captioned(3, 50_000 + i)[0].image) for i in range(max(n, 20) * 3)]
    template = "a photo of a {}."

    def ask(picture, templates):  # the tab's own call: through the shared text and picture caches
        return zs.zero_shot(picture, LABELS, templates, "shapes-clip-tiny")

    first, second = [], []
    for i in range(n):  # a fresh picture and empty caches each round: only the text cache differs
        zs.TEXT_CACHE.clear()
        zs.IMAGE_CACHE.clear()
        first.append(_ms(lambda: ask(pictures[2 * i], ENSEMBLE)))
        second.append(_ms(lambda: ask(pictures[2 * i + 1], ENSEMBLE)))

    queries = pictures[:20]
    with torch.inference_mode():
        theirs(queries[0], candidate_labels=LABELS, hypothesis_template=template)  # warm
    ask(queries[0], [template])
    t_ours, t_theirs = [], []
    for _ in range(max(1, n // 4)):
        zs.IMAGE_CACHE.clear()  # the pictures are new to us each round; the labels are cached
        t_ours.append(_ms(lambda: [ask(q, [template]) for q in queries]))
        t_theirs.append(_ms(lambda: [theirs(q, candidate_labels=LABELS, hypothesis_template=template)
                                     for q in queries]))
    a, b = statistics.median(first), statistics.median(second)
    c, d = statistics.median(t_theirs), statistics.median(t_ours)
    agree = sum(ask(q, [template]).ranked[0].label ==
                theirs(q, candidate_labels=LABELS, hypothesis_template=template)[0]["label"] for q in queries)
    return {"zero_shot_first_call_ms": a, "zero_shot_second_call_ms": b, "zero_shot_cache_speedup": a / b,
            "zero_shot_20_queries_ours_ms": d, "zero_shot_20_queries_transformers_ms": c,
            "zero_shot_vs_transformers_speedup": c / d, "zero_shot_top1_agreement_of_20": float(agree)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    rows = zero_shot_bench(args.calls)
    width = max(map(len, rows))
    for k, v in rows.items():
        print(f"{k:<{width}}  {v:>10.3f}")


if __name__ == "__main__":
    main()
