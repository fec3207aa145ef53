"""Serving a class, measured: the shared Segment Anything embedding and the memory of the
biggest model of every tab.

    python -m bench.serving sam        # second session's first click vs the first's (real-size ViT-B)
    python -m bench.serving memory     # resident memory with the largest model of each tab, vs 16 GB

Both use random weights of the real architectures (no checkpoint ships here): the sizes and
the work are the real ones, the answers are not. Each prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

CPU_SPACE_GB = 16


def sam_shared() -> dict[str, float]:
    """Two sessions click on the same example: the first pays for the image encoder, the second
    finds the embedding in the shared cache (through `segment`, the tab's own pipeline call)."""
    import torch

    weights = Path(tempfile.mkdtemp(prefix="vl-weights-"))
    os.environ["VISIONLAB_WEIGHTS"] = str(weights)     # read when the registry is imported below
    from visionlab.models.registry import get_spec
    from visionlab.models.sam import SIZES, build_sam

    torch.manual_seed(0)
    torch.save(build_sam(SIZES["vit_b"]).state_dict(), weights / get_spec("sam-vit-b").file)
    from visionlab.pipelines.segmentation import segment

    picture = str(Path(__file__).resolve().parents[1] / "examples" / "photos" / "chelsea.png")
    segment(picture, "[[10, 10]]", model="sam-vit-b")                    # load the model (not timed)
    from visionlab.pipelines.segmentation import EMBEDDINGS

    EMBEDDINGS.clear()
    t0 = time.perf_counter()
    first = segment(picture, "[[120, 80]]", model="sam-vit-b")            # student A's first click
    t1 = time.perf_counter()
    second = segment(picture, "[[60, 40]]", model="sam-vit-b")            # student B's first click
    t2 = time.perf_counter()
    assert first.encoded_now and not second.encoded_now
    return {"sam_first_click_s": t1 - t0, "sam_second_session_first_click_s": t2 - t1,
            "ratio_second_over_first": (t2 - t1) / (t1 - t0), "threads": torch.get_num_threads()}


def _largest_per_tab():
    """(tab, model, builder) for the biggest model each tab offers, built with random weights."""
    import timm
    import transformers as tf

    from visionlab.models.sam import SIZES, build_sam

    clip_l14 = tf.CLIPConfig(
        text_config=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12),
        vision_config=dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24,
                           patch_size=14, image_size=224), projection_dim=768)
    mae_large = tf.ViTMAEConfig(hidden_size=1024, intermediate_size=4096, num_attention_heads=16,
                                num_hidden_layers=24)
    return [
        ("classification / attention", "vit-base-16", lambda: timm.create_model("vit_base_patch16_224")),
        ("zero-shot", "clip-vit-l14", lambda: tf.CLIPModel(clip_l14)),
        ("masked", "mae-vit-large", lambda: tf.ViTMAEForPreTraining(mae_large)),
        ("detection", "grounding-dino-tiny", lambda: tf.GroundingDinoForObjectDetection(tf.GroundingDinoConfig())),
        ("segmentation", "sam-vit-h", lambda: build_sam(SIZES["vit_h"])),
    ]


def memory() -> dict[str, float]:
    """Resident memory after building the largest model of every tab, one after another."""
    from demos.status import resident_mb
    from visionlab.models.cache import nbytes

    import torch

    torch.set_grad_enabled(False)
    before = resident_mb()
    kept, rows = [], {}
    for tab, key, build in _largest_per_tab():
        model = build().eval()
        kept.append(model)
        rows[f"{key}_mb"] = nbytes(model) / 2**20
    after = resident_mb()
    return {**rows, "resident_before_mb": before, "resident_after_mb": after,
            "resident_gb_of_16": after / 1024, "fits_16gb_cpu_space": after / 1024 < CPU_SPACE_GB * 0.8}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    which = sys.argv[1] if len(sys.argv) > 1 else "sam"
    print(json.dumps({"bench": which, **{"sam": sam_shared, "memory": memory}[which]()}))
