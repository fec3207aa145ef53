"""Zero-shot CLIP against transformers' own zero-shot-image-classification pipeline, on the real
ViT-B/32 configuration (random weights): same probabilities, whatever the learnt logit scale."""

import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.models import REGISTRY, LoadedModel, ModelSpec
from visionlab.models.registry import CLIP_MEAN, CLIP_STD
from visionlab.pipelines import zero_shot as zs


@pytest.fixture(scope="module")
def clip_b32(tmp_path_factory):
    """openai/clip-vit-base-patch32's architecture (CLIPConfig() is that checkpoint) with random
    weights, OpenAI's image processor (CLIPImageProcessor() defaults) and the bundled offline
    tokenizer (its ids fit B/32's vocabulary)."""
    from transformers import AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    folder = tmp_path_factory.mktemp("clip-b32")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(REGISTRY["shapes-clip-tiny"].local_dir / name, folder / name)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tokenizer).save_pretrained(folder)
    cfg = CLIPConfig(text_config=dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                      pad_token_id=tokenizer.pad_token_id))
    torch.manual_seed(0)
    model = CLIPModel(cfg).eval()
    spec = ModelSpec(key="test-clip-b32", task="zero-shot", library="transformers", arch="CLIPModel",
                     title="CLIP B/32 (random)", family="vit", input_size=224, mean=CLIP_MEAN, std=CLIP_STD,
                     labels="free-text", licence="mit", path=str(folder))
    return model, zs.ZeroShotPipeline(LoadedModel(spec, spec, model, None, 0.0)), folder


@pytest.mark.parametrize("scale", [14.3, 100.0, 250.0])
def test_probabilities_match_transformers_zero_shot_pipeline(clip_b32, scale):
    """transformers uses exp(logit_scale) as it is; a checkpoint whose scale is above 100 (CLIP
    clamps it only while training) must not be capped here."""
    from transformers import AutoProcessor, pipeline

    model, ours, folder = clip_b32
    with torch.no_grad():
        model.logit_scale.fill_(math.log(scale))
    processor = AutoProcessor.from_pretrained(folder)
    reference = pipeline("zero-shot-image-classification", model=model, tokenizer=processor.tokenizer,
                         image_processor=processor.image_processor, device="cpu")
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (180, 240, 3), dtype=np.uint8))
    labels = ["red star", "blue circle", "green square"]
    theirs = {r["label"]: r["score"] for r in reference(picture, candidate_labels=labels,
                                                        hypothesis_template="a photo of a {}.")}
    result = ours(picture, labels=", ".join(labels), templates="a photo of a {}.")
    assert result.logit_scale == pytest.approx(scale, rel=1e-5)
    for s in result.ranked:
        assert s.probability == pytest.approx(theirs[s.label], abs=1e-5), (s.label, scale)
        assert s.logit == pytest.approx(scale * s.cosine, rel=1e-5)
