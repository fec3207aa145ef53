"""Ask the picture (BLIP): the ShapesWorld questions and captions, the pipelines against the raw
transformers calls on tiny random models loaded through the app's loader, cross-attention layout,
bad input, and the bundled tiny BLIP's quality on held-out scenes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.models import REGISTRY, LoadedModel, ModelSpec, specs_for
from visionlab.models.loader import load_spec
from visionlab.models.registry import CLIP_MEAN, CLIP_STD
from visionlab.ops.images import load_image
from visionlab.pipelines import blip
from visionlab.pipelines.blip_defaults import example_questions, never_asked, sentences_for, swapped_colours
from visionlab.toy import blip_world as w
from visionlab.toy.shapes import make_scene

ROOT = REGISTRY["shapes-clip-tiny"].local_dir.parents[1]
SCENE = ROOT / "examples" / "scenes" / "scene-1.png"
HELD_OUT = frozenset({("red", "star"), ("green", "ring")})


# ---- the ShapesWorld questions, answers and captions ----

def scenes(n: int, seed: int = 5, size: int = 96):
    return [w.things_of(make_scene(seed, i, size, w.MAX_THINGS)) for i in range(n)]


def test_every_question_has_the_answer_the_scene_gives():
    rng = np.random.default_rng(0)
    seen = Counter()
    for things in scenes(150):
        shapes, colours = Counter(t.shape for t in things), Counter(t.colour for t in things)
        for kind in w.KINDS:
            qa = w.ask(kind, things, rng)
            if qa is None:
                continue
            seen[kind] += 1
            if kind == "colour":
                (pair,) = qa.involved
                named = [t for t in things if t.pair[1] in qa.question]
                assert len(named) == 1 and named[0].pair == pair and qa.answer == pair[0]
            elif kind == "shape":
                named = [t for t in things if f" {t.pair[0]} " in f" {qa.question.rstrip('?')} "]
                assert len(named) == 1 and qa.answer == named[0].pair[1]
            elif kind == "count" and "shapes are there" in qa.question and qa.question.startswith("how many shapes"):
                assert qa.answer == str(len(things))
            elif kind == "exist":
                pair = next(iter(qa.involved))
                assert qa.answer == ("yes" if pair in {t.pair for t in things} else "no")
            elif kind == "position":
                relation = next(r for r in w.RELATIONS if r.split()[0] in qa.question)
                ref = next(t for t in things if t.pair[1] in qa.question.split()[-1])
                assert shapes[ref.shape] == 1
                fits = [t for t in things if t is not ref and w.holds(t, ref, relation, w.MARGIN)]
                assert [t.words for t in fits] == [qa.answer]
        assert sum(colours.values()) == len(things)
    assert all(seen[k] >= 40 for k in w.KINDS), seen


def test_captions_name_every_object_and_are_true_of_their_scene():
    rng = np.random.default_rng(1)
    for things in scenes(200):
        text = w.caption(things)
        assert w.names_every_object(text, things), text
        assert w.true_of(w.caption_claim(things), things)
        for _ in range(3):
            claim = w.true_claim(things, rng)
            assert w.true_of(claim, things)
            assert not w.true_of(w.false_claim(claim, things, rng, []), things)
    two = [w.Thing(3, 3, 0.3, 0.2), w.Thing(4, 4, 0.35, 0.8)]
    assert w.caption(two) == "a yellow star above a purple cross"
    assert w.caption([w.Thing(1, 5, 0.5, 0.5), w.Thing(0, 0, 0.2, 0.4), w.Thing(5, 2, 0.9, 0.1)]) == \
        "a red circle, an orange square and a blue ring"
    assert not w.names_every_object("a yellow star", two)


def test_held_out_pairs_are_never_asked_or_answered_in_training():
    from visionlab.toy.blip_task import BlipTask
    from visionlab.toy.train import load_config

    cfg = load_config(ROOT / "configs" / "shapes-blip-tiny.toml")
    task = BlipTask(cfg)
    assert len(task.held_out) == 6 and len({c for c, _ in task.held_out}) == 6 == len({s for _, s in task.held_out})
    asked = [w.ask_any(things, task.rng, task.held_out, task.weights) for things in scenes(400, seed=1)]
    asked = [qa for qa in asked if qa is not None]
    assert len(asked) > 350 and not any(qa.involved & task.held_out for qa in asked)
    for qa in asked:  # the words say it too: no question names a held-out pair with its answer
        text = f"{qa.question} {qa.answer}"
        assert not any(f"{c} {s}" in text for c, s in task.held_out), text
    must = [w.ask("colour", things, task.rng, must=task.held_out) for things in scenes(300, seed=13)]
    assert any(must) and all(qa.involved & task.held_out for qa in must if qa)


def test_trainer_stages_image_encoder_then_text_on_frozen_features(tmp_path):
    """The real config on 12 scenes: stage 1 moves the image encoder (and its probe reads held-out
    scenes), stage 2's features are the frozen encoder's own output, a text step is finite and
    touches only the text modules, and the three saved folders load in the real classes."""
    from visionlab.toy.blip_task import BlipTask, PARTS, scene_arrays
    from visionlab.toy.train import load_config

    cfg = load_config(ROOT / "configs" / "shapes-blip-tiny.toml")
    cfg["data"].update(train_scenes=12, questions_per_scene=3)
    cfg["vision"].update(steps=2, batch_size=4, probe_scenes=4)
    task = BlipTask(cfg)
    model = task.build()
    vision = model.captioner.vision_model
    before = vision.embeddings.patch_embedding.weight.detach().clone()
    index, rows = task.train_arrays()
    assert not torch.equal(before, vision.embeddings.patch_embedding.weight)           # stage 1 trained it
    assert task.vision_scores["vision_steps"] == 2 and 0 <= task.vision_scores["probe_pooled_shape"] <= 1
    assert task.frozen.shape == (12, 1 + 144, 96) and index.tolist() == list(range(12)) and rows.shape == (12, 5, 4)
    assert not any(p.requires_grad for p in vision.parameters())
    images = torch.from_numpy(scene_arrays(cfg["data"]["train_seed"], 2, 96, 8)[0])
    with torch.no_grad():
        again = vision(pixel_values=blip_task_input(task, images)).last_hidden_state
    torch.testing.assert_close(task.frozen[:2], again)
    loss = task.loss(model, (index[:6], rows[:6]))
    loss.backward()
    assert torch.isfinite(loss) and vision.embeddings.patch_embedding.weight.grad is None
    assert model.captioner.text_decoder.bert.embeddings.word_embeddings.weight.grad is not None
    assert model.answerer.text_encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    task.save(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*PARTS, "shapesworld.json"])
    from visionlab.toy.blip_eval import load_folder

    captioner, answerer, matcher, processor = load_folder(tmp_path)
    assert answerer.vision_model.embeddings.position_embedding.shape == (1, 145, 96)
    torch.testing.assert_close(answerer.text_encoder.embeddings.word_embeddings.weight,
                               matcher.text_encoder.embeddings.word_embeddings.weight)   # shared in training
    torch.testing.assert_close(captioner.vision_model.embeddings.patch_embedding.weight,
                               vision.embeddings.patch_embedding.weight)                 # the stage-1 encoder


def test_pooled_objects_average_each_objects_patches():
    from visionlab.toy.blip_task import pooled_objects

    tokens = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)   # [B, P, D]
    labels = torch.tensor([[0, 5, 5, 9], [0, 1, 0, 0]])                   # 0 = background
    means, which, centres = pooled_objects(tokens, labels)                   # a 2 x 2 grid
    assert which.tolist() == [4, 8, 0]                                      # label - 1, picture by picture
    torch.testing.assert_close(means, torch.stack([tokens[0, 1:3].mean(0), tokens[0, 3], tokens[1, 1]]))
    # (x, y): patches 1 and 2 (top right, bottom left) meet in the middle; 3 is bottom right; in the
    # second picture, patch 1 is top right (x and y differ, so swapping them fails)
    torch.testing.assert_close(centres, torch.tensor([[0.5, 0.5], [0.75, 0.75], [0.75, 0.25]]))


def test_stage1_loss_teaches_where_each_object_is():
    """`vision.where` adds that weight x the squared error of the centres read from each object's mean
    patch token (the where head) to stage 1's loss, and trains the where head."""
    from visionlab.toy.blip_task import BlipTask, pooled_objects, scene_arrays
    from visionlab.toy.train import load_config

    cfg = load_config(ROOT / "configs" / "shapes-blip-tiny.toml")
    cfg.pop("autocast", None)                                   # exact float32 sums
    images, rows, labels = (torch.from_numpy(a) for a in scene_arrays(1, 3, 96, 8))
    losses = {}
    for weight in (0.0, 10.0):
        cfg["vision"]["where"] = weight
        task = BlipTask(cfg)
        torch.manual_seed(0)
        model = task.build()
        losses[weight] = task.vision_loss(model, images, rows, labels)
    tokens = model.captioner.vision_model(pixel_values=blip_task_input(task, images)).last_hidden_state
    means, _, centres = pooled_objects(tokens[:, 1:], labels.flatten(1))
    expected = 10.0 * torch.nn.functional.mse_loss(model.where_head(means), centres)
    torch.testing.assert_close(losses[10.0] - losses[0.0], expected, rtol=1e-4, atol=1e-5)
    losses[10.0].backward()
    assert model.where_head.weight.grad.abs().sum() > 0


def blip_task_input(task, images):
    from visionlab.toy.tasks import to_model_input

    return to_model_input(images, task.mean, task.std)


def test_image_encoder_starts_from_the_shapesworld_vit_exactly():
    """timm's ViT and transformers' BlipVisionModel are the same network: mapped weights give the same
    tokens (on the ViT's own 64 px grid, so no position resizing)."""
    import timm
    from safetensors.torch import load_file
    from transformers import BlipVisionConfig, BlipVisionModel

    from visionlab.toy.blip_task import timm_vit_to_blip

    folder = REGISTRY["shapes-vit-tiny"].local_dir
    vit = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    blip_vit = BlipVisionModel(BlipVisionConfig(hidden_size=96, intermediate_size=192, num_hidden_layers=4,
                                                num_attention_heads=3, patch_size=8, image_size=64,
                                                layer_norm_eps=1e-6)).eval()
    blip_vit.load_state_dict(timm_vit_to_blip(load_file(folder / "model.safetensors"), 8), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(blip_vit(pixel_values=x).last_hidden_state, vit.forward_features(x),
                                   atol=1e-5, rtol=1e-5)
    bigger = timm_vit_to_blip(load_file(folder / "model.safetensors"), 12)
    assert bigger["embeddings.position_embedding"].shape == (1, 145, 96)


def test_offline_tokenizer_spells_unknown_words_and_keeps_blip_special_tokens():
    tok = w.build_tokenizer(40)
    ids = tok("what is left of the zebra? 猫")["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]" and "[UNK]" in pieces and "z" in pieces
    assert tok.decode(ids, skip_special_tokens=True).startswith("what is left of the zebra")
    assert tok.bos_token == "[DEC]" and tok.pad_token_id == 0 and tok.model_max_length == 40


# ---- the pipelines on tiny random BLIPs, through the app's loader ----

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Three tiny random BLIPs (32 px, 8 px patches: a 4 x 4 grid), saved like the bundled ones and
    loaded through `load_spec` as the app loads them."""
    from transformers import (BlipConfig, BlipForConditionalGeneration, BlipForImageTextRetrieval,
                              BlipForQuestionAnswering, BlipImageProcessor, BlipProcessor)

    torch.manual_seed(0)
    tok = w.build_tokenizer(24)
    config = BlipConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8, initializer_range=0.02),
        text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=24, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.sep_token_id, sep_token_id=tok.sep_token_id, pad_token_id=0),
        image_text_hidden_size=16)
    processor = BlipProcessor(BlipImageProcessor(size={"height": 32, "width": 32}), tok)
    loaded = {}
    for name, cls, task in (("caption", BlipForConditionalGeneration, "caption"),
                            ("vqa", BlipForQuestionAnswering, "vqa"), ("itm", BlipForImageTextRetrieval, "itm")):
        folder = tmp_path_factory.mktemp(name)
        model = cls(config)
        with torch.no_grad():  # sharper random attention, so that maps differ from uniform
            for p in model.parameters():
                p.mul_(3)
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
        spec = ModelSpec(key=f"folder:{folder}", task=task, library="transformers", arch=cls.__name__, title=name,
                         family="vit", input_size=32, mean=CLIP_MEAN, std=CLIP_STD, labels="shapesworld",
                         licence="mit", path=str(folder))
        model, seconds, memo = load_spec(spec)
        loaded[name] = LoadedModel(spec, spec, model, None, seconds, memo)
    return loaded


def pixels(pipe, image=SCENE) -> torch.Tensor:
    return pipe.pixel_values(load_image(image))


def test_caption_table_equals_the_raw_generate_calls(tiny):
    pipe = blip.CaptionPipeline(tiny["caption"])
    r = pipe(str(SCENE), num_beams=3, max_new_tokens=7)
    model, x = pipe.model, pixels(pipe)
    with torch.inference_mode():
        raw = model.generate(pixel_values=x, max_new_tokens=7, output_scores=True, return_dict_in_generate=True)
        beam = model.generate(pixel_values=x, max_new_tokens=7, num_beams=3, output_scores=True,
                              return_dict_in_generate=True)
    ids = raw.sequences[0, 1:].tolist()
    assert [t.token_id for t in r.greedy.tokens] == ids
    assert r.caption == pipe.prepared.tokenizer.decode(ids, skip_special_tokens=True).strip()
    chosen = [torch.softmax(s[0].float(), -1)[i].item() for s, i in zip(raw.scores, ids)]
    np.testing.assert_allclose([t.probability for t in r.greedy.tokens], chosen, rtol=1e-4)
    assert r.greedy.log_probability == pytest.approx(float(np.log(chosen).sum()), rel=1e-4)
    assert [t.token_id for t in r.beam.tokens] == beam.sequences[0, 1:].tolist()
    assert r.beam.score == pytest.approx(beam.sequences_scores[0].item(), rel=1e-4)
    # transformers ranks beams by log p / generated length (length_penalty 1)
    assert r.beam.log_probability / len(r.beam.tokens) == pytest.approx(r.beam.score, rel=1e-4)


def test_caption_cross_attention_layout_and_sums(tiny):
    pipe = blip.CaptionPipeline(tiny["caption"])
    r = pipe(str(SCENE), num_beams=1, max_new_tokens=5)
    T, L = len(r.greedy.tokens), 2
    assert r.grid == (4, 4) and r.attention.shape == (T, L, 1 + 16) and r.attention.dtype == np.float32
    np.testing.assert_allclose(r.attention.sum(-1), 1.0, atol=1e-5)      # a distribution over [CLS] + patches
    for t in range(T):
        cls = r.attention[t, :, 0].mean()
        assert r.patch_map(t).shape == (4, 4) and r.patch_map(t).sum() == pytest.approx(1 - cls, abs=1e-5)
        assert r.patch_map(t, layer=1).sum() == pytest.approx(1 - r.attention[t, 1, 0], abs=1e-5)
    # as during generation: token t's row, computed from the tokens before it alone (causal)
    model = pipe.model
    with torch.inference_mode():
        memory = model.vision_model(pixel_values=pixels(pipe)).last_hidden_state
        seq = torch.tensor([[model.config.text_config.bos_token_id] + [t.token_id for t in r.greedy.tokens]])
        for t in range(T):
            out = model.text_decoder(input_ids=seq[:, :t + 1], encoder_hidden_states=memory, output_attentions=True)
            step = torch.stack([a[0, :, -1].mean(0) for a in out.cross_attentions])  # [L, 1 + P]
            np.testing.assert_allclose(r.attention[t], step.numpy(), atol=1e-5)
    assert r.model_input.shape == (32, 32, 3) and r.model_input.dtype == np.uint8


def test_answer_equals_the_raw_generate_call_and_its_maps_chain(tiny):
    pipe = blip.AnswerPipeline(tiny["vqa"])
    r = pipe(str(SCENE), question="what colour is the star?", max_new_tokens=4)
    ids = pipe.prepared.tokenizer("what colour is the star?", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        raw = pipe.model.generate(input_ids=ids, pixel_values=pixels(pipe), max_new_tokens=4,
                                  output_scores=True, return_dict_in_generate=True)
    assert [t.token_id for t in r.tokens] == raw.sequences[0, 1:].tolist()
    chosen = [torch.softmax(s[0].float(), -1)[t.token_id].item() for s, t in zip(raw.scores, r.tokens)]
    assert r.probability == pytest.approx(float(np.prod(chosen)), rel=1e-4)
    T, Q = len(r.tokens), ids.shape[1]
    assert r.question_tokens[0] == "[CLS]" and r.question_tokens[-1] == "[SEP]" and len(r.question_tokens) == Q
    assert r.answer_to_question.shape == (T, Q) and r.question_to_picture.shape == (Q, 17)
    assert r.attention.shape == (T, 17)
    for m in (r.answer_to_question, r.question_to_picture, r.attention):
        np.testing.assert_allclose(m.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(r.attention, r.answer_to_question @ r.question_to_picture, atol=1e-6)
    assert r.patch_map(0).sum() == pytest.approx(1 - r.attention[0, 0], abs=1e-5)


def test_match_equals_the_retrieval_model_both_ways(tiny):
    pipe = blip.MatchPipeline(tiny["itm"])
    sentences = ["a red star", "a blue ring above a green cross"]
    r = pipe(str(SCENE), sentences=sentences)
    tok = pipe.prepared.tokenizer(sentences, padding=True, return_tensors="pt")
    x = pixels(pipe).expand(2, -1, -1, -1)
    with torch.inference_mode():
        itm = pipe.model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"], pixel_values=x)
        itc = pipe.model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"], pixel_values=x,
                         use_itm_head=False)
    np.testing.assert_allclose([s.itm_probability for s in r.scores], itm.itm_score.softmax(-1)[:, 1], rtol=1e-4)
    np.testing.assert_allclose([s.itc_cosine for s in r.scores], itc.itm_score[0], rtol=1e-4, atol=1e-6)
    assert [s.sentence for s in r.scores] == sentences


# ---- bad input ----

@pytest.mark.parametrize("question", ["", "   ", None, "\n\t"])
def test_empty_question_gets_a_sentence(question):
    with pytest.raises(blip.QuestionError) as caught:
        blip.ask(str(SCENE), question)
    assert "type a question" in caught.value.text.en and "问题" in caught.value.text.zh


def test_long_questions_are_cut_with_a_note(tiny):
    question, notes = blip.clean_question("what colour is the star? " * 40)
    assert len(question) == blip.MAX_QUESTION_CHARS and "only the first 300" in str(notes[0])
    pipe = blip.AnswerPipeline(tiny["vqa"])
    r = pipe(str(SCENE), question="is there " + "a very red star and " * 10 + "?", max_new_tokens=2)
    assert len(r.question_tokens) == 24 and any("at most 24 tokens" in str(n) for n in r.notes)
    assert "BLIP's tokenizer knows English words only" in str(blip.clean_question("星星是什么颜色？")[1][0])


@pytest.mark.parametrize("picture", [
    Image.new("RGBA", (30, 20), (255, 0, 0, 128)), Image.new("L", (50, 40), 90), Image.new("P", (16, 16)),
    Image.fromarray((np.linspace(0, 65535, 40 * 50).reshape(40, 50)).astype(np.uint16)),
    Image.new("RGB", (1, 1), (0, 0, 255)), Image.new("RGB", (4000, 300), (30, 160, 60)), Image.new("CMYK", (20, 20))])
def test_any_picture_mode_and_size_is_captioned_and_answered(tiny, picture):
    r = blip.CaptionPipeline(tiny["caption"])(picture, num_beams=2, max_new_tokens=3)
    assert r.model_input.shape == (32, 32, 3) and 1 <= len(r.greedy.tokens) <= 3
    a = blip.AnswerPipeline(tiny["vqa"])(picture, question="how many shapes are there?", max_new_tokens=2)
    assert a.attention.shape[1] == 17


def test_settings_out_of_range_and_too_many_sentences():
    from visionlab.budget import BadValue, OverBudget

    for beams in (0, 6, 2.5, float("nan"), "3"):
        with pytest.raises(BadValue, match="number of beams"):
            blip.caption(str(SCENE), num_beams=beams)
    with pytest.raises(BadValue, match="length limit"):
        blip.caption(str(SCENE), max_new_tokens=10_000)
    with pytest.raises(OverBudget, match="20,000"):
        blip.ask(str(SCENE), "is there a star? " * 2000)
    sentences, notes = blip.clean_sentences("\n".join(f"a red star number {i}" for i in range(12)) + "\n\n")
    assert len(sentences) == blip.MAX_SENTENCES and "first 8 of 12" in str(notes[0])
    with pytest.raises(blip.QuestionError, match="type a sentence"):
        blip.clean_sentences(" \n ")


# ---- registry, defaults and the device boundary ----

def test_registry_has_the_three_blip_classes_bundled_and_from_the_hub():
    for task, arch in (("caption", "BlipForConditionalGeneration"), ("vqa", "BlipForQuestionAnswering"),
                       ("itm", "BlipForImageTextRetrieval")):
        bundled, hub = specs_for(task, bundled=True), specs_for(task, bundled=False)
        assert len(bundled) == 1 and bundled[0].arch == arch and hub and all(s.arch == arch for s in hub)
        assert all(s.fallback == bundled[0].key and s.hub_id.startswith("Salesforce/blip-") for s in hub)
        assert (bundled[0].local_dir / "config.json").exists()
    assert REGISTRY["blip-vqa-base"].hub_id == "Salesforce/blip-vqa-base"


def test_missing_bundled_weights_name_the_config_that_trains_them(monkeypatch, tmp_path):
    """The three BLIP keys are trained by one config (configs/shapes-blip-tiny.toml); every bundled
    key's message names a config file that exists."""
    import dataclasses

    from visionlab.models import registry
    from visionlab.models.loader import ModelLoadError

    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)  # an empty weights folder
    bundled = [s for s in REGISTRY.values() if s.bundled]
    assert {"shapes-blip-vqa-tiny", "shapes-vit-tiny"} <= {s.key for s in bundled}
    for spec in bundled:
        with pytest.raises(ModelLoadError) as caught:  # a key of its own: never a cached model
            load_spec(dataclasses.replace(spec, key=f"{spec.key}-missing-weights-test"))
        config = caught.value.text.en.rsplit("python -m visionlab.toy.train ", 1)[1]
        assert (ROOT / config).is_file() and config in caught.value.text.zh, (spec.key, config)
        if "blip" in spec.key:
            assert config == "configs/shapes-blip-tiny.toml"


def test_example_questions_follow_the_model_and_colour_swaps():
    assert "what colour is the star?" in example_questions("shapes-blip-vqa-tiny")
    assert "what animal is this?" in example_questions("blip-vqa-base")
    assert ("red", "star") in never_asked("shapes-blip-vqa-tiny") and never_asked("blip-vqa-base") == ()
    assert swapped_colours("a red star above a blue ring") == "a blue star above a red ring"
    assert swapped_colours("a red star above a red ring") is None and swapped_colours("a cat") is None
    assert sentences_for("a Black cat on a white sofa") == "a Black cat on a white sofa\na white cat on a Black sofa"


def test_every_blip_entry_point_is_behind_the_boundary():
    from tests.test_boundary import boundary_functions

    names = {name for module, name in boundary_functions() if module == "visionlab.pipelines.blip"}
    assert names == {"_caption_on_device", "_answer_on_device", "_match_on_device"}


# ---- the bundled tiny BLIP ----

def test_offline_hub_blip_falls_back_to_the_bundled_one_with_a_notice():
    r = blip.ask(str(SCENE), "what colour is the star?", model="blip-vqa-base")
    assert r.model == "shapes-blip-vqa-tiny" and r.requested == "blip-vqa-base"
    assert "BLIP VQA base (Salesforce) is not available" in str(r.notice)
    c = blip.caption(str(SCENE), model="blip-caption-base", num_beams=1)
    assert c.model == "shapes-blip-caption-tiny" and c.notice is not None


def test_bundled_blip_on_the_example_scene():
    """scene-1: an orange cross, a yellow star, a purple cross, a purple square and a blue cross."""
    assert blip.ask(str(SCENE), "how many shapes are there?").answer == "5"
    assert blip.ask(str(SCENE), "is there a green circle?").answer == "no"
    c = blip.caption(str(SCENE))
    # attention: [tokens, 3 decoder layers, 1 + 144 image tokens]
    assert c.grid == (12, 12) and c.attention.shape[1:] == (3, 145) and "yellow star" in c.caption
    m = blip.match(str(SCENE), "a yellow star\na green ring")
    assert m.scores[0].itm_probability > 0.5 > m.scores[1].itm_probability   # present, absent
    assert m.scores[0].itc_cosine > m.scores[1].itc_cosine


def test_bundled_blip_quality_on_held_out_scenes():
    """A smaller sample of `python -m visionlab.toy.blip_eval` (weights/shapes-blip-tiny/evaluation.json
    has the full figures on 300 scenes per kind: colour 96%, shape 92%, existence 95%, counting up to 4
    objects 81%, position 81%, captions naming every object 54%; this sample of 60 gives 95%, 85%, 92%,
    76%, 82% and 43%). Guards against regressions with room for a retrain's noise; the weights before
    the two-stage trainer (colour 70%, shape 47%, existence 74%, captions 14%), those before the image
    encoder learnt where objects are (position 53%) and those before counts were asked twice as often
    (position 68% on this sample) fail it. Captions are still below the issue's target."""
    from visionlab.toy.blip_eval import evaluate

    scores = evaluate(REGISTRY["shapes-blip-vqa-tiny"].local_dir.parent, per_kind=60, held_out_per_kind=0,
                      captions=60)
    print(scores)
    assert scores["seed"] == 13 and scores["n_colour"] == 60
    assert scores["colour"] >= 0.88 and scores["shape"] >= 0.78 and scores["exist"] >= 0.83
    assert scores["count_up_to_4"] >= 0.62 and scores["position"] >= 0.70
    assert scores["caption_names_every_object"] >= 0.35 and scores["itm_accuracy"] >= 0.7
