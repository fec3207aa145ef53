"""Trainer tasks for the masked image modeling tab: a tiny MAE and a tiny SimMIM on ShapesWorld.

Both are real transformers classes with small configs (64 px pictures, 8 px patches), so the
app loads them exactly like the hub checkpoints:

- "mae":    `ViTMAEForPreTraining`; hides `mask_ratio` of the patches at random, the encoder
            sees only the visible ones, the decoder predicts every patch; MSE on the hidden
            patches (pixel targets, no per-patch normalisation: see `norm_pix_loss` below).
- "simmim": `ViTForMaskedImageModeling` (encoder_stride = patch size); hides random squares of
            `mask_patch` pixels, replaces them by a learned mask token, a 1x1 conv head predicts
            the pixels; L1 on the hidden pixels only.

Pictures: single-object ShapesWorld pictures mixed with multi-object scenes, 64 x 64.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionlab.ops.masking import block_mask, count_hidden_simmim, mean_colour_fill, masked_loss, pixel_mask, random_masking
from visionlab.toy.shapes import make_scene, make_single
from visionlab.toy.tasks import augment, to_model_input


def shapes_pictures(seed: int, count: int, size: int, scene_fraction: float) -> np.ndarray:
    """`count` pictures of the stream `seed`: (N, size, size, 3) uint8. Every k-th picture is
    a multi-object scene (k = 1 / scene_fraction), the others show one object."""
    every = int(round(1 / scene_fraction)) if scene_fraction > 0 else 0
    pics = [make_scene(seed, i, size, max_objects=4).image if every and i % every == every - 1
            else make_single(seed, i, size).image for i in range(count)]
    return np.stack(pics)


def to_pixels(x: torch.Tensor, mean, std) -> np.ndarray:
    """(B, 3, H, W) normalised -> (B, H, W, 3) float32 in [0, 1] (clipped)."""
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * s + m).clamp(0, 1).permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def set_sincos_positions(model, params: list[torch.Tensor]) -> None:
    """Fill (1, 1+L, D) position embeddings with MAE's 2-D sin-cos table.

    MAE: transformers 5.23 leaves the encoder's and decoder's fixed tables at zero in a model
    built from a config (its generic weight init zeroes them after the MAE-specific one ran),
    and they are frozen, so an MAE trained from scratch would never know where a patch is
    and could only predict the mean colour. SimMIM (ViT): its learned table starts as tiny
    noise, so a mask token at first cannot tell where it is; starting from sin-cos (still
    trained) lets the short CPU run learn positions from the first step.
    """
    from transformers.models.vit_mae.modeling_vit_mae import build_2d_sinusoidal_position_embedding

    g = model.config.image_size // model.config.patch_size
    for param in params:
        pos = build_2d_sinusoidal_position_embedding(g, g, param.shape[-1], cls_token=True)   # [1+L, D]
        half = pos.shape[-1] // 2
        pos = torch.cat([pos[..., half:], pos[..., :half]], dim=-1)  # the checkpoints' (w, h) layout
        param.copy_(pos.unsqueeze(0).to(param.dtype))


class _MaskedTask:
    """What both tasks share: data, normalisation, the held-out score, saving."""

    loss_kind = "mse"

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.data = cfg["data"]
        self.size = int(self.data["image_size"])
        self.mean = tuple(cfg["model"]["mean"])
        self.std = tuple(cfg["model"]["std"])
        self.masking = cfg["masking"]

    def pictures(self, seed_key: str, count_key: str) -> np.ndarray:
        return shapes_pictures(self.data[seed_key], self.data[count_key], self.size,
                               float(self.data.get("scene_fraction", 0.0)))

    def train_arrays(self) -> tuple[torch.Tensor, ...]:
        return (torch.from_numpy(self.pictures("train_seed", "train_images")),)

    def reconstruct(self, model, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised input, (B, L) bool mask -> (B, 3, H, W) normalised prediction."""
        raise NotImplementedError

    def val_mask(self, index: int) -> np.ndarray:
        """The (gh, gw) mask used for validation picture `index` (seeded)."""
        raise NotImplementedError

    @torch.inference_mode()
    def validate(self, model) -> dict[str, float]:
        """Masked-region loss (0-1 pixel units) of the model and of the mean-colour baseline."""
        images = self.pictures("val_seed", "val_images")
        p = model.config.patch_size
        ours, base = [], []
        for start in range(0, len(images), 128):
            batch = images[start:start + 128]
            masks = np.stack([self.val_mask(start + i) for i in range(len(batch))])       # [B, gh, gw]
            x = to_model_input(batch, self.mean, self.std)                               # [B, 3, H, W]
            pred = to_pixels(self.reconstruct(model, x, torch.from_numpy(masks.reshape(len(batch), -1))),
                             self.mean, self.std)
            truth = batch.astype(np.float32) / 255.0
            for k in range(len(batch)):
                hidden = pixel_mask(masks[k], p)
                ours.append(masked_loss(pred[k], truth[k], hidden, self.loss_kind))
                base.append(masked_loss(mean_colour_fill(truth[k], hidden), truth[k], hidden, self.loss_kind))
        ours_m, base_m = float(np.mean(ours)), float(np.mean(base))
        name = self.loss_kind
        return {f"val_masked_{name}": round(ours_m, 5), f"val_baseline_{name}": round(base_m, 5),
                "val_ratio_to_baseline": round(ours_m / base_m, 4)}

    def save(self, model, out_dir: Path) -> None:
        from transformers import ViTImageProcessor

        model.save_pretrained(out_dir)
        ViTImageProcessor(size={"height": self.size, "width": self.size}, image_mean=list(self.mean),
                          image_std=list(self.std), resample=2).save_pretrained(out_dir)


class MAETask(_MaskedTask):
    """Tiny MAE: `ViTMAEForPreTraining`, hiding `mask_ratio` of the 8 px patches at random."""

    loss_kind = "mse"

    def build(self) -> torch.nn.Module:
        from transformers import ViTMAEConfig, ViTMAEForPreTraining

        args = dict(self.cfg["model"]["args"])
        config = ViTMAEConfig(image_size=self.size, mask_ratio=self.masking["ratio"], **args)
        model = ViTMAEForPreTraining(config)
        set_sincos_positions(model, [model.vit.embeddings.position_embeddings, model.decoder.decoder_pos_embed])
        return model

    def loss(self, model, batch) -> torch.Tensor:
        (images,) = batch
        x = to_model_input(augment(images), self.mean, self.std)
        return model(pixel_values=x).loss  # random masking at config.mask_ratio inside

    def val_mask(self, index: int) -> np.ndarray:
        g = self.size // self.cfg["model"]["args"]["patch_size"]
        return random_masking(g * g, self.masking["ratio"], seed=10_000 + index).mask[0].reshape(g, g).numpy()

    def reconstruct(self, model, x, hidden):
        from visionlab.pipelines.masked import mae_forward
        from visionlab.ops.masking import indices_from_mask, unpatchify

        g = self.size // model.config.patch_size
        logits = mae_forward(model, x, indices_from_mask(hidden))                   # [B, L, p*p*3]
        return unpatchify(logits, model.config.patch_size, (g, g))


class SimMIMTask(_MaskedTask):
    """Tiny SimMIM: `ViTForMaskedImageModeling`, hiding random squares of `mask_patch` px."""

    loss_kind = "l1"

    def build(self) -> torch.nn.Module:
        from transformers import ViTConfig, ViTForMaskedImageModeling

        args = dict(self.cfg["model"]["args"])
        config = ViTConfig(image_size=self.size, encoder_stride=args["patch_size"], **args)
        model = ViTForMaskedImageModeling(config)
        set_sincos_positions(model, [model.vit.embeddings.position_embeddings])
        return model

    def _cell(self, model_patch: int) -> int:
        return int(self.masking["mask_patch"]) // model_patch

    def loss(self, model, batch) -> torch.Tensor:
        (images,) = batch
        B = len(images)
        p = model.config.patch_size
        g = self.size // p
        cell = self._cell(p)
        c = g // cell
        n_hidden = count_hidden_simmim(c * c, self.masking["ratio"])                  # ceil, as SimMIM counts
        noise = torch.rand(B, c * c)                                                 # [B, c*c]
        coarse = torch.zeros(B, c * c, dtype=torch.bool)
        coarse.scatter_(1, noise.argsort(1)[:, :n_hidden], True)                     # [B, c*c] hide n cells
        fine = coarse.view(B, c, 1, c, 1).expand(B, c, cell, c, cell).reshape(B, g * g)  # [B, L]
        x = to_model_input(augment(images), self.mean, self.std)
        return model(pixel_values=x, bool_masked_pos=fine).loss  # L1 on hidden pixels inside

    def val_mask(self, index: int) -> np.ndarray:
        p = self.cfg["model"]["args"]["patch_size"]
        g = self.size // p
        return block_mask((g, g), self._cell(p), self.masking["ratio"], seed=10_000 + index)

    def reconstruct(self, model, x, hidden):
        return model(pixel_values=x, bool_masked_pos=hidden).reconstruction
