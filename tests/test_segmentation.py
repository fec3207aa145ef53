"""Segment Anything: a tiny SAM through the real predictor path, the embedding cache, GrabCut."""

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.errors import VisionLabError
from visionlab.text import Text
from visionlab.models import get_spec
from visionlab.models.sam import SIZES, build_sam, expected_sha256_prefix, load_sam
from visionlab.pipelines import segmentation as seg
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
    monkeypatch.setattr(seg, "_sam_predictor", lambda model: SamPredictor(sam))
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
    result = seg.segment_everything(scene().image, points_per_side=4, min_score=-1.0)
    assert len(result.masks) >= 1 and len(tiny_sam) == 1 and len(result.prompt.points) == 16
    assert masks_picture(result).shape == (640, 640, 3)


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
