"""The tiny CLIP trainer task: a transformers `CLIPModel` learns ShapesWorld captions contrastively.

A batch of B pictures and B captions (one caption written for each picture, from a random
template) gives a (B, B) matrix of scaled cosine similarities; the loss is cross-entropy
along its rows (picture -> which caption?) and its columns (caption -> which picture?), as in
CLIP. One twist for a world this small: two pictures in a batch often fit the same caption
("a red circle"), so every caption that is true of a picture counts as a positive (the target
row is spread evenly over them) instead of only the diagonal.

Some colour-shape pairs (config `data.held_out_pairs`) never appear in training: the model
must compose "red" and "star" it learnt apart. See `visionlab.toy.clip_eval`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from visionlab.toy.clip_captions import (TRAIN_TEMPLATES, UNSEEN_TEMPLATE, build_tokenizer, captions,
                                         make_captioned_batch, truth)
from visionlab.toy.clip_eval import ALL_PAIRS, balanced_pairs, evaluate_encoders, pair_ids
from visionlab.toy.tasks import to_model_input

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP's normalisation, on a 0-1 scale
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def contrastive_loss(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy over a (B, M) logit matrix with (B, M) bool `positives`.

    Rows: each picture against all captions; columns: each caption against all pictures.
    With only the diagonal positive this is exactly CLIP's loss.
    """
    t = positives.float()
    per_image = -(t / t.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1)  # [B]
    per_text = -(t / t.sum(0, keepdim=True) * logits.log_softmax(0)).sum(0)   # [M]
    return (per_image.mean() + per_text.mean()) / 2


class ClipTask:
    """Contrastive image-text training of a small `CLIPModel` on captioned ShapesWorld pictures."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.data = cfg["data"]
        self.held_out = pair_ids(self.data.get("held_out_pairs", []))  # [K, 2] (shape, colour)
        self.mean, self.std = CLIP_MEAN, CLIP_STD
        self.rng = np.random.default_rng(int(cfg.get("seed", 0)))

    def build(self) -> torch.nn.Module:
        from transformers import CLIPConfig, CLIPModel

        m = self.cfg["model"]
        self.tokenizer = build_tokenizer(int(m["text"]["max_position_embeddings"]))
        tok = self.tokenizer
        text = dict(m["text"], vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                    eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        vision = dict(m["vision"], image_size=self.data["image_size"])
        config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=m["projection_dim"],
                            logit_scale_init_value=m.get("logit_scale_init", 2.6592))
        return CLIPModel(config)

    def train_pairs(self) -> np.ndarray:
        """(N, 2) (shape, colour) rows for the training pictures: the allowed pairs, evenly, shuffled."""
        held = {tuple(p) for p in self.held_out.tolist()}
        allowed = np.array([p for p in ALL_PAIRS.tolist() if tuple(p) not in held], np.int64)
        pairs = balanced_pairs(self.data["train_images"], allowed)
        return pairs[np.random.default_rng(self.data["train_seed"]).permutation(len(pairs))]

    def train_arrays(self) -> tuple[torch.Tensor, ...]:
        images, attrs = make_captioned_batch(self.data["train_seed"], 0, self.train_pairs(), self.data["image_size"])
        return torch.from_numpy(images), torch.from_numpy(attrs)

    def loss(self, model, batch) -> torch.Tensor:
        images, attrs = batch  # [B, H, W, 3] uint8, [B, 5] int64
        images, attrs = self.flip(images, attrs.numpy().copy())
        texts, said = captions(attrs, self.rng, tuple(self.data.get("mention_shape_colour", (0.85, 0.85))))
        tokens = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        img = F.normalize(model.get_image_features(
            pixel_values=to_model_input(images, self.mean, self.std)).pooler_output, dim=-1)  # [B, D]
        txt = F.normalize(model.get_text_features(**tokens).pooler_output, dim=-1)       # [B, D]
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T                    # [B, B]
        return contrastive_loss(logits, torch.from_numpy(truth(attrs, said)))

    def flip(self, images: torch.Tensor, attrs: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Random mirror images; "left" and "right" (or "top" and "bottom") swap with them."""
        if self.rng.random() < 0.5:
            images, attrs[:, 3] = images.flip(2), 2 - attrs[:, 3]
        if self.rng.random() < 0.5:
            images, attrs[:, 4] = images.flip(1), 2 - attrs[:, 4]
        return images, attrs

    def encoders(self, model):
        """(pictures -> unit vectors, sentences -> unit vectors) for the evaluation, batched."""
        @torch.inference_mode()
        def encode_images(images: list) -> np.ndarray:
            x = to_model_input(np.stack(images), self.mean, self.std)
            return F.normalize(model.get_image_features(pixel_values=x).pooler_output, dim=-1).numpy()

        @torch.inference_mode()
        def encode_texts(texts: list) -> np.ndarray:
            tokens = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
            return F.normalize(model.get_text_features(**tokens).pooler_output, dim=-1).numpy()

        return encode_images, encode_texts

    def validate(self, model) -> dict[str, float]:
        scores = evaluate_encoders(*self.encoders(model), self.held_out, self.data["val_images"],
                                   self.data.get("val_held_out_images", 120), self.data["val_seed"],
                                   self.data["image_size"])
        keep = ("shape_top1", "colour_top1", "pair_top1", "held_out_pair_top1")
        return {f"val_{k}": scores[k] for k in keep if k in scores} | {
            "logit_scale": round(model.logit_scale.exp().item(), 2)}

    def save(self, model, out_dir: Path) -> None:
        from transformers import CLIPImageProcessor, CLIPProcessor

        side = self.data["image_size"]
        images = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side},
                                    image_mean=list(self.mean), image_std=list(self.std))
        model.save_pretrained(out_dir)
        CLIPProcessor(image_processor=images, tokenizer=self.tokenizer).save_pretrained(out_dir)
        info = {"held_out_pairs": self.data.get("held_out_pairs", []), "train_templates": list(TRAIN_TEMPLATES),
                "unseen_template": UNSEEN_TEMPLATE}
        (Path(out_dir) / "shapesworld.json").write_text(json.dumps(info, indent=2) + "\n")
