"""Where a model looks: ViT attention maps (one forward pass) and Grad-CAM for CNNs.

    maps = attention_maps(image, "shapes-vit-tiny")      # AttentionMaps: (L, H, T, T) + picture
    cam = grad_cam_map(image, "shapes-resnet-tiny")      # GradCamMap: (h, w) + picture
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch

from visionlab.errors import VisionLabError
from visionlab.text import Text
from visionlab.models import LoadedModel, load_model
from visionlab.models.gpu import gpu_task
from visionlab.ops.attention import position_similarity
from visionlab.ops.cam import grad_cam
from visionlab.models.cache import LRUCache
from visionlab.ops.images import ImageLike, content_key, load_image
from visionlab.pipelines.base import Pipeline, Timings, to_cpu
from visionlab.pipelines.timm_inputs import timm_inputs


class WrongKindOfModel(VisionLabError, ValueError):
    """The chosen model cannot make this view; the message says what to pick instead."""


def is_vit(model: torch.nn.Module) -> bool:
    """A timm Vision Transformer whose blocks compute attention we can record."""
    blocks = getattr(model, "blocks", None)
    return (blocks is not None and hasattr(model, "patch_embed")
            and all(hasattr(getattr(b, "attn", None), "attn_drop") for b in blocks))


def _lock(loaded: LoadedModel, name: str) -> threading.Lock:
    return loaded.memo.setdefault(name, threading.Lock())  # dict.setdefault is atomic


@contextmanager
def recording_attention(model: torch.nn.Module) -> Iterator[list[torch.Tensor]]:
    """Record each block's attention probabilities, (B, H, T, T) per block, during a forward
    pass on *this thread*. timm's fused attention never materialises them, so it is turned
    off for this model only, for the duration (other models and tabs keep theirs)."""
    owner = threading.get_ident()
    maps: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        if threading.get_ident() == owner:  # the same model may serve another request meanwhile
            maps.append(output.detach())

    saved = [b.attn.fused_attn for b in model.blocks]
    handles = [b.attn.attn_drop.register_forward_hook(hook) for b in model.blocks]
    for b in model.blocks:
        b.attn.fused_attn = False
    try:
        yield maps
    finally:
        for h in handles:
            h.remove()
        for b, fused in zip(model.blocks, saved):
            b.attn.fused_attn = fused


@dataclass(frozen=True)
class AttentionMaps:
    """One ViT forward pass, recorded.

    picture: (S, S, 3) uint8 RGB, the model's input (normalisation undone).
    attn: (L, H, T, T) float32, layer x head x query token x key token; rows sum to 1.
    prefix: how many tokens come before the patches ([CLS], registers). grid: (gh, gw) patches.
    pos_similarity: (gh, gw, gh, gw) cosine similarity of the learned position embeddings.
    label, probability: the top class (None for models without a classifier, like DINO).
    """

    picture: np.ndarray
    attn: np.ndarray
    prefix: int
    grid: tuple[int, int]
    pos_similarity: np.ndarray | None
    label: str | None
    probability: float | None
    model: str
    requested: str
    notice: Text | None
    timings: Timings

    @property
    def patch_size(self) -> int:
        return self.picture.shape[0] // self.grid[0]


class AttentionPipeline(Pipeline[AttentionMaps]):
    def __init__(self, loaded: LoadedModel):
        if not is_vit(loaded.model):
            raise WrongKindOfModel(Text(
                f"{loaded.spec.title} is a CNN: it has no attention maps. Choose a Vision Transformer, "
                "or the Grad-CAM view for this model.",
                f"{loaded.spec.title} 是卷积网络（CNN），没有注意力图。请选择一个 Vision Transformer，"
                "或者对这个模型使用 Grad-CAM 视图。"))
        super().__init__(loaded)
        self.inputs = timm_inputs(loaded)

    def preprocess(self, image: ImageLike, **params: Any) -> dict[str, Any]:
        return {"pixel_values": self.inputs.tensor(image)}  # [1, 3, S, S]

    def _forward(self, inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = inputs["pixel_values"].to(self.device, self.dtype)
        with _lock(self.loaded, "attention"), recording_attention(self.model) as maps:
            logits = self.model(x)
        return {"attn": torch.stack([m[0] for m in maps]).float(),  # L x [H, T, T] -> [L, H, T, T]
                "logits": logits.float()}

    def postprocess(self, inputs, outputs, timings: Timings, **params: Any) -> AttentionMaps:
        model = self.model
        grid = tuple(int(g) for g in model.patch_embed.grid_size)
        prefix = int(getattr(model, "num_prefix_tokens", 1))
        pos = getattr(model, "pos_embed", None)
        sim = None
        if isinstance(pos, torch.Tensor) and pos.shape[1] in (grid[0] * grid[1], grid[0] * grid[1] + prefix):
            sim = position_similarity(to_cpu(pos.detach()), prefix, grid).numpy()
        label = probability = None
        if self.inputs.labels:
            probs = outputs["logits"][0].softmax(-1)
            top = int(probs.argmax())
            label, probability = self.inputs.labels[top], float(probs[top])
        return AttentionMaps(self.inputs.picture(inputs["pixel_values"][0]), outputs["attn"].numpy(), prefix,
                             grid, sim, label, probability, self.loaded.spec.key, self.loaded.requested.key,
                             self.loaded.notice, timings)


@dataclass(frozen=True)
class GradCamMap:
    """Grad-CAM of one class. picture: (S, S, 3) uint8 RGB model input. cam: (h, w) float32
    >= 0 on the last stage's feature grid (h = S / stride). layer: the module it was taken at."""

    picture: np.ndarray
    cam: np.ndarray
    class_index: int
    label: str
    probability: float
    layer: str
    model: str
    requested: str
    notice: Text | None
    timings: Timings


class GradCamPipeline(Pipeline[GradCamMap]):
    def __init__(self, loaded: LoadedModel):
        if is_vit(loaded.model) or not getattr(loaded.model, "feature_info", None):
            raise WrongKindOfModel(Text(
                f"Grad-CAM here is for CNNs; {loaded.spec.title} is a Vision Transformer. "
                "Choose a CNN (ResNet, ConvNeXt, MobileNet), or an attention view.",
                f"这里的 Grad-CAM 用于卷积网络；{loaded.spec.title} 是 Vision Transformer。"
                "请选择一个卷积网络（ResNet、ConvNeXt、MobileNet），或者使用注意力视图。"))
        super().__init__(loaded)
        self.inputs = timm_inputs(loaded)
        self.layer = loaded.model.feature_info[-1]["module"]   # the last stage: coarsest, most semantic

    def preprocess(self, image: ImageLike, **params: Any) -> dict[str, Any]:
        return {"pixel_values": self.inputs.tensor(image), "target": params.get("target")}

    def forward(self, inputs: dict[str, Any]) -> Any:
        """Needs gradients, so it runs with autograd on (not in inference mode)."""
        with torch.enable_grad():
            return to_cpu(self._forward(inputs))

    def _forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        owner, acts = threading.get_ident(), []

        def hook(_module, _inputs, output):
            if threading.get_ident() == owner:
                acts.append(output)

        handle = self.model.get_submodule(self.layer).register_forward_hook(hook)
        try:
            logits = self.model(inputs["pixel_values"].to(self.device, self.dtype))  # [1, classes]
        finally:
            handle.remove()
        target = inputs["target"]
        target = int(logits[0].argmax()) if target is None else int(target) % logits.shape[-1]
        (grads,) = torch.autograd.grad(logits[0, target], acts[0])  # only d score / d features
        return {"cam": grad_cam(acts[0][0].detach().float(), grads[0].float()),
                "probs": logits[0].detach().float().softmax(-1), "target": target}

    def postprocess(self, inputs, outputs, timings: Timings, **params: Any) -> GradCamMap:
        t = outputs["target"]
        return GradCamMap(self.inputs.picture(inputs["pixel_values"][0]), outputs["cam"].numpy(), t,
                          self.inputs.labels[t], float(outputs["probs"][t]), self.layer,
                          self.loaded.spec.key, self.loaded.requested.key, self.loaded.notice, timings)


@gpu_task(duration=10)
def attention_maps(image: ImageLike, model: str = "shapes-vit-tiny") -> AttentionMaps:
    """Every layer's and head's attention for one picture (one forward pass)."""
    return AttentionPipeline(load_model(model))(image)


@gpu_task(duration=10)
def grad_cam_map(image: ImageLike, model: str = "shapes-resnet-tiny", target: int | None = None) -> GradCamMap:
    """Grad-CAM for class `target` (default: the top prediction)."""
    return GradCamPipeline(load_model(model))(image, target=target)


# (function, answering model, picture content) -> AttentionMaps or GradCamMap, shared by every
# session and bounded by bytes (a ViT-B's maps of one picture are about 22 MB): a new view, layer,
# head or patch click on the same picture runs no model.
MAPS: LRUCache = LRUCache(max_bytes=int(os.environ.get("VISIONLAB_ATTENTION_MB", "256")) << 20)


def cached_attention_maps(image: ImageLike, model: str = "shapes-vit-tiny") -> AttentionMaps:
    """`attention_maps` through the shared cache."""
    return _cached(attention_maps, image, model)


def cached_grad_cam(image: ImageLike, model: str = "shapes-resnet-tiny") -> GradCamMap:
    """`grad_cam_map` of the top class through the shared cache."""
    return _cached(grad_cam_map, image, model)


def _cached(compute, image: ImageLike, model: str):
    from visionlab.models.loader import answering_key

    picture = np.asarray(load_image(image))
    answering = answering_key(model)
    return MAPS.get_or_load((compute.__name__, answering, content_key(picture)), lambda: compute(picture, model),
                            keep=lambda result: result.model == answering)


def vit_shape(model: str) -> tuple[int, int] | None:
    """(layers, heads) of the ViT that answers for registry key `model`, read from its config
    (the bundled checkpoint's config.json, else the registry), without building it; None for CNNs."""
    from visionlab.models import get_spec
    from visionlab.models.loader import answering_key

    spec = get_spec(answering_key(model))
    if spec.family != "vit":
        return None
    if spec.bundled:
        args = json.loads((spec.local_dir / "config.json").read_text())["model_args"]
        return int(args["depth"]), int(args["num_heads"])
    return (spec.depth, spec.heads) if spec.depth else None
