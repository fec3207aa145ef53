"""One source of truth for input size, mean and std: the checkpoint's own configuration.

The pipelines read it from the checkpoint (timm's pretrained_cfg, a transformers image
processor, the detector's config); the registry reads the same files for bundled models, and
states the hub checkpoints' values only for the UI before they are downloaded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from visionlab.models import REGISTRY, load_model
from visionlab.models.registry import ModelSpec, checkpoint_preprocessing

ROOT = Path(__file__).resolve().parents[1]


def _close(a, b) -> bool:
    return len(a) == len(b) and all(abs(float(x) - float(y)) < 1e-6 for x, y in zip(a, b))


def _used_by_pipeline(key: str) -> tuple[int, tuple, tuple] | None:
    """(side, mean, std) the pipeline of bundled model `key` actually uses, or None for a task
    whose pipeline is not covered here."""
    spec = REGISTRY[key]
    loaded = load_model(key)
    if spec.library == "timm":
        from visionlab.pipelines.timm_inputs import timm_inputs

        cfg = timm_inputs(loaded).data_config
        return int(cfg["input_size"][-1]), tuple(cfg["mean"]), tuple(cfg["std"])
    if spec.task in ("masked-mae", "masked-simmim"):
        from visionlab.pipelines.masked import MaskedPipeline

        pipe = MaskedPipeline(loaded)
        return pipe.size, tuple(pipe.mean), tuple(pipe.std)
    if spec.task == "zero-shot":
        from visionlab.pipelines.zero_shot import ZeroShotPipeline

        pipe = ZeroShotPipeline(loaded)
        side = pipe.pixel_values([Image.new("RGB", (97, 61))]).shape[-1]
        return int(side), tuple(pipe.prepared.mean), tuple(pipe.prepared.std)
    if spec.arch == "DenseDetector":
        cfg = loaded.model.config
        return int(cfg.input_size), tuple(cfg.mean), tuple(cfg.std)
    return None


@pytest.mark.parametrize("key", [k for k, s in REGISTRY.items() if s.bundled])
def test_a_bundled_models_registry_entry_is_what_its_checkpoint_and_pipeline_use(key):
    spec = REGISTRY[key]
    if not (spec.local_dir / "config.json").exists():
        pytest.skip(f"{key}: its bundled weights are not in weights/ yet")
    found = checkpoint_preprocessing(spec.local_dir)
    assert found is not None, f"{key}: its checkpoint states no input size, mean and std"
    assert spec.input_size == found[0] and _close(spec.mean, found[1]) and _close(spec.std, found[2])
    used = _used_by_pipeline(key)
    if used is not None:
        assert used[0] == spec.input_size and _close(used[1], spec.mean) and _close(used[2], spec.std), (key, used)


def test_what_the_registry_declares_for_a_bundled_model_cannot_win_over_its_files(tmp_path):
    import shutil

    shutil.copytree(REGISTRY["shapes-mae-tiny"].local_dir, tmp_path / "mae")
    spec = ModelSpec(key="x", task="masked-mae", library="transformers", title="x", family="vit", input_size=999,
                     mean=(0.1, 0.2, 0.3), std=(1.0, 1.0, 1.0), labels="none", licence="mit",
                     arch="ViTMAEForPreTraining", path=str(tmp_path / "mae"))
    assert spec.input_size == 64 and _close(spec.mean, (0.485, 0.456, 0.406))


@pytest.mark.parametrize("key", [k for k, s in REGISTRY.items() if s.library == "timm" and not s.bundled])
def test_a_timm_hub_models_registry_entry_is_timms_pretrained_config(key):
    """timm knows every hub checkpoint's configuration without a download."""
    from timm.models import get_pretrained_cfg

    spec = REGISTRY[key]
    cfg = get_pretrained_cfg(spec.hub_id)
    assert spec.input_size == cfg.input_size[-1] and _close(spec.mean, cfg.mean) and _close(spec.std, cfg.std)


def test_transformers_hub_entries_match_their_processor_classes():
    """The hub processors of these checkpoints keep their class's normalisation (OpenAI CLIP's for
    CLIP, OWL-ViT and OWLv2, ImageNet's for Grounding DINO, ViTMAE and SimMIM)."""
    from transformers import (CLIPImageProcessor, GroundingDinoImageProcessor, Owlv2ImageProcessor,
                              OwlViTImageProcessor)

    expected = {"CLIPModel": CLIPImageProcessor(), "OwlViTForObjectDetection": OwlViTImageProcessor(),
                "Owlv2ForObjectDetection": Owlv2ImageProcessor(),
                "GroundingDinoForObjectDetection": GroundingDinoImageProcessor()}
    for spec in REGISTRY.values():
        proc = expected.get(spec.arch)
        if proc is None or spec.bundled:
            continue
        assert _close(spec.mean, proc.image_mean) and _close(spec.std, proc.image_std), spec.key


def test_no_pipeline_reads_the_registrys_preprocessing():
    """Pipelines take size, mean and std from the checkpoint only; a registry value they read
    could drift from it."""
    pattern = re.compile(r"spec\.(mean|std|input_size)\b")
    for path in (ROOT / "visionlab" / "pipelines").glob("*.py"):
        assert not pattern.search(path.read_text()), path.name


def test_the_masked_pipeline_follows_its_checkpoint_not_its_spec(tmp_path):
    from visionlab.models.loader import LoadedModel, load_spec
    from visionlab.pipelines.masked import MaskedPipeline

    real = REGISTRY["shapes-simmim-tiny"]
    model = load_spec(real)[0]
    spec = ModelSpec(key="y", task="masked-simmim", library="transformers", title="y", family="vit", input_size=32,
                     mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), labels="none", licence="mit",
                     arch="ViTForMaskedImageModeling", hub_id="nobody/anything")   # a hub spec: its values unread
    loaded = LoadedModel(spec, spec, model, None, 0.0, {"image_processor": MaskedPipeline(load_model(real.key)).processor})
    pipe = MaskedPipeline(loaded)
    assert pipe.size == 64 and _close(pipe.mean, (0.485, 0.456, 0.406))
    assert isinstance(torch.as_tensor(pipe.pixel_values(Image.new("RGB", (10, 20)))), torch.Tensor)
