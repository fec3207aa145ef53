"""Detection: the bundled detector's quality on held-out scenes, the clean-up, the views, OWL's path."""

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.errors import VisionLabError
from visionlab.models import load_model
from visionlab.models.loader import LoadedModel
from visionlab.models.registry import HALF, ModelSpec
from visionlab.ops.boxes import box_iou
from visionlab.ops.detection_metrics import Detections, Truth, mean_average_precision
from visionlab.pipelines.detection import (NMS_MODES, SCORE_FLOOR, GroundingDinoPipeline, NoQueries, OwlPipeline,
                                          detect, parse_queries, reference_settings, suppress)
from visionlab.pipelines.detection_views import candidates_picture, kept_picture, nms_step_picture, step_rows
from visionlab.toy.detection_task import fcos_targets, report
from visionlab.toy.shapes import SHAPES

TEST_SEED = 3   # never used in training (train 1, validation 2)


@pytest.fixture(scope="module")
def detector():
    return load_model("shapes-detector-tiny").model


def test_map_after_nms_and_the_precision_gap_without_it(detector):
    r = report(detector, scenes=200, seed=TEST_SEED, score_threshold=0.3)
    assert r["map50_after_nms"] >= 0.85, r
    assert r["boxes_per_scene_no_nms"] > 3 * r["boxes_per_scene_nms"], "NMS had little to remove"
    assert r["precision_nms"] >= 0.8 and r["precision_no_nms"] < 0.5 * r["precision_nms"], r
    assert r["recall_no_nms"] >= r["recall_nms"] >= 0.8, r


def test_trace_replays_to_exactly_the_kept_set():
    for i in range(4):
        raw = detect(f"examples/scenes/scene-{i + 1}.png")
        for mode in ("class-agnostic", "per-class"):
            kept = suppress(raw, 0.1, 0.5, mode)
            replay = [s.kept for s in kept.trace]
            assert sorted(replay) == sorted(kept.indices.tolist())
            if mode == "class-agnostic":
                assert replay == kept.indices.tolist()
            removed = {int(j) for s in kept.trace for j in s.rivals[s.suppressed]}
            assert removed.isdisjoint(replay) and removed | set(replay) == set(kept.candidates.tolist())


def test_modes_and_threshold_extremes():
    raw = detect("examples/scenes/scene-2.png")
    assert (np.diff(raw.scores) <= 0).all() and raw.boxes.shape == (len(raw.scores), 4)
    assert len(raw.scores) > 50, "a dense detector proposes many boxes"
    counts = {m: len(suppress(raw, 0.2, 0.5, m).indices) for m in NMS_MODES}
    assert counts["none"] > counts["per-class"] >= counts["class-agnostic"] > 0
    nothing = suppress(raw, 1.0, 0.5, "per-class")
    assert len(nothing.indices) == 0 and nothing.trace == []
    assert "No box scores above the threshold" in kept_picture(raw, nothing)[1].en
    everything = suppress(raw, 0.0, 1.0, "per-class")          # IoU > 1 never happens: nothing removed
    assert len(everything.indices) == len(raw.scores)
    one_per_class = suppress(raw, 0.0, 0.0, "per-class")       # any overlap removes
    kept_boxes = raw.boxes[one_per_class.indices]
    same = raw.labels[one_per_class.indices][:, None] == raw.labels[one_per_class.indices][None]
    overlap = np.nan_to_num(box_iou(kept_boxes, kept_boxes)) > 0
    np.fill_diagonal(overlap, False)
    assert not (overlap & same).any()
    soft = suppress(raw, 0.2, 0.5, "soft-nms gaussian")
    assert (soft.scores >= 0.2).all() and (np.diff(soft.scores) <= 0).all()
    assert (soft.scores <= raw.scores[soft.indices] + 1e-6).all()
    with pytest.raises(VisionLabError, match="not an NMS mode"):
        suppress(raw, 0.2, 0.5, "sometimes")


def test_kept_boxes_as_json_are_in_picture_pixels():
    raw = detect("examples/scenes/scene-1.png")
    kept = suppress(raw, 0.3, 0.5, "per-class")
    boxes = kept.as_json(raw)
    assert boxes and set(boxes[0]) == {"box", "score", "label"}
    H, W = raw.image.shape[:2]
    for b in boxes:
        x0, y0, x1, y1 = b["box"]
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H and b["label"] in SHAPES


@pytest.mark.parametrize("mode,size", [("RGBA", (90, 70)), ("L", (64, 64)), ("I;16", (50, 80)),
                                       ("RGB", (1, 1)), ("RGB", (3000, 2000))])
def test_any_picture_mode_and_size(mode, size):
    img = Image.new(mode, size, 200 if mode in ("L", "I;16") else None)
    raw = detect(img)
    H, W = raw.image.shape[:2]
    assert raw.image.ndim == 3 and max(H, W) <= 2048
    assert (raw.boxes >= 0).all() and (raw.boxes[:, [0, 2]] <= W).all() and (raw.boxes[:, [1, 3]] <= H).all()


def test_views_draw_every_step():
    raw = detect("examples/scenes/scene-3.png")
    kept = suppress(raw, 0.2, 0.5, "per-class")
    before, caption = candidates_picture(raw, kept)
    assert before.shape == (640, 640, 3) and f"{len(kept.candidates)} candidate" in caption.en
    for step in range(len(kept.trace) + 1):
        picture, caption = nms_step_picture(raw, kept, step, 0.5)
        assert picture.shape == before.shape and f"Step {step} of {len(kept.trace)}" in caption.en
    assert "Done" in caption.en and "完成" in caption.zh
    rows = step_rows(raw, kept, 1)
    assert len(rows) == len(kept.trace[0].rivals) and {r[-1] for r in rows} <= {"removed", "stays"}


def test_fcos_targets_pick_cells_near_the_centre():
    points = (torch.stack(torch.meshgrid(torch.arange(4), torch.arange(4), indexing="xy"), -1)
              .reshape(-1, 2).float() + 0.5) * 8                       # 4 x 4 cells of 8 px
    boxes = torch.tensor([[[0.0, 0.0, 16.0, 16.0], [0, 0, 0, 0]]])
    labels = torch.tensor([[2, -1]])
    matched, ltrb = fcos_targets(points, boxes, labels, stride=8, centre_radius=1.5)
    assert matched.reshape(4, 4)[:2, :2].eq(0).all() and matched.reshape(4, 4)[2:].eq(-1).all()
    assert ltrb[0, 0].tolist() == [4.0, 4.0, 12.0, 12.0]


def test_parse_queries():
    assert parse_queries(" cat, dog\ncat ,, ") == ["cat", "dog"]
    assert parse_queries("猫，狗、杯子; Cat；cat") == ["猫", "狗", "杯子", "Cat"]
    assert parse_queries(None) == []


def _clip_tokenizer():
    """An offline CLIP tokenizer: one token per letter, so any lower-case word can be typed."""
    from transformers import CLIPTokenizer

    vocab = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    return CLIPTokenizer(vocab=vocab, merges=[], bos_token="<|startoftext|>", eos_token="<|endoftext|>",
                         pad_token="!", model_max_length=16), len(vocab)


def _loaded(folder, model, arch: str, key: str) -> LoadedModel:
    spec = ModelSpec(key=key, task="detection", library="transformers", arch=arch, title=key, family="vit",
                     input_size=64, mean=HALF, std=HALF, labels="text queries", licence="mit", path=str(folder))
    return LoadedModel(spec, spec, model, None, 0.0)


def _owl(tmp_path_factory, v2: bool, real_size: bool = False) -> LoadedModel:
    """OWL-ViT or OWLv2 from a config (random weights) with an offline tokenizer, saved and loaded
    back the way the app loads real ones. real_size: OWL-ViT B/32 as google/owlvit-base-patch32
    (OwlViTConfig() is that checkpoint; 768 px, 576 patches)."""
    from transformers import (Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor, Owlv2Processor,
                              OwlViTConfig, OwlViTForObjectDetection, OwlViTImageProcessor, OwlViTProcessor)

    tok, vocab = _clip_tokenizer()
    Config, Model, ImageProcessor, Processor = ((Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor,
                                                 Owlv2Processor) if v2 else
                                                (OwlViTConfig, OwlViTForObjectDetection, OwlViTImageProcessor,
                                                 OwlViTProcessor))
    text = dict(vocab_size=vocab, max_position_embeddings=16, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    if real_size:
        cfg, side = Config(text_config=text), 768
    else:
        small = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2)
        cfg, side = Config(text_config={**text, **small}, vision_config=dict(image_size=64, patch_size=16, **small),
                           projection_dim=32), 64
    folder = tmp_path_factory.mktemp(f"owl-{'v2' if v2 else 'vit'}-{side}")
    torch.manual_seed(0)
    model = Model(cfg).eval()
    size = {"height": side, "width": side}
    images = ImageProcessor(size=size) if v2 else ImageProcessor(size=size, crop_size=size)
    Processor(image_processor=images, tokenizer=tok).save_pretrained(folder)
    if not real_size:                       # the small ones also go through the weights' round trip
        model.save_pretrained(folder)
        model = Model.from_pretrained(folder).eval()
    return _loaded(folder, model, Model.__name__, f"test-{folder.name}")


def _reference_owl(loaded: LoadedModel, picture: Image.Image, queries: list[str], threshold: float):
    """transformers' own path: the processor, the model, post_process_grounded_object_detection
    with the picture's (height, width). Returns (boxes, scores, label names), best first."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(loaded.spec.local_dir)
    inputs = processor(text=[queries], images=picture, return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model(**inputs)
    res = processor.post_process_grounded_object_detection(out, threshold=threshold, text_labels=[queries],
                                                           target_sizes=[(picture.height, picture.width)])[0]
    order = res["scores"].argsort(descending=True, stable=True)
    return res["boxes"][order].numpy(), res["scores"][order].numpy(), [res["text_labels"][i] for i in order]


def _assert_same_detections(raw, boxes, scores, labels, W, H):
    """Ours (the candidates above the reference's threshold) against the reference's, number for
    number. Our boxes are clipped to the picture, so the reference's are clipped for the
    comparison (a bound check alone would pass whatever the scaling, since clipping comes first)."""
    n = len(scores)
    assert n > 0
    np.testing.assert_allclose(raw.scores[:n], scores, atol=1e-5)
    assert len(raw.scores) == n or raw.scores[n] <= scores.min()
    np.testing.assert_allclose(raw.boxes[:n], boxes.clip(0, [W, H, W, H]), atol=1e-3)
    assert [raw.label_names[i] for i in raw.labels[:n]] == labels


@pytest.fixture(scope="module")
def tiny_owl(tmp_path_factory):
    return _owl(tmp_path_factory, v2=False)


@pytest.fixture(scope="module")
def tiny_owlv2(tmp_path_factory):
    return _owl(tmp_path_factory, v2=True)


@pytest.mark.parametrize("size", [(120, 60), (50, 90)])
def test_owl_vit_matches_transformers_post_processing(tiny_owl, size):
    pipeline = OwlPipeline(tiny_owl)
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    raw = pipeline(picture, queries="cat, dog, cat")
    assert raw.label_names == ("cat", "dog") and len(raw.scores) <= 16   # one box per 16-px patch of 64 px
    _assert_same_detections(raw, *_reference_owl(tiny_owl, picture, ["cat", "dog"], SCORE_FLOOR), *size)
    with pytest.raises(NoQueries, match="Type what to look for"):
        pipeline(Image.new("RGB", (64, 64)), queries=" , ")


@pytest.mark.parametrize("size", [(200, 100), (70, 130)])
def test_owlv2_matches_transformers_post_processing_on_its_padded_square(tiny_owlv2, size):
    """OWLv2 pads the picture to a square at the bottom and right, so its boxes are fractions of
    max(H, W) on both axes; the real constructor decides that from the model class."""
    pipeline = OwlPipeline(tiny_owlv2)
    picture = Image.fromarray(np.random.default_rng(1).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    raw = pipeline(picture, queries="cat, red cup")
    _assert_same_detections(raw, *_reference_owl(tiny_owlv2, picture, ["cat", "red cup"], SCORE_FLOOR), *size)


@pytest.mark.slow
def test_owl_vit_b32_real_configuration_matches_transformers(tmp_path_factory):
    loaded = _owl(tmp_path_factory, v2=False, real_size=True)
    picture = Image.fromarray(np.random.default_rng(2).integers(0, 255, (300, 500, 3), dtype=np.uint8))
    raw = OwlPipeline(loaded)(picture, queries="cat, dog")
    _assert_same_detections(raw, *_reference_owl(loaded, picture, ["cat", "dog"], SCORE_FLOOR), 500, 300)


@pytest.fixture(scope="module")
def tiny_grounding_dino(tmp_path_factory):
    """A tiny Grounding DINO (Swin + BERT from configs, random weights, a 12-word vocabulary)."""
    from transformers import (BertConfig, BertTokenizer, GroundingDinoConfig, GroundingDinoForObjectDetection,
                              GroundingDinoImageProcessor, GroundingDinoProcessor, SwinConfig)

    folder = tmp_path_factory.mktemp("tiny-grounding-dino")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "cat", "dog", "red", "cup", "a", "star"]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    cfg = GroundingDinoConfig(
        backbone_config=SwinConfig(image_size=64, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1],
                                   num_heads=[1, 1, 1, 1], window_size=4, out_features=["stage2", "stage3", "stage4"]),
        text_config=BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=37, max_position_embeddings=64),
        d_model=32, encoder_layers=1, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=20, num_feature_levels=3, encoder_n_points=2,
        decoder_n_points=2, max_text_len=32, use_timm_backbone=False, backbone=None, use_pretrained_backbone=False)
    torch.manual_seed(0)
    GroundingDinoForObjectDetection(cfg).save_pretrained(folder)
    GroundingDinoProcessor(image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 64}),
                           tokenizer=BertTokenizer(str(folder / "vocab.txt"))).save_pretrained(folder)
    spec = ModelSpec(key="tiny-gd", task="detection", library="transformers", arch="GroundingDinoForObjectDetection",
                     title="tiny Grounding DINO", family="vit", input_size=64, mean=HALF, std=HALF,
                     labels="text queries", licence="mit", path=str(folder))
    return LoadedModel(spec, spec, GroundingDinoForObjectDetection.from_pretrained(folder).eval(), None, 0.0)


def _reference_grounding_dino(loaded: LoadedModel, picture: Image.Image, text: str, threshold: float,
                              text_threshold: float):
    """transformers' own path: processor, model, post_process_grounded_object_detection."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(loaded.spec.local_dir)
    inputs = processor(images=picture, text=text, return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model(**inputs)
    res = processor.post_process_grounded_object_detection(out, inputs["input_ids"], threshold=threshold,
                                                           text_threshold=text_threshold,
                                                           target_sizes=[(picture.height, picture.width)])[0]
    order = res["scores"].argsort(descending=True, stable=True)
    return res["boxes"][order].numpy(), res["scores"][order].numpy(), [res["text_labels"][i] for i in order]


@pytest.mark.parametrize("text_threshold", [None, 0.9])
@pytest.mark.parametrize("size", [(100, 60), (60, 100)])
def test_grounding_dino_matches_transformers_post_processing(tiny_grounding_dino, size, text_threshold):
    """A box's score is its best token over the whole prompt and its label the words above the
    text threshold, as transformers does (a per-query maximum scored up to 0.4 lower)."""
    pipeline = GroundingDinoPipeline(tiny_grounding_dino)
    picture = Image.fromarray(np.random.default_rng(3).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    raw = pipeline(picture, queries="cat, red cup", text_threshold=text_threshold)
    assert 0 < len(raw.scores) <= 20 and "DETR" in str(raw.note)                  # 20 object queries
    reference = _reference_grounding_dino(tiny_grounding_dino, picture, "cat. red cup.", SCORE_FLOOR,
                                          0.25 if text_threshold is None else text_threshold)
    _assert_same_detections(raw, *reference, *size)
    assert len(set(reference[2])) > 1                                              # labels are really compared
    with pytest.raises(NoQueries):
        pipeline(Image.new("RGB", (64, 64)), queries="")


def test_reference_settings_are_the_post_processing_defaults():
    import inspect

    from transformers import GroundingDinoProcessor, Owlv2Processor, OwlViTProcessor

    def default(cls, name):
        return inspect.signature(cls.post_process_grounded_object_detection).parameters[name].default

    gd = reference_settings("grounding-dino-tiny")
    assert (gd.score_threshold, gd.text_threshold, gd.mode) == (default(GroundingDinoProcessor, "threshold"),
                                                                 default(GroundingDinoProcessor, "text_threshold"),
                                                                 "none")
    for key, cls in (("owlv2-base", Owlv2Processor), ("owlvit-base-32", OwlViTProcessor)):
        s = reference_settings(key)
        assert (s.score_threshold, s.mode) == (default(cls, "threshold"), "none")


def test_detections_dataclass_round_trip_through_metrics():
    d = Detections(np.array([[0, 0, 5, 5]], np.float32), np.array([0.5], np.float32), np.array([0]))
    t = Truth(np.array([[0, 0, 5, 5]], np.float32), np.array([0]))
    assert mean_average_precision([d], [t], 1)[0] == 1.0


def test_player_walks_every_step_and_next_stops_at_the_end():
    from demos import detection as tab

    raw = detect("examples/scenes/scene-1.png")
    steps = len(suppress(raw, 0.3, 0.5, "per-class").trace)
    step, *_, timer = tab.play_start(raw, 0.3, 0.5, "Per-class NMS", 0)   # the page's timer paces the rest
    walked = [step]
    while timer.active:
        step, *_, timer = tab.play_tick(raw, 0.3, 0.5, "Per-class NMS", step)
        walked.append(step)
    assert walked == list(range(steps + 1))
    assert tab.play_start(raw, 0.3, 0.5, "Per-class NMS", steps)[0] == 0   # at the end: replay
    assert tab.next_view(raw, 0.3, 0.5, "Per-class NMS", steps)[0] == steps
    picture, caption, rows = tab.step_view(raw, 0.3, 0.5, "Soft-NMS (linear)", 1)
    assert picture is None and "greedy NMS" in caption.en
