"""Segment Anything: a tiny SAM through the real predictor path, the embedding cache, GrabCut."""

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.errors import VisionLabError
from visionlab.text import Text
from visionlab.models import get_spec
from visionlab.models.sam import SIZES, build_sam, expected_sha256_prefix, load_sam
from visionlab.pipelines import sam_official, segmentation as seg
from visionlab.pipelines.segmentation import BadPrompt, grabcut, parse_prompt
from visionlab.pipelines.segmentation_views import display_scale, masks_picture, prompt_picture
from visionlab.toy.shapes import make_scene

TEST_SEED = 3


@pytest.fixture
def tiny_sam(monkeypatch):
    """A tiny SAM (segment_anything's own classes, random weights) that counts encoder calls."""
    from segment_anything import SamPredictor

    torch.manual_seed(0)
    sam = build_sam(SIZES["tiny"])
    calls = []
    encode = sam.image_encoder.forward
    sam.image_encoder.forward = lambda x: calls.append(x.shape) or encode(x)
    monkeypatch.setattr(seg, "sam_unavailable", lambda model, download=None: None)
    monkeypatch.setattr(sam_official, "_sam_predictor", lambda model: SamPredictor(sam))
    seg.EMBEDDINGS.clear()
    return calls


def scene(i=0, size=128):
    return make_scene(TEST_SEED, i, size)


def test_second_click_does_not_run_the_image_encoder_again(tiny_sam):
    picture = scene().image
    first = seg.segment(picture, "[[40, 40]]")
    assert len(tiny_sam) == 1 and first.encoded_now and first.encoder_ms > 0
    assert first.masks.shape == (3, 128, 128) and (np.diff(first.scores) <= 0).all()   # 3 guesses, best first
    second = seg.segment(picture, "[[40, 40], [10, 10, 0]]")
    assert len(tiny_sam) == 1 and not second.encoded_now and second.encoder_ms == first.encoder_ms
    assert second.masks.shape == (1, 128, 128)             # a refined prompt: one answer
    seg.segment(picture, None, "[10, 10, 60, 60]")
    assert len(tiny_sam) == 1


def test_embeddings_are_shared_by_picture_and_kept_apart_by_model(tiny_sam):
    a, b = scene(0).image, scene(1).image
    seg.segment(a, "[[40, 40]]")
    seg.segment(b, "[[40, 40]]")
    assert len(tiny_sam) == 2
    seg.segment(a.copy(), "[[50, 50]]")                     # the same pixels, whoever sends them
    assert len(tiny_sam) == 2
    seg.segment(a, "[[50, 50]]", model="sam-vit-l")         # another model: its own embedding
    assert len(tiny_sam) == 3
    assert {k[0] for k in seg.EMBEDDINGS.keys()} == {"sam-vit-b", "sam-vit-l"}


def test_many_students_on_one_picture_encode_it_once(tiny_sam):
    from concurrent.futures import ThreadPoolExecutor

    picture = scene(4).image
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: seg.segment(picture, f"[[{20 + i}, 40]]"), range(8)))
    assert len(tiny_sam) == 1 and sum(r.encoded_now for r in results) == 1


def test_the_embedding_cache_is_bounded_by_bytes(tiny_sam, monkeypatch):
    from visionlab.models.cache import LRUCache

    one = seg.encode_picture(scene(0).image, "sam-vit-b").features.nbytes
    monkeypatch.setattr(seg, "EMBEDDINGS", LRUCache(max_bytes=int(2.5 * one)))
    for i in range(5):
        seg.segment(scene(i).image, "[[40, 40]]")
    assert len(seg.EMBEDDINGS) == 2 and seg.EMBEDDINGS.bytes <= 2.5 * one


def test_boxes_from_the_detector_become_one_mask_each(tiny_sam):
    s = scene(2)
    boxes = [{"box": b.tolist(), "score": 0.9, "label": f"thing {i}"} for i, b in enumerate(s.boxes)]
    result = seg.segment_boxes(s.image, boxes)
    assert result.masks.shape == (len(s.boxes), 128, 128) and result.names[0] == "thing 0"
    with pytest.raises(BadPrompt, match="no boxes"):
        seg.segment_boxes(s.image, "[]")


def test_segment_everything(tiny_sam):
    result = seg.segment_everything(scene().image, points_per_side=4, pred_iou_thresh=0, stability_thresh=0)
    assert len(result.masks) >= 1 and len(tiny_sam) == 1 and len(result.prompt.points) == 16
    assert masks_picture(result).shape == (640, 640, 3)


def test_everything_defaults_are_the_automatic_mask_generators():
    import inspect

    from segment_anything import SamAutomaticMaskGenerator

    ref = {k: p.default for k, p in inspect.signature(SamAutomaticMaskGenerator.__init__).parameters.items()}
    ours = inspect.signature(seg.segment_everything.__wrapped__ if hasattr(seg.segment_everything, "__wrapped__")
                             else seg.segment_everything).parameters
    assert ours["points_per_side"].default == ref["points_per_side"] == 32
    assert ours["pred_iou_thresh"].default == ref["pred_iou_thresh"] == 0.88
    assert ours["stability_thresh"].default == ref["stability_score_thresh"] == 0.95
    assert ours["box_nms_thresh"].default == ref["box_nms_thresh"] == 0.7
    assert seg.STABILITY_OFFSET == ref["stability_score_offset"]
    grid = inspect.signature(seg.decode_grid).parameters
    assert [grid[k].default for k in ("points_per_side", "pred_iou_thresh", "stability_thresh", "box_nms_thresh")] \
        == [32, 0.88, 0.95, 0.7]


@pytest.fixture
def lively_sam(monkeypatch):
    """A tiny SAM whose prompt encoder and mask decoder weights are scaled up, so random weights
    give masks that differ from point to point (plain random weights give one blob everywhere)."""
    from segment_anything import SamPredictor

    torch.manual_seed(0)
    sam = build_sam(SIZES["tiny"])
    with torch.no_grad():
        for p in (*sam.mask_decoder.parameters(), *sam.prompt_encoder.parameters()):
            p.mul_(3.0)
    monkeypatch.setattr(seg, "sam_unavailable", lambda model, download=None: None)
    monkeypatch.setattr(sam_official, "_sam_predictor", lambda model: SamPredictor(sam))
    seg.EMBEDDINGS.clear()
    return sam


def test_segment_everything_matches_sam_automatic_mask_generator(lively_sam):
    """segment-anything's SamAutomaticMaskGenerator (one crop, no small-region clean-up) against
    ours: the same masks with the same predicted IoUs, with a predicted-IoU threshold equal to one
    mask's score (so '>' and '>=' differ), alone and with a stability threshold, each removing
    some masks and keeping others."""
    from segment_anything import SamAutomaticMaskGenerator

    picture = scene(0).image
    loose = seg.segment_everything(picture, points_per_side=8, pred_iou_thresh=0, stability_thresh=0)
    at_one_score = float(np.sort(loose.scores)[len(loose.scores) // 2])
    for iou_thresh, stability_thresh in ((at_one_score, 0.0), (at_one_score, 0.001)):
        ours = seg.segment_everything(picture, points_per_side=8, pred_iou_thresh=iou_thresh,
                                      stability_thresh=stability_thresh)
        assert 0 < len(ours.masks) < len(loose.masks)
        generator = SamAutomaticMaskGenerator(lively_sam, points_per_side=8, pred_iou_thresh=iou_thresh,
                                              stability_score_thresh=stability_thresh)
        theirs = sorted(generator.generate(picture), key=lambda a: -a["predicted_iou"])
        order = np.argsort(-ours.scores, kind="stable")
        assert len(theirs) == len(ours.masks), (iou_thresh, stability_thresh)
        np.testing.assert_allclose(ours.scores[order], [a["predicted_iou"] for a in theirs], rtol=1e-6)
        for mine, their in zip(ours.masks[order], theirs):
            assert np.array_equal(mine, their["segmentation"])
    np.testing.assert_allclose(ours.prompt.points, generator.point_grids[0] * [128, 128], atol=1e-4)


def test_mask_boxes_are_inclusive_like_segment_anything():
    from segment_anything.utils.amg import batched_mask_to_box

    masks = torch.from_numpy(np.random.default_rng(0).random((6, 20, 30)) > 0.97)
    masks[0] = False                                                   # empty
    masks[1] = False
    masks[1, 4, 7] = True                                              # one pixel: [7, 4, 7, 4]
    assert torch.equal(seg.mask_boxes(masks), batched_mask_to_box(masks))
    assert seg.mask_boxes(masks)[1].tolist() == [7, 4, 7, 4]


def test_stability_score_is_segment_anythings():
    from segment_anything.utils.amg import calculate_stability_score

    logits = torch.randn(5, 32, 32) * 3
    assert torch.allclose(seg.stability_score(logits, 1.0, 0.0), calculate_stability_score(logits, 0.0, 1.0))


@pytest.mark.parametrize("arch", ["vit_b", "vit_l", "vit_h"])
def test_sam_sizes_build_what_segment_anything_builds(arch):
    """Every parameter and buffer, by name and shape, against segment-anything's own builder (on
    the meta device: no memory, no time). Windowed and global attention layers differ in their
    relative-position tables, so a wrong global_attn list fails here, as it would on the checkpoint."""
    from segment_anything import sam_model_registry

    with torch.device("meta"):
        theirs = sam_model_registry[arch]()
        ours = build_sam(SIZES[arch])
    shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert SIZES[arch].global_attn == tuple(b for b, blk in enumerate(theirs.image_encoder.blocks)
                                            if blk.window_size == 0)


def test_grabcut_box_prompt_on_held_out_scenes():
    ious = []
    for i in range(200):
        s = scene(i)
        mask = grabcut(s.image, parse_prompt(None, s.boxes[0].tolist(), 128, 128))
        ious.append((mask & s.masks[0]).sum() / (mask | s.masks[0]).sum())
    assert np.mean(ious) >= 0.8, f"mean IoU {np.mean(ious):.3f}"


def test_grabcut_answers_offline_with_a_notice(monkeypatch):
    monkeypatch.setattr(seg, "sam_unavailable", lambda model, download=None: Text("SAM ViT-B needs its checkpoint.", "x"))
    s = scene(5)
    result = seg.segment(s.image, None, s.boxes[0].tolist())
    assert result.method == "grabcut" and "GrabCut" in str(result.notice) and result.masks.shape == (1, 128, 128)
    from_points = seg.segment(s.image, [[float(v) for v in np.argwhere(s.masks[0])[0][::-1]]])
    assert from_points.masks.any()
    with pytest.raises(VisionLabError, match="needs SAM"):
        seg.segment_everything(s.image)


@pytest.mark.parametrize("points,box,message", [
    ("[[1000, 10]]", None, "outside the picture"),
    ("[[10, -1]]", None, "outside the picture"),
    ("[[10, 10", None, "could not be read"),
    ('[["a", 1]]', None, "must be \\[x, y\\]"),
    ("[[10, 10, 5]]", None, "must be 1"),
    (None, "[10, 10, 10, 50]", "no area"),
    (None, "[1, 2, 3]", "four numbers"),
    (None, None, "Click on the object"),
    ("", "", "Click on the object"),
])
def test_bad_prompts_get_sentences(points, box, message, monkeypatch):
    monkeypatch.setattr(seg, "sam_unavailable", lambda model, download=None: Text("offline.", "离线。"))
    with pytest.raises(BadPrompt, match=message):
        seg.segment(scene().image, points, box)


@pytest.mark.parametrize("mode,size", [("RGBA", (90, 70)), ("L", (64, 64)), ("I;16", (50, 80)), ("RGB", (1, 1)),
                                       ("RGB", (3000, 2000))])
def test_any_picture_mode_and_size(mode, size, tiny_sam):
    img = Image.new(mode, size, 100 if mode in ("L", "I;16") else None)
    result = seg.segment(img, "[[0, 0]]")
    H, W = result.image.shape[:2]
    assert result.masks.shape[1:] == (H, W) and max(H, W) <= 2048


def test_prompt_picture_maps_clicks_back_to_picture_pixels():
    picture = np.zeros((64, 128, 3), np.uint8)
    scale = display_scale(64, 128)
    assert scale == 5.0
    shown = prompt_picture(picture, parse_prompt([[10, 20]], None, 128, 64))
    assert shown.shape == (320, 640, 3)
    assert (shown[int(20 * scale), int(10 * scale)] != 0).any()      # the dot is where the click was


def test_real_size_checkpoint_round_trip(tmp_path):
    """A real-size ViT-B state dict (random weights) through the loader: same tensors back."""
    torch.manual_seed(0)
    sam = build_sam(SIZES["vit_b"])
    path = tmp_path / "sam_vit_b_01ec64.pth"
    torch.save(sam.state_dict(), path)
    loaded = load_sam(get_spec("sam-vit-b"), path)
    ours, theirs = sam.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys() and sum(v.numel() for v in ours.values()) > 90e6
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert expected_sha256_prefix("sam_vit_b_01ec64.pth") == "01ec64"


def test_missing_checkpoint_offline_says_which_file(monkeypatch, tmp_path):
    from visionlab.models import hub

    monkeypatch.setattr(hub, "hub_status", lambda: hub.HubStatus(False, "no network"))
    monkeypatch.setattr("visionlab.models.sam.checkpoint_path", lambda spec: tmp_path / spec.file)
    why = seg.sam_unavailable("sam-vit-b")
    assert "sam_vit_b_01ec64.pth" in str(why) and "weights/" in why.zh


def test_text_to_masks_keeps_the_detectors_reference_boxes_unless_told_otherwise(tiny_sam, monkeypatch):
    """Grounded-SAM as a pipeline function: the detector's boxes are kept with its reference code's
    settings (OWLv2: score above 0.1, no NMS; Grounding DINO: 0.25 with words above 0.25), each one
    a parameter; every kept box becomes one SAM mask."""
    from visionlab.pipelines import detection
    from visionlab.pipelines.base import Timings

    picture = scene(2).image
    boxes = np.array([[10, 10, 60, 60], [12, 12, 62, 62], [70, 70, 120, 120], [5, 80, 40, 120]], np.float32)
    asked = []

    def fake_detect(image, model, queries, text_threshold=None):
        asked.append((model, queries, text_threshold))
        return detection.RawDetections(picture, boxes, np.array([0.9, 0.8, 0.3, 0.05], np.float32),
                                       np.zeros(4, np.int64), ("cat",), model, model, None, Timings(0, 0))

    monkeypatch.setattr(detection, "detect", fake_detect)
    raw, kept, masks = seg.grounded_masks(picture, "cat", detector="owlv2-base")
    assert kept.indices.tolist() == [0, 1, 2] and kept.mode == "none"           # > 0.1, overlapping pair kept
    assert masks.masks.shape == (3, 128, 128) and masks.names == ("cat",) * 3
    raw, kept, masks = seg.grounded_masks(picture, "cat", detector="owlv2-base", score_threshold=0.5,
                                          iou_threshold=0.5, nms="class-agnostic")
    assert kept.indices.tolist() == [0] and len(masks.masks) == 1
    seg.grounded_masks(picture, "cat", detector="grounding-dino-tiny")
    assert asked[-1] == ("grounding-dino-tiny", "cat", 0.25)


def test_segment_everything_stops_with_a_sentence_when_its_time_is_up(tiny_sam, monkeypatch):
    from visionlab import budget

    monkeypatch.setattr(budget, "EVERYTHING_SECONDS", -1.0)   # already over: stops before the first batch
    with pytest.raises(budget.OverBudget, match="Segment everything stopped after .* 0 of 16 grid points") as caught:
        seg.segment_everything(scene().image, points_per_side=4)
    assert "全部分割" in caught.value.text.zh
