"""Ask-the-picture benchmarks: the tab's caption and answer calls against the raw transformers
`generate` call on the same model and the same input (CPU; medians, timed alternately).

    python -m bench.blip [--calls 10] [--real-size 3]

Ratios are ours / raw (1.0 = no overhead). The raw call is what a notebook user would write:
the processor, then `model.generate(**inputs)`, then `decode`. Ours is `visionlab.pipelines.blip`
(picture loading, the device boundary, one image-encoder pass, the decoder, per-token
probabilities and, for captions, the cross-attention pass and beam search beside greedy).

--real-size N also times random-weight BLIP models of the hub checkpoints' size (BlipConfig's
defaults: ViT-B/16 at 384 px, 12-layer BERT text modules, the 30524-token vocabulary), N calls
each, with captions and answers forced to the same 20 tokens on both sides (random weights
never stop early).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.timing import paired_ms

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "examples" / "scenes" / "scene-1.png"
QUESTION = "what colour is the star?"


def _raw_calls(model, processor, picture, question: str, max_new_tokens: int, min_new_tokens: int = 0):
    """The notebook user's calls: caption (greedy), caption (3 beams) and answer."""
    import torch

    tok = processor.tokenizer

    @torch.inference_mode()
    def caption(num_beams: int = 1):
        inputs = processor(images=picture, return_tensors="pt")
        out = model["caption"].generate(**inputs, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                                        num_beams=num_beams)
        return tok.decode(out[0], skip_special_tokens=True)

    @torch.inference_mode()
    def answer():
        inputs = processor(images=picture, text=question, return_tensors="pt")
        out = model["vqa"].generate(**inputs, max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens)
        return tok.decode(out[0], skip_special_tokens=True)

    return caption, answer


def bundled_bench(n: int = 10) -> dict[str, float]:
    """The bundled tiny BLIP through the tab's entry points (registry keys, the loader)."""
    from PIL import Image

    from visionlab.models import load_model
    from visionlab.pipelines import blip

    picture = Image.open(SCENE).convert("RGB")
    model = {"caption": load_model("shapes-blip-caption-tiny").model, "vqa": load_model("shapes-blip-vqa-tiny").model}
    processor = blip.prepared_for(load_model("shapes-blip-vqa-tiny")).processor
    raw_caption, raw_answer = _raw_calls(model, processor, picture, QUESTION, 30)
    ours_greedy = lambda: blip.caption(str(SCENE), "shapes-blip-caption-tiny", 1, 30)  # noqa: E731
    ours_caption = lambda: blip.caption(str(SCENE), "shapes-blip-caption-tiny", 3, 30)  # noqa: E731
    ours_answer = lambda: blip.ask(str(SCENE), QUESTION, "shapes-blip-vqa-tiny", 30)  # noqa: E731
    assert ours_greedy().caption == raw_caption() and ours_answer().answer == raw_answer()  # same work, same text
    a, b = paired_ms(ours_greedy, raw_caption, n)
    c, d = paired_ms(ours_caption, lambda: (raw_caption(), raw_caption(3)), n)
    e, f = paired_ms(ours_answer, raw_answer, n)
    return {"caption_greedy_ms": a, "raw_generate_greedy_ms": b, "caption_greedy_ratio": a / b,
            "caption_tab_ms": c, "raw_greedy_plus_beam3_ms": d, "caption_tab_ratio": c / d,
            "answer_ms": e, "raw_generate_answer_ms": f, "answer_ratio": e / f}


def real_size_bench(n: int = 3, tokens: int = 20) -> dict[str, float]:
    """Random-weight BLIP base models, pipelines against raw `generate`, `tokens` tokens each."""
    import numpy as np
    import torch
    from PIL import Image
    from transformers import (BlipConfig, BlipForConditionalGeneration, BlipForQuestionAnswering,
                              BlipImageProcessor, BlipProcessor)

    from visionlab.models import LoadedModel, ModelSpec
    from visionlab.models.registry import CLIP_MEAN, CLIP_STD
    from visionlab.pipelines import blip
    from visionlab.toy.blip_world import build_tokenizer

    torch.manual_seed(0)
    tok = build_tokenizer(512)
    config = BlipConfig(text_config=dict(bos_token_id=tok.bos_token_id, sep_token_id=tok.sep_token_id,
                                         eos_token_id=tok.sep_token_id, pad_token_id=0))   # the hub models' sizes
    processor = BlipProcessor(BlipImageProcessor(), tok)
    picture = Image.open(SCENE).convert("RGB")
    model = {"caption": BlipForConditionalGeneration(config).eval(), "vqa": BlipForQuestionAnswering(config).eval()}
    memo = blip.Prepared(processor, tok, 512, np.array(CLIP_MEAN, np.float32), np.array(CLIP_STD, np.float32))

    def loaded(kind: str) -> LoadedModel:
        spec = ModelSpec(key=f"blip-{kind}-random", task=kind, library="transformers", arch=type(model[kind]).__name__,
                         title=f"random BLIP {kind}", family="vit", input_size=384, mean=CLIP_MEAN, std=CLIP_STD,
                         labels="free-text", licence="none")
        return LoadedModel(spec, spec, model[kind], None, 0.0, {"blip": memo})

    cap, vqa = blip.CaptionPipeline(loaded("caption")), blip.AnswerPipeline(loaded("vqa"))
    raw_caption, raw_answer = _raw_calls(model, processor, picture, QUESTION, tokens, tokens)
    # random weights never write [SEP]: both sides run exactly `tokens` steps (min = max)
    ours_greedy = lambda: cap(picture, num_beams=1, max_new_tokens=tokens)  # noqa: E731
    ours_answer = lambda: vqa(picture, question=QUESTION, max_new_tokens=tokens)  # noqa: E731
    assert len(ours_greedy().greedy.tokens) == tokens
    a, b = paired_ms(ours_greedy, raw_caption, n)
    e, f = paired_ms(ours_answer, raw_answer, n)
    params = sum(p.numel() for p in model["caption"].parameters()) / 1e6
    return {"real_caption_params_m": params, "real_caption_greedy_ms": a, "real_raw_generate_greedy_ms": b,
            "real_caption_greedy_ratio": a / b, "real_answer_ms": e, "real_raw_generate_answer_ms": f,
            "real_answer_ratio": e / f}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--real-size", type=int, default=0, help="also time real-size random BLIPs, N calls each")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = bundled_bench(args.calls)
    if args.real_size:
        rows.update(real_size_bench(args.real_size))
    print(json.dumps({k: round(v, 3) for k, v in rows.items()}, indent=2))


if __name__ == "__main__":
    main()
