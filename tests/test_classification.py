"""The classification pipeline and the bundled ShapesWorld classifiers."""

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.models import load_model
from visionlab.pipelines.classification import ClassificationPipeline, classify
from visionlab.toy.evaluate import evaluate
from visionlab.toy.shapes import SHAPES, make_single

BUNDLED = ["shapes-resnet-tiny", "shapes-vit-tiny"]


@pytest.mark.slow
@pytest.mark.parametrize("model", BUNDLED)
def test_bundled_classifier_is_accurate_on_held_out_pictures(model):
    report = evaluate(model, images=500, seed=1234)  # a stream no trainer has seen
    print(report)
    assert report["accuracy"] >= 0.97, report


@pytest.mark.parametrize("model", BUNDLED)
def test_examples_are_named_correctly(model):
    from demos.common import EXAMPLES_DIR
    for path in sorted((EXAMPLES_DIR / "shapes").glob("*.png")):
        shape = path.stem.split("-")[1]
        assert classify(str(path), model, top_k=1).top_k[0].label == shape, path.name


def test_result_is_consistent_with_a_raw_forward():
    scene = make_single(77, 0, size=64)
    loaded = load_model("shapes-resnet-tiny")
    result = ClassificationPipeline(loaded)(scene.image, top_k=6)
    probs = [p.probability for p in result.top_k]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0, abs=1e-5)
    assert {p.label for p in result.top_k} == set(SHAPES)
    # same numbers as calling the model by hand on the normalised picture
    x = torch.from_numpy(scene.image).permute(2, 0, 1).float()[None] / 255
    mean = torch.tensor(loaded.model.pretrained_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(loaded.model.pretrained_cfg["std"]).view(1, 3, 1, 1)
    with torch.inference_mode():
        raw = loaded.model((x - mean) / std).softmax(-1)[0]
    assert result.top_k[0].index == int(raw.argmax())
    assert result.top_k[0].probability == pytest.approx(float(raw.max()), abs=1e-4)
    # a 64 x 64 picture is what the model saw, unchanged up to rounding
    assert np.abs(result.model_input.astype(int) - scene.image.astype(int)).max() <= 1


def test_model_input_shows_resize_and_crop():
    img = Image.new("RGB", (300, 100), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 100, 100))   # left third blue, the rest red
    seen = classify(img, "shapes-vit-tiny").model_input
    assert seen.shape == (64, 64, 3)
    # shorter side resized to 64, then the centre 64 x 64 cut out: the blue third is cropped away
    assert (seen[..., 0] > 200).all() and (seen[..., 2] < 50).all()


def test_model_card():
    result = classify(make_single(5, 0).image, "shapes-vit-tiny")
    card = result.card
    model = load_model("shapes-vit-tiny").model
    assert card.params == sum(p.numel() for p in model.parameters())
    assert 0.01 < card.gflops < 1.0 and card.input_size == 64 and card.device == "cpu"
    assert card.architecture == "VisionTransformer" and card.num_classes == len(SHAPES)
    assert result.timings.forward_ms > 0 and result.notice is None and result.requested == "shapes-vit-tiny"
