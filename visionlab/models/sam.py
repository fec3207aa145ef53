"""Segment Anything models: build them from `segment_anything.modeling`, load official
checkpoints safely, and download a missing checkpoint once.

Checkpoints are the official `.pth` files, kept in `weights/` (git-ignored). They are loaded
with `torch.load(weights_only=True)` into a model built here, never unpickled as code.
"""

from __future__ import annotations

import hashlib
import urllib.request
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from visionlab.models.registry import WEIGHTS_DIR, ModelSpec

OFFICIAL_URL = "https://dl.fbaipublicfiles.com/segment_anything/"


@dataclass(frozen=True)
class SamSize:
    """The numbers that distinguish SAM variants. Image encoder: a ViT of `embed_dim` x `depth`
    with windowed attention except at `global_attn`; prompts and masks live in `prompt_dim`."""

    embed_dim: int
    depth: int
    heads: int
    global_attn: tuple[int, ...]
    img_size: int = 1024
    patch: int = 16
    window: int = 14
    prompt_dim: int = 256
    decoder_mlp: int = 2048
    decoder_heads: int = 8
    iou_hidden: int = 256


SIZES = {
    "vit_b": SamSize(768, 12, 12, (2, 5, 8, 11)),
    "vit_l": SamSize(1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": SamSize(1280, 32, 16, (7, 15, 23, 31)),
    # for tests: the same classes, small enough to run in milliseconds
    "tiny": SamSize(64, 2, 2, (1,), img_size=256, window=8, prompt_dim=32, decoder_mlp=64, decoder_heads=2,
                    iou_hidden=32),
}


def build_sam(size: SamSize):
    """An untrained SAM of the given size (eval mode)."""
    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    grid = size.img_size // size.patch
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=size.img_size, patch_size=size.patch, embed_dim=size.embed_dim, depth=size.depth,
            num_heads=size.heads, mlp_ratio=4, out_chans=size.prompt_dim, qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True,
            global_attn_indexes=size.global_attn, window_size=size.window),
        prompt_encoder=PromptEncoder(embed_dim=size.prompt_dim, image_embedding_size=(grid, grid),
                                     input_image_size=(size.img_size, size.img_size), mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3, transformer_dim=size.prompt_dim, iou_head_depth=3,
            iou_head_hidden_dim=size.iou_hidden,
            transformer=TwoWayTransformer(depth=2, embedding_dim=size.prompt_dim, mlp_dim=size.decoder_mlp,
                                          num_heads=size.decoder_heads)),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


def checkpoint_path(spec: ModelSpec) -> Path:
    """Where the spec's checkpoint file lives (weights/<file>)."""
    return WEIGHTS_DIR / str(spec.file)


def load_sam(spec: ModelSpec, path: Path | None = None):
    """Build the spec's SAM size and load its checkpoint (tensors only, weights_only=True)."""
    sam = build_sam(SIZES[str(spec.arch)])
    import torch

    state = torch.load(path or checkpoint_path(spec), map_location="cpu", weights_only=True)
    sam.load_state_dict(state)
    return sam


def expected_sha256_prefix(filename: str) -> str:
    """Official SAM files end in the first hex digits of their SHA-256 (`sam_vit_b_01ec64.pth`)."""
    return Path(filename).stem.rsplit("_", 1)[-1]


def download_checkpoint(spec: ModelSpec, progress: Callable[[int, int], None] | None = None,
                        timeout_s: float = 30.0) -> Path:
    """Fetch the spec's checkpoint from the official address once, checking its SHA-256 prefix.

    progress(done_bytes, total_bytes) is called as it goes. The file appears only when complete.
    """
    target = checkpoint_path(spec)
    if target.exists():
        return target
    part = target.with_suffix(".part")
    digest = hashlib.sha256()
    with urllib.request.urlopen(OFFICIAL_URL + str(spec.file), timeout=timeout_s) as response, open(part, "wb") as f:
        total, done = int(response.headers.get("Content-Length", 0)), 0
        while chunk := response.read(1 << 20):
            f.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    if not digest.hexdigest().startswith(expected_sha256_prefix(str(spec.file))):
        part.unlink(missing_ok=True)
        raise OSError(f"the downloaded {spec.file} is damaged (checksum mismatch)")
    part.rename(target)
    return target
