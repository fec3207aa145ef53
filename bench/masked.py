"""Masked image modeling benchmark: a whole reconstruction call (load the picture, make the
mask, forward, panels, losses) against the model's plain forward on the same input.

    python -m bench.masked [N]        # prints the figures as JSON
"""

from __future__ import annotations

import json
import sys

from bench.timing import paired_ms


def masked_bench(n: int) -> dict[str, float]:
    """Median milliseconds over `n` paired calls, per bundled model, and the ratio call / forward.

    "call" = `MaskedPipeline.__call__` on a ShapesWorld picture at the method's default ratio;
    "forward" = the transformers model's own forward on the same preprocessed tensor (MAE:
    with its own random mask at config.mask_ratio 0.75, the same share as the call; SimMIM:
    with the same bool_masked_pos).
    """
    from visionlab.models import load_model
    from visionlab.pipelines.masked import MaskedPipeline, MaskRequest
    from visionlab.toy.shapes import make_single

    picture = make_single(3, 0, 64).image
    out: dict[str, float] = {}
    for key, name in (("shapes-mae-tiny", "mae"), ("shapes-simmim-tiny", "simmim")):
        pipe = MaskedPipeline(load_model(key))
        request = MaskRequest(seed=0)
        inputs = pipe.preprocess(picture, request=request)
        call, forward = paired_ms(lambda: pipe(picture, request=request), lambda: pipe.plain_forward(inputs), n)
        out[f"{name}_call_ms"] = round(call, 2)
        out[f"{name}_forward_ms"] = round(forward, 2)
        out[f"{name}_call_over_forward"] = round(call / forward, 2)
    return out


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    print(json.dumps(masked_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 50), indent=2))
