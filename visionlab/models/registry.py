"""The model registry: one frozen `ModelSpec` per model the app may load.

This is the only place hub ids appear. The UI builds its dropdowns from here, and the
loader refuses any name that is not a key of `REGISTRY`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from visionlab.errors import VisionLabError
from visionlab.text import Text

# VISIONLAB_WEIGHTS points elsewhere (a mounted volume on a Space, a broken copy in a fault test).
WEIGHTS_DIR = Path(os.environ.get("VISIONLAB_WEIGHTS", Path(__file__).resolve().parents[2] / "weights"))

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's normalisation (CLIP, OWL-ViT, OWLv2)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class UnknownModel(VisionLabError, KeyError):
    """A model name that is not in the registry (nothing outside it is ever loaded)."""

    def __init__(self, key: str):
        super().__init__(Text(f"'{key}' is not one of VisionLab's models. Pick one from the list.",
                              f"“{key}” 不是 VisionLab 的模型。请从列表中选择一个。"))

    def __str__(self) -> str:  # KeyError would put the sentence in quotes
        return self.text.en


def checkpoint_preprocessing(folder: Path) -> tuple[int, tuple[float, ...], tuple[float, ...]] | None:
    """(input side in px, mean, std) as a saved checkpoint states them, or None: its image
    processor (preprocessor_config.json, or the "image_processor" part of processor_config.json;
    the crop when it centre-crops), else timm's pretrained_cfg in config.json, else input_size,
    mean and std at the top of config.json (VisionLab's own detector)."""
    import json

    def read(name: str) -> dict | None:
        try:
            return json.loads((folder / name).read_text())
        except (OSError, ValueError):
            return None

    try:
        proc = read("preprocessor_config.json") or (read("processor_config.json") or {}).get("image_processor")
        if proc and "image_mean" in proc:
            size = proc.get("crop_size") if proc.get("do_center_crop") else proc.get("size")
            side = size if isinstance(size, int) else (size or {}).get("height") or (size or {}).get("shortest_edge")
            return int(side), tuple(map(float, proc["image_mean"])), tuple(map(float, proc["image_std"]))
        config = read("config.json") or {}
        cfg = config.get("pretrained_cfg", config)
        if {"input_size", "mean", "std"} <= set(cfg):
            side = cfg["input_size"]
            side = side[-1] if isinstance(side, (list, tuple)) else side
            return int(side), tuple(map(float, cfg["mean"])), tuple(map(float, cfg["std"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    return None


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to load and describe one model.

    key: the name in the UI and the API. task: which tab uses it ("classification", ...).
    library: the loading library ("timm", "transformers", "segment-anything").
    hub_id: hub name for downloaded models; path: folder under weights/ for bundled ones.
    family: "cnn" or "vit" (picks the bundled fallback and the explanation shown).
    input_size: square side in pixels; mean/std: per-channel normalisation on a 0-1 scale. For a
    bundled model these are read from its checkpoint files (`checkpoint_preprocessing`); for a hub
    model they are what its checkpoint's config says, shown before it is downloaded.
    labels: "imagenet-1k" or "shapesworld". fallback: key of the bundled model used offline.
    arch: for library "transformers", the model class name (e.g. "CLIPModel"); for others,
    the architecture's name in that library (e.g. SAM's "vit_b").
    file: a checkpoint file in weights/ that is downloaded from its official address, not the hub.
    depth, heads: a hub ViT's layers and attention heads per layer, as in its config (the attention
    tab's sliders end there without building the model; bundled models' configs say it themselves).
    """

    key: str
    task: str
    library: str
    title: str
    family: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    labels: str
    licence: str
    hub_id: str | None = None
    path: str | None = None
    fallback: str | None = None
    half_ok: bool = True
    arch: str | None = None
    file: str | None = None
    depth: int | None = None
    heads: int | None = None

    def __post_init__(self):
        # One source of truth: a checkpoint on this machine says its own input size, mean and std
        # (what the pipelines use); the values written here count only for hub models, for the UI
        # before their checkpoint is downloaded (the pipelines read the checkpoint's, never these).
        found = checkpoint_preprocessing(self.local_dir) if self.path is not None else None
        if found is not None:
            for name, value in zip(("input_size", "mean", "std"), found):
                object.__setattr__(self, name, value)

    @property
    def bundled(self) -> bool:
        return self.path is not None

    @property
    def source(self) -> str:
        """Where the weights come from: "bundled" or the loading library's name."""
        return "bundled" if self.bundled else self.library

    @property
    def hub_repo(self) -> str | None:
        """The Hugging Face repository holding a hub model's weights."""
        if self.hub_id is None:
            return None
        return f"timm/{self.hub_id}" if self.library == "timm" else self.hub_id

    @property
    def local_dir(self) -> Path:
        assert self.path is not None, f"{self.key} is not bundled"
        return WEIGHTS_DIR / self.path


def _timm_classifier(key: str, hub_id: str, title: str, family: str, mean=IMAGENET_MEAN,
                     std=IMAGENET_STD, size: int = 224, depth: int | None = None, heads: int | None = None) -> ModelSpec:
    return ModelSpec(key=key, task="classification", library="timm", title=title, family=family,
                     input_size=size, mean=mean, std=std, labels="imagenet-1k", licence="apache-2.0",
                     hub_id=hub_id, fallback="shapes-vit-tiny" if family == "vit" else "shapes-resnet-tiny",
                     depth=depth, heads=heads)


def _open_vocabulary_detector(key: str, hub_id: str, title: str, arch: str, size: int, mean=CLIP_MEAN,
                              std=CLIP_STD) -> ModelSpec:
    return ModelSpec(key=key, task="detection", library="transformers", arch=arch, title=title, family="vit",
                     input_size=size, mean=mean, std=std, labels="text queries", licence="apache-2.0",
                     hub_id=hub_id, fallback="shapes-detector-tiny")


def _sam(key: str, arch: str, title: str, file: str) -> ModelSpec:
    return ModelSpec(key=key, task="segmentation", library="segment-anything", arch=arch, title=title,
                     family="vit", input_size=1024, mean=IMAGENET_MEAN, std=IMAGENET_STD, labels="masks",
                     licence="apache-2.0", file=file, half_ok=False)


def _sam_transformers(key: str, hub_id: str, arch: str, title: str, family: str = "vit") -> ModelSpec:
    """A SAM-family model from the hub through transformers (`arch`: SamModel, Sam2Model, EdgeTamModel)."""
    return ModelSpec(key=key, task="segmentation", library="transformers", arch=arch, title=title, family=family,
                     input_size=1024, mean=IMAGENET_MEAN, std=IMAGENET_STD, labels="masks", licence="apache-2.0",
                     hub_id=hub_id, half_ok=False)


_SPECS = [
    # Bundled: trained by VisionLab on ShapesWorld (configs/), shipped in weights/.
    ModelSpec(key="shapes-resnet-tiny", task="classification", library="timm",
              title="Tiny ResNet (bundled, ShapesWorld)", family="cnn", input_size=64,
              mean=IMAGENET_MEAN, std=IMAGENET_STD, labels="shapesworld", licence="mit",
              path="shapes-resnet-tiny"),
    ModelSpec(key="shapes-vit-tiny", task="classification", library="timm",
              title="Tiny ViT (bundled, ShapesWorld)", family="vit", input_size=64,
              mean=HALF, std=HALF, labels="shapesworld", licence="mit",
              path="shapes-vit-tiny"),
    # Downloaded from the Hugging Face Hub on first use (ImageNet-1k classifiers).
    _timm_classifier("resnet50", "resnet50.a1_in1k", "ResNet-50", "cnn"),
    _timm_classifier("convnext-tiny", "convnext_tiny.fb_in1k", "ConvNeXt-T", "cnn"),
    _timm_classifier("mobilenetv3-large", "mobilenetv3_large_100.ra_in1k", "MobileNetV3-L", "cnn"),
    _timm_classifier("vit-base-16", "vit_base_patch16_224.augreg2_in21k_ft_in1k", "ViT-B/16", "vit",
                     mean=HALF, std=HALF, depth=12, heads=12),
    _timm_classifier("deit-small", "deit_small_patch16_224.fb_in1k", "DeiT-S", "vit", depth=12, heads=6),
    # Self-supervised DINO ViTs (no classifier): the famous attention maps.
    ModelSpec(key="dino-vit-s8", task="attention", library="timm", title="DINO ViT-S/8", family="vit",
              input_size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, labels="none", licence="apache-2.0",
              hub_id="vit_small_patch8_224.dino", fallback="shapes-vit-tiny", depth=12, heads=6),
    ModelSpec(key="dino-vit-s16", task="attention", library="timm", title="DINO ViT-S/16", family="vit",
              input_size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, labels="none", licence="apache-2.0",
              hub_id="vit_small_patch16_224.dino", fallback="shapes-vit-tiny", depth=12, heads=6),
    # Detection tab: VisionLab's dense detector (bundled) and open-vocabulary detectors.
    ModelSpec(key="shapes-detector-tiny", task="detection", library="visionlab", arch="DenseDetector",
              title="Tiny dense detector (bundled, ShapesWorld)", family="cnn", input_size=128,
              mean=IMAGENET_MEAN, std=IMAGENET_STD, labels="shapesworld", licence="mit",
              path="shapes-detector-tiny"),
    _open_vocabulary_detector("owlv2-base", "google/owlv2-base-patch16-ensemble", "OWLv2 B/16",
                              "Owlv2ForObjectDetection", 960),
    _open_vocabulary_detector("owlvit-base-32", "google/owlvit-base-patch32", "OWL-ViT B/32",
                              "OwlViTForObjectDetection", 768),
    _open_vocabulary_detector("grounding-dino-tiny", "IDEA-Research/grounding-dino-tiny", "Grounding DINO T",
                              "GroundingDinoForObjectDetection", 800, IMAGENET_MEAN, IMAGENET_STD),
    # Segment Anything tab: official checkpoints in weights/ (git-ignored); GrabCut answers without them.
    _sam("sam-vit-b", "vit_b", "SAM ViT-B", "sam_vit_b_01ec64.pth"),
    _sam("sam-vit-l", "vit_l", "SAM ViT-L", "sam_vit_l_0b3195.pth"),
    _sam("sam-vit-h", "vit_h", "SAM ViT-H", "sam_vit_h_4b8939.pth"),
    # ... and SAM-family models from the hub through transformers, faster on a CPU: EdgeTAM (a RepViT-M1
    # CNN encoder, Meta's on-device SAM 2), SAM 2.1 with its smallest Hiera encoder, SlimSAM (SAM ViT-B
    # pruned to half its width). Configs as on their model cards (bench/real_size.py writes them out).
    _sam_transformers("edgetam", "yonigozlan/EdgeTAM-hf", "EdgeTamModel", "EdgeTAM (RepViT-M1)", "cnn"),
    _sam_transformers("sam2.1-hiera-tiny", "facebook/sam2.1-hiera-tiny", "Sam2Model", "SAM 2.1 Hiera-T"),
    _sam_transformers("slimsam-50", "nielsr/slimsam-50-uniform", "SamModel", "SlimSAM-50 (pruned ViT-B)"),
    # Zero-shot CLIP tab: image and text encoders (transformers), the bundled one trained on
    # ShapesWorld captions (configs/shapes-clip-tiny.toml). labels "free-text": any words.
    ModelSpec(key="shapes-clip-tiny", task="zero-shot", library="transformers", arch="CLIPModel",
              title="Tiny CLIP (bundled, ShapesWorld)", family="vit", input_size=64, mean=CLIP_MEAN,
              std=CLIP_STD, labels="shapesworld", licence="mit", path="shapes-clip-tiny"),
    *(ModelSpec(key=key, task="zero-shot", library="transformers", arch="CLIPModel", title=title, family="vit",
                input_size=size, mean=CLIP_MEAN, std=CLIP_STD, labels="free-text", licence="mit", hub_id=hub_id,
                fallback="shapes-clip-tiny")
      for key, hub_id, title, size in (
          ("clip-vit-b32", "openai/clip-vit-base-patch32", "CLIP ViT-B/32 (OpenAI)", 224),
          ("clip-vit-b16", "openai/clip-vit-base-patch16", "CLIP ViT-B/16 (OpenAI)", 224),
          ("clip-vit-l14", "openai/clip-vit-large-patch14", "CLIP ViT-L/14 (OpenAI)", 224))),
    ModelSpec(key="chinese-clip-b16", task="zero-shot", library="transformers", arch="ChineseCLIPModel",
              title="Chinese CLIP ViT-B/16 (OFA-Sys, 中文)", family="vit", input_size=224, mean=CLIP_MEAN,
              std=CLIP_STD, labels="free-text", licence="unverified (see the model card)",
              hub_id="OFA-Sys/chinese-clip-vit-base-patch16", fallback="shapes-clip-tiny"),
    # Masked image modeling tab: MAE (task "masked-mae") and SimMIM ("masked-simmim"); the
    # bundled ones trained on ShapesWorld (configs/shapes-mae-tiny.toml, shapes-simmim-tiny.toml).
    *(ModelSpec(key=key, task=task, library="transformers", arch=arch, title=title, family="vit",
                input_size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD, labels="none", licence=licence,
                path=key if hub_id is None else None, hub_id=hub_id, fallback=fallback)
      for key, task, arch, title, size, hub_id, fallback, licence in (
          ("shapes-mae-tiny", "masked-mae", "ViTMAEForPreTraining", "Tiny MAE (bundled, ShapesWorld)", 64,
           None, None, "mit"),
          ("shapes-simmim-tiny", "masked-simmim", "ViTForMaskedImageModeling", "Tiny SimMIM ViT (bundled, "
           "ShapesWorld)", 64, None, None, "mit"),
          ("mae-vit-base", "masked-mae", "ViTMAEForPreTraining", "MAE ViT-B/16", 224, "facebook/vit-mae-base",
           "shapes-mae-tiny", "apache-2.0"),
          ("mae-vit-large", "masked-mae", "ViTMAEForPreTraining", "MAE ViT-L/16", 224, "facebook/vit-mae-large",
           "shapes-mae-tiny", "apache-2.0"),
          ("simmim-swin-base", "masked-simmim", "SwinForMaskedImageModeling", "SimMIM Swin-B (window 6, 192 px)",
           192, "microsoft/swin-base-simmim-window6-192", "shapes-simmim-tiny", "apache-2.0"))),
    # Ask-the-picture tab (BLIP): a captioner (task "caption"), a visual question answerer ("vqa")
    # and an image-text matcher ("itm"). The bundled three share one image encoder and were trained
    # together on ShapesWorld scenes (configs/shapes-blip-tiny.toml), one folder each.
    *(ModelSpec(key=key, task=task, library="transformers", arch=arch, title=title, family="vit",
                input_size=size, mean=CLIP_MEAN if hub_id else HALF, std=CLIP_STD if hub_id else HALF,
                labels="shapesworld" if hub_id is None else "free-text",
                licence="mit" if hub_id is None else "bsd-3-clause", hub_id=hub_id,
                path=f"shapes-blip-tiny/{folder}" if hub_id is None else None,
                fallback=None if hub_id is None else f"shapes-blip-{folder}-tiny")
      for key, task, arch, title, size, hub_id, folder in (
          ("shapes-blip-caption-tiny", "caption", "BlipForConditionalGeneration",
           "Tiny BLIP captioner (bundled, ShapesWorld)", 96, None, "caption"),
          ("shapes-blip-vqa-tiny", "vqa", "BlipForQuestionAnswering", "Tiny BLIP VQA (bundled, ShapesWorld)", 96,
           None, "vqa"),
          ("shapes-blip-itm-tiny", "itm", "BlipForImageTextRetrieval", "Tiny BLIP ITM/ITC (bundled, ShapesWorld)",
           96, None, "itm"),
          ("blip-caption-base", "caption", "BlipForConditionalGeneration", "BLIP captioning base (Salesforce)", 384,
           "Salesforce/blip-image-captioning-base", "caption"),
          ("blip-caption-large", "caption", "BlipForConditionalGeneration", "BLIP captioning large (Salesforce)", 384,
           "Salesforce/blip-image-captioning-large", "caption"),
          ("blip-vqa-base", "vqa", "BlipForQuestionAnswering", "BLIP VQA base (Salesforce)", 384,
           "Salesforce/blip-vqa-base", "vqa"),
          ("blip-itm-base-coco", "itm", "BlipForImageTextRetrieval", "BLIP ITM base, COCO (Salesforce)", 384,
           "Salesforce/blip-itm-base-coco", "itm"))),
]

REGISTRY: dict[str, ModelSpec] = {s.key: s for s in _SPECS}


def get_spec(key: str) -> ModelSpec:
    """The spec named `key`; raises `UnknownModel` for anything else."""
    try:
        return REGISTRY[key]
    except (KeyError, TypeError):
        raise UnknownModel(key) from None


def specs_for(task: str | tuple[str, ...], bundled: bool | None = None) -> list[ModelSpec]:
    """All specs of a task (or of several), in registry order; `bundled` filters by origin."""
    tasks = (task,) if isinstance(task, str) else task
    return [s for s in _SPECS if s.task in tasks and (bundled is None or s.bundled == bundled)]
