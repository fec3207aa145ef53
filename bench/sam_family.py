"""Segment Anything on a CPU: a new picture's encoder and a click, per model, side by side in one run.

    python -m bench.sam_family                         # 2 threads, every transformers SAM-family model
    python -m bench.sam_family --models edgetam --variants float32,channels-last,int8-linear

The reference is segment-anything's `SamPredictor.set_image` with ViT-B (random weights from
`visionlab.models.sam.build_sam`) on the same 1024-px picture. The others are random-weight
checkpoints of the registry's real configs (`bench.real_size.SAM_FAMILY`) written under their
real repo ids into a temporary Hugging Face cache and loaded offline by the app's own loader; they
run through the pipeline's boundary functions (`encode_picture`, `decode_prompt`). Times are the
best of a few runs (the machine is shared); ratios are what counts.

Variants of a model (CPU speed-ups): "channels-last" (memory layout of the convolutions),
"fused+channels-last" (EdgeTAM: also RepViT's conv + batch-norm pairs folded, what the app does on a
CPU, see `sam_transformers.for_cpu`) and "int8-linear" (dynamic int8 quantisation of the Linear
layers). The app loads float32 weights: in the bench, "float32" is the model as transformers builds
it, before the app's CPU preparation. Each is compared with float32 on
the bundled example pictures: IoU of the best mask for three clicks per picture. Random weights
make that a weak check (real weights could react differently to int8): say so with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHOTO = ROOT / "examples" / "photos" / "chelsea.png"


def best_of(fn, runs: int) -> float:
    """The shortest wall time of `runs` calls of fn(), in seconds."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def picture_1024(n: int = 0):
    """The example photo with its long side at 1024 px, one pixel changed (new to every cache)."""
    import numpy as np
    from PIL import Image

    image = Image.open(PHOTO).convert("RGB")
    scale = 1024 / max(image.size)
    pixels = np.array(image.resize((round(image.width * scale), round(image.height * scale))))
    pixels[0, 0] = (n * 37) % 256, 11, 7
    return pixels


def reference_set_image(runs: int) -> float:
    """segment-anything ViT-B (random weights): SamPredictor.set_image on the 1024-px picture."""
    import torch
    from segment_anything import SamPredictor

    from visionlab.models.sam import SIZES, build_sam

    torch.manual_seed(0)
    predictor = SamPredictor(build_sam(SIZES["vit_b"]))
    picture = picture_1024()
    return best_of(lambda: predictor.set_image(picture), runs)


def write_hub_checkpoints(keys: list[str], hf_home: Path) -> None:
    from bench.real_size import write_checkpoint
    from visionlab.models import get_spec

    for key in keys:
        write_checkpoint(get_spec(key), hf_home, hf_home)


def variant(net, name: str):
    """A copy of the model for a CPU speed-up variant (float32 is the model itself)."""
    import copy

    import torch

    if name == "float32":
        return net
    if name == "fused+channels-last":  # what the app does to EdgeTAM on a CPU (sam_transformers.for_cpu)
        from visionlab.pipelines.sam_transformers import for_cpu

        prepared = copy.deepcopy(net)
        for_cpu(prepared)
        return prepared
    if name == "channels-last":
        return copy.deepcopy(net).to(memory_format=torch.channels_last)
    if name == "int8-linear":
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(net), {torch.nn.Linear}, dtype=torch.qint8)
    raise KeyError(name)


def example_masks(key: str) -> list:
    """The best mask for three clicks on each bundled example picture (scenes and photos)."""
    import numpy as np

    from demos.common import example_paths
    from visionlab.ops.images import load_image
    from visionlab.pipelines import segmentation as seg

    masks = []
    for path in example_paths(("scenes", "photos")):
        picture = np.asarray(load_image(path))
        H, W = picture.shape[:2]
        for x, y in ((W / 2, H / 2), (W / 3, H / 3), (2 * W / 3, 3 * H / 5)):
            masks.append(seg.segment(picture, [[x, y]], model=key).masks[0])
    return masks


def measure(key: str, names: list[str], runs: int) -> list[dict]:
    """Encode and click times of each variant of `key`, and its masks' IoU against float32."""
    import numpy as np

    from visionlab.pipelines import sam_transformers, segmentation as seg

    import transformers

    from visionlab.models import get_spec

    original = sam_transformers.parts
    _, processor = original(key)                    # loads through the app's loader (offline, from the cache)
    spec = get_spec(key)                            # and the same weights as transformers builds them (float32)
    net = getattr(transformers, spec.arch).from_pretrained(spec.hub_id).eval()
    rows, reference = [], None
    for name in names:
        model = variant(net, name)
        sam_transformers.parts = lambda k, _m=model: (_m, processor)             # this variant answers
        seg.EMBEDDINGS.clear()
        n = iter(range(1, 1000))
        encode = best_of(lambda: seg.encode_picture(picture_1024(next(n)), key), runs)
        embedding = seg.encode_picture(picture_1024(0), key)
        prompt = seg.parse_prompt("[[500, 380]]", None, *embedding.original_size[::-1])
        click = best_of(lambda: seg.decode_prompt(embedding, prompt), runs + 2)
        rows.append({"key": key, "variant": name, "encode_s": round(encode, 3), "click_s": round(click, 3)})
        if len(names) > 1:      # the variants' masks against float32's (the first variant)
            masks = example_masks(key)
            reference = reference or masks
            ious = [(a & b).sum() / max((a | b).sum(), 1) for a, b in zip(masks, reference)]
            rows[-1].update(mask_iou_vs_float32_mean=round(float(np.mean(ious)), 4),
                            mask_iou_vs_float32_min=round(float(np.min(ious)), 4))
    sam_transformers.parts = original
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="edgetam,sam2.1-hiera-tiny,slimsam-50")
    parser.add_argument("--variants", default="float32", help="float32,fused+channels-last,channels-last,int8-linear")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    hf_home = Path(tempfile.mkdtemp(prefix="vl-sam-family-"))
    os.environ.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1")     # before anything imports huggingface_hub
    import torch

    torch.set_num_threads(args.threads)
    keys = args.models.split(",")
    write_hub_checkpoints(keys, hf_home)
    vit_b = reference_set_image(args.runs)
    print(json.dumps({"key": "sam-vit-b (segment-anything set_image)", "encode_s": round(vit_b, 3),
                      "threads": args.threads}), flush=True)
    for key in keys:
        for row in measure(key, args.variants.split(","), args.runs):
            row["encode_speed_up_vs_vit_b"] = round(vit_b / row["encode_s"], 1)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
