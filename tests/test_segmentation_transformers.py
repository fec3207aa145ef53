"""Segment Anything through transformers (SlimSAM's SamModel, SAM 2.1's Sam2Model, EdgeTAM's
EdgeTamModel): small random-weight models of each class, written under the registry's real repo
ids into a Hugging Face cache and loaded offline by the app's own loader, give the same masks and
scores as transformers' own reference call (processor, model, post_process_masks)."""

import numpy as np
import pytest
import torch

from tests.sam_family import tiny_sam_family
from visionlab.models import get_spec, loader
from visionlab.pipelines import sam_transformers, segmentation as seg
from visionlab.toy.shapes import make_scene

KEYS = {"SamModel": "slimsam-50", "Sam2Model": "sam2.1-hiera-tiny", "EdgeTamModel": "edgetam"}


def picture(i=0, size=96):
    return make_scene(3, i, size).image[:80]          # not square: the processors' resizing and padding count


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache, VisionLab offline (as decided by its probe), nothing in memory."""
    from huggingface_hub import constants

    from visionlab.models import hub

    offline = hub.HubStatus(False, "no network")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub, "hub_status", lambda: offline)
    monkeypatch.setattr(loader, "hub_status", lambda: offline)
    for key in KEYS.values():
        _forget(key)
    seg.EMBEDDINGS.clear()
    yield tmp_path
    for key in KEYS.values():
        _forget(key)
    seg.EMBEDDINGS.clear()


@pytest.fixture(params=list(KEYS))
def hub_model(request, offline_cache):
    """(registry key, model, processor): the tiny model of one class saved where the hub would put
    the registry model's checkpoint, so the app loads it offline through its own loader."""
    arch = request.param
    model, processor = tiny_sam_family(arch)
    key = KEYS[arch]
    entry = offline_cache / ("models--" + get_spec(key).hub_id.replace("/", "--"))
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text("0" * 40)
    model.save_pretrained(entry / "snapshots" / ("0" * 40))
    processor.save_pretrained(entry / "snapshots" / ("0" * 40))
    return key, model, processor


def _forget(key):
    """Drop the model from the loader's memory and its failures (the next test writes another one)."""
    loader._unavailable.pop(key, None)
    snapshot = loader._cache.snapshot()
    loader._cache.clear()
    for k, v in snapshot.items():
        if k != key:
            loader._cache.put(k, v)


def reference(model, processor, image, points=None, labels=None, boxes=None, multimask=True, binarize=True):
    """transformers' own call, as its documentation writes it: masks (objects, K, H, W), scores (objects, K)."""
    kwargs = {}
    if points is not None:
        kwargs.update(input_points=[points], input_labels=[labels])
    if boxes is not None:
        kwargs["input_boxes"] = [boxes]
    inputs = processor(images=image, return_tensors="pt", **kwargs)
    sizes = {k: inputs.pop(k) for k in ("original_sizes", "reshaped_input_sizes") if k in inputs}
    with torch.no_grad():
        out = model(**inputs, multimask_output=multimask)
    return processor.post_process_masks(out.pred_masks, binarize=binarize, **sizes)[0], out.iou_scores[0]


def same_masks(ours, theirs):
    """Equal masks, allowing a pixel or two where a logit sits on the threshold (float rounding)."""
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == bool
    assert (ours != theirs).mean() < 2e-4, f"{(ours != theirs).sum()} pixels differ"


def test_one_click_gives_transformers_masks_and_scores(hub_model):
    key, model, processor = hub_model
    image = picture(0)
    ours = seg.segment(image, "[[30, 40]]", model=key)
    assert ours.method == "sam" and ours.model == key and ours.encoded_now
    masks, scores = reference(model, processor, image, [[[30, 40]]], [[1]])
    order = np.argsort(-scores[0].numpy(), kind="stable")
    assert ours.masks.shape == (3, 80, 96) and masks[0].any() and not masks[0].all()
    np.testing.assert_allclose(ours.scores, scores[0].numpy()[order], rtol=1e-5, atol=1e-6)
    same_masks(ours.masks, masks[0].numpy()[order])


def test_points_and_a_box_give_transformers_single_mask(hub_model):
    key, model, processor = hub_model
    image = picture(1)
    ours = seg.segment(image, "[[30, 40], [70, 20, 0]]", "[10, 10, 80, 70]", model=key)
    masks, scores = reference(model, processor, image, [[[30, 40], [70, 20]]], [[1, 0]], [[10, 10, 80, 70]],
                              multimask=False)
    assert ours.masks.shape == (1, 80, 96)
    np.testing.assert_allclose(ours.scores, scores[0].numpy(), rtol=1e-5, atol=1e-6)
    same_masks(ours.masks, masks[0].numpy())


def test_boxes_give_transformers_masks_one_each(hub_model):
    key, model, processor = hub_model
    image = picture(2)
    boxes = [[5, 5, 40, 50], [30, 20, 90, 75], [60, 2, 95, 30]]
    ours = seg.segment_boxes(image, boxes, model=key)
    masks, scores = reference(model, processor, image, boxes=boxes, multimask=False)
    np.testing.assert_allclose(ours.scores, scores[:, 0].numpy(), rtol=1e-5, atol=1e-6)
    same_masks(ours.masks, masks[:, 0].numpy())


def test_grid_logits_are_transformers_logits_point_by_point(hub_model):
    key, model, processor = hub_model
    image = picture(3)
    embedding, _ = seg.embedding_for(image, key)
    points = seg.grid_points(2, 80, 96)
    logits, iou, threshold = sam_transformers.grid_logits(embedding, points)
    assert logits.shape == (3 * len(points), 80, 96) and threshold == 0.0
    for i, (x, y) in enumerate(points):
        masks, scores = reference(model, processor, image, [[[x, y]]], [[1]], binarize=False)
        np.testing.assert_allclose(iou[3 * i:3 * i + 3].numpy(), scores[0].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(logits[3 * i:3 * i + 3].numpy(), masks[0].numpy(), rtol=1e-3, atol=1e-3)
    everything = seg.segment_everything(image, key, points_per_side=4, pred_iou_thresh=0, stability_thresh=0)
    assert len(everything.masks) >= 1 and not everything.encoded_now


def test_the_embedding_is_numpy_encoded_once_and_shared(hub_model, monkeypatch):
    key, model, _ = hub_model
    net, _ = sam_transformers.parts(key)
    calls = []
    encode = net.get_image_embeddings
    monkeypatch.setattr(net, "get_image_embeddings", lambda *a, **k: calls.append(1) or encode(*a, **k))
    image = picture(4)
    first = seg.segment(image, "[[30, 40]]", model=key)
    second = seg.segment(image.copy(), "[[30, 40], [60, 60]]", model=key)
    assert len(calls) == 1 and first.encoded_now and not second.encoded_now
    (embedding,) = [v for k, v in seg.EMBEDDINGS.snapshot().items() if k[0] == key]
    arrays = (embedding.features, *embedding.high_res)
    assert all(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in arrays)
    assert len(embedding.high_res) == (0 if key == "slimsam-50" else 2)                 # SAM 2, EdgeTAM: 3 maps
    assert seg.EMBEDDINGS.bytes == sum(a.nbytes for a in arrays)


@pytest.mark.parametrize("key", list(KEYS.values()))
def test_not_downloaded_and_offline_grabcut_answers_at_once_with_a_sentence(key, offline_cache, monkeypatch):
    import time

    def no_hub(spec):
        raise AssertionError("nothing may load a hub model that is not here while offline")

    monkeypatch.setitem(loader.LOADERS, "transformers", no_hub)
    s = make_scene(3, 5, 128)
    t0 = time.perf_counter()
    result = seg.segment(s.image, None, s.boxes[0].tolist(), model=key)
    assert time.perf_counter() - t0 < 5
    title = get_spec(key).title
    assert result.method == "grabcut" and result.masks.shape == (1, 128, 128)
    assert title in result.notice.en and "GrabCut" in result.notice.en and "not been downloaded" in result.notice.en
    assert title in result.notice.zh and "GrabCut" in result.notice.zh and "离线" in result.notice.zh
    assert seg.weights_missing(key)


def test_edgetam_on_a_cpu_runs_its_backbone_folded_and_channels_last(hub_model):
    """The app's CPU preparation of EdgeTAM (sam_transformers.for_cpu): no batch-norm left in the
    backbone, its convolutions in channels-last memory; the parity tests above show the same masks."""
    key, model, _ = hub_model
    if key != "edgetam":
        pytest.skip("EdgeTAM only")
    net, _ = sam_transformers.parts(key)
    backbone = net.vision_encoder.backbone
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in backbone.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.vision_encoder.backbone.modules())
    convs = [m for m in backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
