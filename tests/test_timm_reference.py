"""timm models against timm's own evaluation path, on real configurations with random weights:
the picture the model sees is what timm's eval transform makes (resize by crop_pct, centre
crop, interpolation, normalisation), and the classification probabilities are the model's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.models import get_spec
from visionlab.models.loader import LoadedModel


@pytest.fixture(scope="module", params=["resnet50", "deit-small"])
def real_config(request):
    """ResNet-50 (a1_in1k: crop_pct 0.95, bicubic, ImageNet mean) and DeiT-S (crop_pct 0.875)."""
    import timm

    spec = get_spec(request.param)
    torch.manual_seed(0)
    return spec, timm.create_model(spec.hub_id, pretrained=False).eval()


def test_the_model_input_is_timms_eval_transform(real_config):
    import timm
    from timm.data import create_transform, resolve_data_config

    from visionlab.pipelines.timm_inputs import timm_inputs

    spec, net = real_config
    cfg = resolve_data_config(model=net)                               # timm's own resolution
    reference = create_transform(**cfg, is_training=False)
    assert cfg["crop_pct"] != 1.0                                      # so a dropped crop would show
    ours = timm_inputs(LoadedModel(spec, spec, net, None, 0.0))
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (210, 330, 3), dtype=np.uint8))
    assert torch.equal(ours.tensor(picture)[0], reference(picture))
    assert ours.data_config["crop_pct"] == cfg["crop_pct"] and ours.data_config["interpolation"] == cfg["interpolation"]
    assert isinstance(net, timm.models.VisionTransformer) == (spec.family == "vit")


def test_classification_probabilities_are_the_models_on_that_input(real_config):
    from timm.data import create_transform, resolve_data_config

    from visionlab.pipelines.classification import ClassificationPipeline

    spec, net = real_config
    picture = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 240, 3), dtype=np.uint8))
    result = ClassificationPipeline(LoadedModel(spec, spec, net, None, 0.0))(picture, top_k=5)
    x = create_transform(**resolve_data_config(model=net), is_training=False)(picture)[None]
    with torch.inference_mode():
        probs = net(x).softmax(-1)[0]
    top = probs.topk(5)
    assert [p.index for p in result.top_k] == top.indices.tolist()
    np.testing.assert_allclose([p.probability for p in result.top_k], top.values.numpy(), rtol=1e-5, atol=1e-7)
