"""Where a model looks: ViT attention maps (one forward pass) and Grad-CAM for CNNs.

    maps = attention_maps(image, "shapes-vit-tiny")      # AttentionMaps: (L, H, T, T) + picture
    cam = grad_cam_map(image, "shapes-resnet-tiny")      # GradCamMap: (h, w) + picture
"""

from __future__ import annotations

import json
import math
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
def recording_attention(model: torch.nn.Module, last_only: bool = False) -> Iterator[list[torch.Tensor]]:
    """Record each block's attention probabilities, (B, H, T, T) per block, during a forward
    pass on *this thread*. timm's fused attention never materialises them, so it is turned
    off for this model only, for the duration (other models and tabs keep theirs).
    last_only: record (and un-fuse) only the last block, for long token sequences."""
    owner = threading.get_ident()
    maps: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        if threading.get_ident() == owner:  # the same model may serve another request meanwhile
            maps.append(output.detach())

    blocks = list(model.blocks)[-1:] if last_only else list(model.blocks)
    saved = [b.attn.fused_attn for b in blocks]
    handles = [b.attn.attn_drop.register_forward_hook(hook) for b in blocks]
    for b in blocks:
        b.attn.fused_attn = False
    try:
        yield maps
    finally:
        for h in handles:
            h.remove()
        for b, fused in zip(blocks, saved):
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


DINO_SIDE = 480   # DINO's visualize_attention.py: the whole picture resized to 480 x 480


@dataclass(frozen=True)
class DinoAttention:
    """The last layer's [CLS] attention of each head on the whole picture, as DINO's
    visualize_attention.py computes it.

    picture: (S, S, 3) uint8 RGB, the whole picture resized to S x S (aspect ratio not kept, no
    crop; then cut to a multiple of the patch size). cls: (H, gh, gw) float32, head x patch grid,
    the [CLS] row of the last layer's softmax without the prefix tokens. grid: (gh, gw).
    """

    picture: np.ndarray
    cls: np.ndarray
    grid: tuple[int, int]
    model: str
    requested: str
    notice: Text | None
    timings: Timings


def interpolate_positions(pos: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """A ViT's (1, N, D) patch position embeddings for a square grid of N, resized to `grid` the
    way DINO does it: bicubic, with the scale factor (g + 0.1) / sqrt(N) (the 0.1 keeps the output
    size exact despite floating point). Returns (1, gh * gw, D)."""
    N, D = pos.shape[1], pos.shape[2]
    side = int(math.sqrt(N))
    if (side, side) == tuple(grid):
        return pos
    x = pos.reshape(1, side, side, D).permute(0, 3, 1, 2)                       # [1, D, g0, g0]
    x = torch.nn.functional.interpolate(x, scale_factor=((grid[0] + 0.1) / side, (grid[1] + 0.1) / side),
                                        mode="bicubic")                          # [1, D, gh, gw]
    return x.permute(0, 2, 3, 1).reshape(1, -1, D)


class DinoPipeline(Pipeline[DinoAttention]):
    """The whole picture at S x S through a timm ViT, its position embeddings interpolated to the
    larger grid, recording only the last block's attention (one S/8 layer at 480 px is 300 MB)."""

    def __init__(self, loaded: LoadedModel, side: int | None = None):
        if not is_vit(loaded.model):
            raise WrongKindOfModel(Text(
                f"{loaded.spec.title} is a CNN: it has no attention maps. Choose a Vision Transformer.",
                f"{loaded.spec.title} 是卷积网络（CNN），没有注意力图。请选择一个 Vision Transformer。"))
        super().__init__(loaded)
        self.inputs = timm_inputs(loaded)
        patch = loaded.model.patch_embed.patch_size
        self.patch = (int(patch[0]), int(patch[1])) if isinstance(patch, (tuple, list)) else (int(patch),) * 2
        # DINO's 480 px for the DINO checkpoints; other ViTs at the size they were trained on
        self.side = int(side or (DINO_SIDE if loaded.spec.task == "attention" else self.inputs.size))

    def preprocess(self, image: ImageLike, **params: Any) -> dict[str, Any]:
        from PIL import Image

        picture = load_image(image).resize((self.side, self.side), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.asarray(picture, np.float32) / 255).permute(2, 0, 1)    # [3, S, S] in 0-1
        mean = torch.tensor(self.inputs.data_config["mean"]).view(3, 1, 1)
        std = torch.tensor(self.inputs.data_config["std"]).view(3, 1, 1)
        x = (x - mean) / std
        h, w = x.shape[1] - x.shape[1] % self.patch[0], x.shape[2] - x.shape[2] % self.patch[1]
        return {"pixel_values": x[None, :, :h, :w], "picture": np.asarray(picture)[:h, :w]}   # [1, 3, h, w]

    def _forward(self, inputs: dict[str, Any]) -> torch.Tensor:
        m = self.model
        x = inputs["pixel_values"].to(self.device, self.dtype)
        x = m.patch_embed.proj(x)                                                # [1, D, gh, gw]
        grid = tuple(x.shape[-2:])
        x = m.patch_embed.norm(x.flatten(2).transpose(1, 2))                     # [1, N, D]
        prefix = [t.expand(x.shape[0], -1, -1) for t in (getattr(m, "cls_token", None), getattr(m, "reg_token", None))
                  if t is not None]
        if getattr(m, "no_embed_class", False):                                  # prefix tokens carry no position
            x = torch.cat(prefix + [x + interpolate_positions(m.pos_embed, grid)], 1)
        else:
            n = m.pos_embed.shape[1] - int(np.prod(m.patch_embed.grid_size))
            pos = torch.cat([m.pos_embed[:, :n], interpolate_positions(m.pos_embed[:, n:], grid)], 1)
            x = torch.cat(prefix + [x], 1) + pos                                 # [1, P + N, D]
        x = m.norm_pre(x)
        with _lock(self.loaded, "attention"), recording_attention(m, last_only=True) as maps:
            for block in m.blocks:
                x = block(x)
        P = int(getattr(m, "num_prefix_tokens", 1))
        return maps[-1][0, :, 0, P:].float().reshape(-1, *grid)                   # [H, gh, gw]

    def postprocess(self, inputs, outputs, timings: Timings, **params: Any) -> DinoAttention:
        cls = outputs.numpy()
        return DinoAttention(inputs["picture"], cls, tuple(cls.shape[1:]), self.loaded.spec.key,
                             self.loaded.requested.key, self.loaded.notice, timings)


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


@gpu_task(duration=15)
def dino_attention(image: ImageLike, model: str = "dino-vit-s8", side: int | None = None) -> DinoAttention:
    """The last layer's [CLS] attention per head on the whole picture (DINO's visualize_attention.py):
    resized to `side` x `side` (default 480 for the DINO checkpoints, else the model's own size)."""
    return DinoPipeline(load_model(model), side)(image)


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


def cached_dino_attention(image: ImageLike, model: str = "dino-vit-s8") -> DinoAttention:
    """`dino_attention` through the shared cache."""
    return _cached(dino_attention, image, model)


@dataclass(frozen=True)
class PatchAttention:
    """Where one patch looks. maps: the picture's AttentionMaps; patch: 0-based, reading order;
    layer: 1-based; row: (T,) float32, the patch's attention over every token in that layer,
    heads averaged; heat: (gh, gw) the same over the patches; cls_share: the part of it given to
    the prefix tokens ([CLS], registers); notes: what was moved into range (a patch or layer that
    does not exist)."""

    maps: AttentionMaps
    patch: int
    layer: int
    row: np.ndarray
    heat: np.ndarray
    cls_share: float
    notes: tuple[Text, ...] = ()


class NotAPatch(VisionLabError, ValueError):
    """A click beside the patches (on the [CLS] token panel)."""


LAYER, HEAD = Text("layer", "层"), Text("head", "头")


def clamp_counted(value: int, high: int, what: Text, notes: list[Text]) -> int:
    """1-based `value` into [1, high]; a sentence is added to `notes` when it had to move."""
    v = min(max(int(value), 1), high)
    if v != int(value):
        notes.append(Text(f"{what.en.capitalize()} {int(value)} does not exist here, so {what.en} {v} of {high} is shown.",
                          f"这里没有第 {int(value)} 个{what.zh}，所以显示的是第 {v} 个（共 {high} 个）。"))
    return v


def attention_of_patch(maps: AttentionMaps, patch: int, layer: int = 99) -> PatchAttention:
    """Where patch `patch` (0-based, reading order) looks in `layer` (1-based), heads averaged.
    Pure: no model. A patch or layer out of range is moved to the nearest, with a note."""
    gh, gw = maps.grid
    notes: list[Text] = []
    layer = clamp_counted(layer, maps.attn.shape[0], LAYER, notes)
    if not 0 <= int(patch) < gh * gw:
        clamped = min(max(int(patch), 0), gh * gw - 1)
        notes.append(Text(f"There is no patch {int(patch) + 1}; patch {clamped + 1} of {gh * gw} is shown.",
                          f"没有第 {int(patch) + 1} 个图块；显示的是第 {clamped + 1} 个（共 {gh * gw} 个）。"))
        patch = clamped
    row = maps.attn[layer - 1, :, maps.prefix + int(patch)].mean(0)           # [T], heads averaged
    return PatchAttention(maps, int(patch), layer, row, row[maps.prefix:].reshape(gh, gw),
                          float(row[:maps.prefix].sum()), tuple(notes))


def patch_attention(image: ImageLike, model: str = "shapes-vit-tiny", x: float | None = None,
                    y: float | None = None, layer: int = 99, patch: int | None = None) -> PatchAttention:
    """What one patch of `image` attends to in `layer` (1-based; 99: the last), heads averaged.
    Name the patch by number (`patch`, 0-based, reading order) or by a click at (x, y) on the
    patch-grid picture the attention views draw (`attention_views.patches_view`: the [CLS] panel
    on the left, then the picture enlarged to at least GRID_DISPLAY pixels). The picture's maps
    come from the shared cache, so a click on a picture already seen runs no model."""
    from visionlab.ops.images import upscale_nearest
    from visionlab.ops.overlay import patch_at

    maps = cached_attention_maps(image, model)
    if patch is None:
        if x is None or y is None:
            raise NotAPatch(Text("Say which patch: its number, or where it was clicked.",
                                 "请说明是哪个图块：给出编号，或者点击的位置。"))
        patch = patch_at(float(x), float(y), upscale_nearest(maps.picture, GRID_DISPLAY).shape, maps.grid)
        if patch is None:
            raise NotAPatch(Text("That click was on the [CLS] token, not on a patch. Click inside the picture.",
                                 "这一下点在了 [CLS] token 上，不是图块。请点在图片里面。"))
    return attention_of_patch(maps, patch, layer)


GRID_DISPLAY = 448  # the attention views draw pictures at least this large (8 x 8 patches stay visible)


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
