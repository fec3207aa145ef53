"""The tiny BLIP trainer task: three transformers BLIP models that share their parts, trained
together on ShapesWorld scenes with BLIP's three objectives.

    python -m visionlab.toy.train configs/shapes-blip-tiny.toml

transformers has one class per BLIP use: `BlipForConditionalGeneration` (captions: image
encoder + text decoder), `BlipForQuestionAnswering` (image encoder + question encoder + answer
decoder) and `BlipForImageTextRetrieval` (image encoder + text encoder + the ITM head and the
ITC projections). Here they are built from one `BlipConfig` and share modules as BLIP shares
them: one image encoder for all three, one text encoder for questions and for matching. Each
step of the text modules reads a batch of scenes' image features (the frozen encoder's output, see
below) and adds four losses:

- LM (language modelling): the caption decoder writes the scene's caption, cross-attending to
  the image patches (next-token cross-entropy);
- VQA: the text encoder reads each question while cross-attending to the image, and the answer
  decoder writes the answer while cross-attending to the encoded question;
- ITM (image-text matching): the same text encoder reads a true or a false sentence about each
  scene (false: an object changed, two colours swapped, a relation turned round, or another
  scene's caption) with the image, and a two-way head on its [CLS] says match or not;
- ITC (image-text contrast, as in CLIP): the text encoder alone (no image) and the image
  encoder's [CLS], each projected and normalised; cross-entropy along the rows and columns of
  the batch's similarity matrix, every true sentence counting as a positive.

As in BLIP, whose image encoder starts from an ImageNet ViT, the image encoder starts from a
pre-trained ViT: VisionLab's own `shapes-vit-tiny` (timm, trained to name single shapes; the
config's `model.vision_init`), whose blocks are BLIP's layer for layer (its 8 x 8 position table
is resized to the scenes' grid). Training has two stages, so that a CPU can do it in minutes:

1. The image encoder learns to see scenes (config `[vision]`): a linear head on each patch token
   names the colour and shape of the object covering most of that patch (or background), one on
   the mean of each object's patch tokens names the object (as a cross-attention that finds the
   object would read it) and says where its centre is (so that "left of" and "from left to right"
   can be read off the tokens), and one on [CLS] counts the objects; pictures flipped at random. A
   held-out probe (the same heads on scenes of the validation stream) measures how well the patch
   features name shape and colour and place the objects. The heads are dropped when the three
   models are saved.
2. The image encoder is frozen: its output for every training scene is computed once, and the
   text modules (caption decoder, question encoder, answer decoder, matching head and
   projections) train with LM, VQA, ITM and ITC on those cached features, many questions per
   scene, through the generic loop (`visionlab.toy.train`).

Held-out colour-shape pairs (config `data.held_out_pairs`) are never asked about or answered
in training (they still appear in pictures and captions); see `visionlab.toy.blip_eval`.
The three models are saved in sub-folders of `out_dir`, each a `save_pretrained` folder with
the processor (image processor + offline tokenizer) beside it.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from visionlab.ops.grids import grid_points
from visionlab.toy import blip_world as w
from visionlab.toy.clip_task import CLIP_MEAN, CLIP_STD, contrastive_loss
from visionlab.toy.shapes import COLOUR_NAMES, SHAPES, Scene, make_scene
from visionlab.toy.tasks import to_model_input

PARTS = {"caption": "captioner", "vqa": "answerer", "itm": "matcher"}  # sub-folder -> attribute
ROOT = Path(__file__).resolve().parents[2]


class BlipTrio(torch.nn.Module):
    """A captioner, an answerer and a matcher (the three transformers BLIP classes) sharing one
    image encoder, and the answerer's text encoder shared with the matcher. Training only (not
    saved): `itc_scale`, the contrastive loss's learnt temperature (the matcher's ITC score is a
    cosine), and stage 1's heads: `patch_head`, the per-patch colour-and-shape classifier,
    `object_head`, the same read from the mean of an object's patch tokens, `where_head`, the object's
    centre (x, y) read from that mean, and `count_head`, the number of objects read from [CLS]."""

    def __init__(self, config):
        super().__init__()
        from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipForQuestionAnswering

        self.captioner = BlipForConditionalGeneration(config)
        self.answerer = BlipForQuestionAnswering(config)
        self.matcher = BlipForImageTextRetrieval(config)
        self.answerer.vision_model = self.captioner.vision_model
        self.matcher.vision_model = self.captioner.vision_model
        self.matcher.text_encoder = self.answerer.text_encoder
        self.itc_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.patch_head = torch.nn.Linear(config.vision_config.hidden_size, 1 + len(SHAPES) * len(COLOUR_NAMES))
        self.count_head = torch.nn.Linear(config.vision_config.hidden_size, 1 + w.MAX_THINGS)
        self.object_head = torch.nn.Linear(config.vision_config.hidden_size, len(SHAPES) * len(COLOUR_NAMES))
        self.where_head = torch.nn.Linear(config.vision_config.hidden_size, 2)

    def stage1_parameters(self) -> list[torch.nn.Parameter]:
        """The image encoder and stage 1's heads: what stage 1 trains, then freezes."""
        return [*self.captioner.vision_model.parameters(), *self.patch_head.parameters(),
                *self.object_head.parameters(), *self.where_head.parameters(), *self.count_head.parameters()]


def timm_vit_to_blip(state: dict[str, torch.Tensor], grid: int) -> dict[str, torch.Tensor]:
    """A timm VisionTransformer's weights (class token, pre-norm blocks with fused qkv, final norm)
    renamed for transformers' `BlipVisionModel`, the position table resized to a grid x grid of patches
    (bicubic, as transformers' own `interpolate_pos_encoding`). The classifier head is dropped."""
    names = {"cls_token": "embeddings.class_embedding", "patch_embed.proj.weight": "embeddings.patch_embedding.weight",
             "patch_embed.proj.bias": "embeddings.patch_embedding.bias", "norm.weight": "post_layernorm.weight",
             "norm.bias": "post_layernorm.bias"}
    parts = {"norm1": "layer_norm1", "norm2": "layer_norm2", "attn.qkv": "self_attn.qkv",
             "attn.proj": "self_attn.projection", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
    out = {}
    for key, value in state.items():
        if key in names:
            out[names[key]] = value
        elif key.startswith("blocks."):
            _, i, rest = key.split(".", 2)
            part, kind = rest.rsplit(".", 1)
            out[f"encoder.layers.{i}.{parts[part]}.{kind}"] = value
    pos = state["pos_embed"]                                                  # [1, 1 + g0 * g0, D]
    g0, dim = int(round((pos.shape[1] - 1) ** 0.5)), pos.shape[2]
    table = pos[:, 1:].reshape(1, g0, g0, dim).permute(0, 3, 1, 2)            # [1, D, g0, g0]
    table = F.interpolate(table, size=(grid, grid), mode="bicubic", align_corners=False)
    out["embeddings.position_embedding"] = torch.cat([pos[:, :1], table.permute(0, 2, 3, 1).reshape(1, -1, dim)], 1)
    return out


def untied(model: torch.nn.Module) -> torch.nn.Module:
    """A copy whose text decoder's output layer has its own tensors (equal to the word embeddings and
    the bias they are tied to) and whose config says so. Loading a tied BLIP while another thread loads any
    transformers model can leave the tied tensor on the meta device (transformers 5.23); an untied
    checkpoint loads whole either way, with the same numbers."""
    import copy

    decoder = getattr(model, "text_decoder", None)
    if decoder is None:
        return model
    model = copy.deepcopy(model)
    decoder = model.text_decoder
    head = decoder.cls.predictions
    head.decoder.weight = torch.nn.Parameter(decoder.bert.embeddings.word_embeddings.weight.detach().clone())
    head.decoder.bias = torch.nn.Parameter(head.bias.detach().clone())
    model.config.tie_word_embeddings = False
    model.config.text_config.tie_word_embeddings = False
    return model


def build_config(model: dict[str, Any], image_size: int, tokenizer):
    """A BlipConfig from the TOML [model] table, with the tokenizer's special ids."""
    from transformers import BlipConfig

    text = dict(model["text"], vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.sep_token_id, sep_token_id=tokenizer.sep_token_id,
                pad_token_id=tokenizer.pad_token_id)
    vision = dict(model["vision"], image_size=image_size, initializer_range=0.02)  # layer_norm_eps etc. from TOML
    return BlipConfig(text_config=text, vision_config=vision,
                      image_text_hidden_size=model.get("image_text_hidden_size", 64))


def patch_labels(scene: Scene, patch: int) -> np.ndarray:
    """(g, g) int64: for each patch, 1 + shape * 6 + colour of the object that covers most of it
    (at least a fifth), else 0 (background)."""
    n, side = len(scene.masks), scene.image.shape[0]
    g = side // patch
    cover = scene.masks[:, :g * patch, :g * patch].reshape(n, g, patch, g, patch).mean((2, 4))  # [N, g, g]
    best = cover.argmax(0)                                                                      # [g, g]
    ids = 1 + scene.shape_ids * len(COLOUR_NAMES) + scene.colour_ids                            # [N]
    return np.where(cover.max(0) >= 0.2, ids[best], 0).astype(np.int64)


def scene_arrays(seed: int, count: int, size: int, patch: int, start: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scenes `start`... of stream `seed`: images (N, S, S, 3) uint8, objects (N, 5, 4) float32
    rows (shape, colour, x, y), -1 where a scene has fewer objects, and (N, g, g) patch labels."""
    g = size // patch
    images = np.zeros((count, size, size, 3), np.uint8)
    rows = np.zeros((count, w.MAX_THINGS, 4), np.float32)
    labels = np.zeros((count, g, g), np.int64)
    for i in range(count):
        scene = make_scene(seed, start + i, size, w.MAX_THINGS)
        images[i], rows[i] = scene.image, w.things_to_rows(w.things_of(scene))
        labels[i] = patch_labels(scene, patch)
    return images, rows, labels


def pooled_objects(tokens: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The mean patch token of each (colour, shape) present in each picture, its class (shape * 6 +
    colour) and where it is: the mean centre (x, y) of its patches as shares of the picture side.
    tokens [B, P, D] (patches only, P = g * g row by row), labels [B, P] patch labels (0 = background)."""
    onehot = F.one_hot(labels, 1 + len(SHAPES) * len(COLOUR_NAMES)).to(tokens.dtype)[:, :, 1:]   # [B, P, 36]
    patches = onehot.sum(1)                                                                   # [B, 36]
    means = torch.einsum("bpk,bpd->bkd", onehot, tokens) / patches.clamp(min=1)[..., None]  # [B, 36, D]
    g = int(round(labels.shape[1] ** 0.5))
    at = torch.from_numpy(grid_points(g, 1, 1)).to(tokens.dtype)                            # [P, 2] (x, y) row by row
    centres = torch.einsum("bpk,pc->bkc", onehot, at) / patches.clamp(min=1)[..., None]     # [B, 36, 2]
    present = patches > 0
    return means[present], torch.nonzero(present)[:, 1], centres[present]                    # [O, D], [O], [O, 2]


def decoder_inputs(tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[DEC] text [SEP] ids, their attention mask and LM labels (padding ignored), as BLIP's
    decoders are trained: the first token is replaced by the decoder's start token."""
    tok = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    ids = tok["input_ids"].clone()
    ids[:, 0] = tokenizer.bos_token_id
    labels = ids.masked_fill(tok["attention_mask"] == 0, -100)
    return ids, tok["attention_mask"], labels


class BlipTask:
    """See the module docstring."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg
        self.data = cfg["data"]
        self.vision = dict(cfg.get("vision", {}))
        self.size = int(self.data["image_size"])
        self.patch = int(cfg["model"]["vision"]["patch_size"])
        self.held_out = frozenset(tuple(p) for p in self.data.get("held_out_pairs", []))
        self.weights = dict(self.data.get("question_weights", {}))
        self.loss_weights = {"lm": 1.0, "vqa": 1.0, "itm": 1.0, "itc": 1.0, **cfg.get("loss", {})}
        # the image encoder's normalisation: that of the ViT it starts from (config `data.mean`, `data.std`)
        self.mean = tuple(self.data.get("mean", CLIP_MEAN))
        self.std = tuple(self.data.get("std", CLIP_STD))
        self.rng = np.random.default_rng(int(cfg.get("seed", 0)))
        self.model: BlipTrio | None = None
        self.frozen: torch.Tensor | None = None    # [N, 1 + P, D] the frozen image encoder's output per scene
        self.vision_scores: dict[str, float] = {}
        self.questions_per_scene = int(self.data.get("questions_per_scene", 8))
        self.tokenizer = w.build_tokenizer(int(cfg["model"]["text"]["max_position_embeddings"]))

    def build(self) -> torch.nn.Module:
        model = BlipTrio(build_config(self.cfg["model"], self.size, self.tokenizer))
        init = self.cfg["model"].get("vision_init")
        if init:  # BLIP starts from a pre-trained ViT; here VisionLab's own ShapesWorld ViT
            from safetensors.torch import load_file

            folder = ROOT / init
            if not (folder / "model.safetensors").exists():
                raise FileNotFoundError(f"{folder} is missing: train it first (configs/{folder.name}.toml)")
            state = timm_vit_to_blip(load_file(folder / "model.safetensors"), self.size // self.patch)
            missing, unexpected = model.captioner.vision_model.load_state_dict(state, strict=False)
            assert not unexpected and not missing, (missing, unexpected)
        self.model = model
        return model

    def train_arrays(self) -> tuple[torch.Tensor, ...]:
        """Stage 1 (the image encoder learns the scenes), then stage 2's data: each training scene's
        number (its row of the frozen image features) and its objects."""
        images, rows, labels = (torch.from_numpy(a) for a in
                                scene_arrays(self.data["train_seed"], self.data["train_scenes"], self.size, self.patch))
        assert self.model is not None, "build() first"
        if int(self.vision.get("steps", 0)):
            self.train_vision(self.model, images, rows, labels)
        self.freeze(self.model, images)
        return torch.arange(len(images)), rows

    def autocast(self):
        """The training forward passes of both stages in the config's `autocast` dtype on the CPU (for
        example "bfloat16": about 1.5x faster where the CPU has bfloat16 dot products). Weights, the
        optimiser, the frozen image features and the saved models stay float32, and so does the app."""
        dtype = self.cfg.get("autocast")
        return torch.autocast("cpu", dtype=getattr(torch, dtype or "bfloat16"), enabled=bool(dtype))

    # ---- stage 1: the image encoder ----
    def vision_loss(self, model: BlipTrio, images: torch.Tensor, rows: torch.Tensor, labels: torch.Tensor,
                    flip: tuple[bool, bool] = (False, False)) -> torch.Tensor:
        """Per-patch colour-and-shape cross-entropy, plus `vision.objects` x that of each object's mean
        patch token, plus `vision.where` x the squared error of the centre read from that mean (shares
        of the side), plus `vision.count` x the [CLS] count's. images
        [B, S, S, 3] uint8, rows [B, 5, 4], labels [B, g, g]; flip: (horizontal, vertical)."""
        if flip[0]:
            images, labels = images.flip(2), labels.flip(2)
        if flip[1]:
            images, labels = images.flip(1), labels.flip(1)
        tokens = model.captioner.vision_model(pixel_values=to_model_input(images, self.mean, self.std)).last_hidden_state
        patches = F.cross_entropy(model.patch_head(tokens[:, 1:]).flatten(0, 1), labels.flatten())  # [B * P, 37]
        means, which, centres = pooled_objects(tokens[:, 1:], labels.flatten(1))
        objects = F.cross_entropy(model.object_head(means), which)                                  # [O, 36]
        where = F.mse_loss(model.where_head(means).float(), centres.float())                        # [O, 2]
        count = F.cross_entropy(model.count_head(tokens[:, 0]), (rows[:, :, 0] >= 0).sum(1))      # [B, 6]
        return (patches + float(self.vision.get("objects", 1.0)) * objects + float(self.vision.get("where", 0.0)) * where
                + float(self.vision.get("count", 0.5)) * count)

    def train_vision(self, model: BlipTrio, images: torch.Tensor, rows: torch.Tensor, labels: torch.Tensor) -> None:
        """Stage 1: AdamW on the image encoder and its four heads, linear warm-up then cosine decay,
        linear learning-rate scaling (`vision.base_lr` x batch / `vision.base_batch_size`)."""
        from tqdm import tqdm

        from visionlab.toy.train import lr_at

        steps, batch = int(self.vision["steps"]), int(self.vision.get("batch_size", 64))
        peak = float(self.vision["base_lr"]) * batch / int(self.vision.get("base_batch_size", 256))
        params = model.stage1_parameters()
        decay = [p for p in params if p.ndim > 1]
        optim = torch.optim.AdamW([{"params": decay, "weight_decay": float(self.vision.get("weight_decay", 0.05))},
                                   {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}], lr=peak)
        gen = torch.Generator().manual_seed(int(self.cfg.get("seed", 0)))
        t0 = time.time()
        model.train()
        for step in tqdm(range(steps), desc="image encoder", unit="step"):
            for group in optim.param_groups:
                group["lr"] = lr_at(step, steps, int(self.vision.get("warmup_steps", 100)), peak)
            idx = torch.randint(0, len(images), (batch,), generator=gen)
            flip = (bool(self.rng.random() < 0.5), bool(self.rng.random() < 0.5))
            with self.autocast():
                loss = self.vision_loss(model, images[idx], rows[idx], labels[idx], flip)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
        model.eval()
        self.vision_scores = {"vision_seconds": round(time.time() - t0, 1), "vision_steps": float(steps),
                              **self.probe(model)}
        print("image encoder, held-out probe:", json.dumps(self.vision_scores), flush=True)

    @torch.no_grad()
    def probe(self, model: BlipTrio, scenes: int | None = None) -> dict[str, float]:
        """How well the image encoder's tokens name what is where, on scenes of the validation stream:
        the stage-1 heads read each object patch's shape and colour (patch_*), each object's shape and
        colour by the majority of its patches (object_*) and from the mean of its patch tokens
        (pooled_*), each object's centre from that mean (centre_error: mean absolute error in x and y,
        as a share of the side), and the number of objects from [CLS]."""
        n = int(scenes or self.vision.get("probe_scenes", 300))
        images, rows, labels = (torch.from_numpy(a) for a in
                                scene_arrays(self.data["val_seed"], n, self.size, self.patch, start=10_000))
        tokens = self.encode(model, images)                                             # [N, 1 + P, D]
        guess = model.patch_head(tokens[:, 1:]).argmax(-1)                              # [N, P]
        truth = labels.flatten(1)                                                       # [N, P]
        k = len(COLOUR_NAMES)
        on = truth > 0
        shape_ok = (guess > 0) & ((guess - 1) // k == (truth - 1) // k)
        colour_ok = (guess > 0) & ((guess - 1) % k == (truth - 1) % k)
        objects_shape, objects_colour = [], []
        for i in range(n):
            for label in truth[i].unique().tolist():
                if label == 0:
                    continue
                votes = guess[i][(truth[i] == label) & (guess[i] > 0)]
                objects_shape.append(len(votes) > 0 and int(((votes - 1) // k).mode().values) == (label - 1) // k)
                objects_colour.append(len(votes) > 0 and int(((votes - 1) % k).mode().values) == (label - 1) % k)
        count = model.count_head(tokens[:, 0]).argmax(-1) == (rows[:, :, 0] >= 0).sum(1)
        means, which, centres = pooled_objects(tokens[:, 1:], truth)
        named = model.object_head(means).argmax(-1)                                     # [O]
        off = (model.where_head(means) - centres).abs().mean()                          # shares of the side
        return {"probe_patch_shape": round(float(shape_ok[on].float().mean()), 4),
                "probe_patch_colour": round(float(colour_ok[on].float().mean()), 4),
                "probe_background": round(float((guess[~on] == 0).float().mean()), 4),
                "probe_object_shape": round(float(np.mean(objects_shape)), 4),
                "probe_object_colour": round(float(np.mean(objects_colour)), 4),
                "probe_pooled_shape": round(float((named // k == which // k).float().mean()), 4),
                "probe_pooled_colour": round(float((named % k == which % k).float().mean()), 4),
                "probe_count": round(float(count.float().mean()), 4),
                "probe_centre_error": round(float(off), 4)}

    @torch.no_grad()
    def encode(self, model: BlipTrio, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """The image encoder's output for uint8 pictures [N, S, S, 3]: [N, 1 + P, D] float32."""
        vision = model.captioner.vision_model
        return torch.cat([vision(pixel_values=to_model_input(images[i:i + batch], self.mean, self.std))
                          .last_hidden_state for i in range(0, len(images), batch)])

    def freeze(self, model: BlipTrio, images: torch.Tensor) -> None:
        """From now on the image encoder stays as it is: its output for every training scene is
        computed once, and the text modules train on it."""
        for p in model.stage1_parameters():
            p.requires_grad_(False)
            p.grad = None
        model.eval()
        self.frozen = self.encode(model, images)                                       # [N, 1 + P, D]

    # ---- stage 2: one step of the text modules ----
    def loss(self, model: BlipTrio, batch) -> torch.Tensor:
        index, rows = batch  # [B] the scenes' numbers, [B, 5, 4] their objects
        img = self.frozen[index]                                                      # [B, 1 + P, D]
        scenes = [w.rows_to_things(r) for r in rows.numpy()]
        with self.autocast():
            parts = {"lm": self.lm_loss(model, img, scenes), "vqa": self.vqa_loss(model, img, scenes),
                     **self.matching_losses(model, img, scenes)}
        return sum(self.loss_weights[k] * v for k, v in parts.items())

    def lm_loss(self, model: BlipTrio, img: torch.Tensor, scenes: list) -> torch.Tensor:
        ids, mask, labels = decoder_inputs(self.tokenizer, [w.caption(s) for s in scenes])
        return model.captioner.text_decoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=img,
                                            labels=labels).loss

    def vqa_loss(self, model: BlipTrio, img: torch.Tensor, scenes: list) -> torch.Tensor:
        which, questions, answers = [], [], []
        for i, things in enumerate(scenes):
            for _ in range(self.questions_per_scene):
                qa = w.ask_any(things, self.rng, self.held_out, self.weights)
                if qa is not None:
                    which.append(i)
                    questions.append(qa.question)
                    answers.append(qa.answer)
        q = self.tokenizer(questions, padding=True, truncation=True, return_tensors="pt")
        seen = img[which]                                                         # [Q, 1 + P, D]
        encoded = model.answerer.text_encoder(
            input_ids=q["input_ids"], attention_mask=q["attention_mask"], encoder_hidden_states=seen,
            encoder_attention_mask=torch.ones(seen.shape[:2], dtype=torch.long)).last_hidden_state  # [Q, T, D]
        ids, mask, labels = decoder_inputs(self.tokenizer, answers)
        return model.answerer.text_decoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=encoded,
                                           encoder_attention_mask=q["attention_mask"], labels=labels).loss

    def matching_losses(self, model: BlipTrio, img: torch.Tensor, scenes: list) -> dict[str, torch.Tensor]:
        B = len(scenes)
        true = [w.true_claim(s, self.rng) for s in scenes]
        texts = [w.sentence(c, self.rng) for c in true]
        # ITM: each scene with a true or (half the time) a false sentence about it
        match = self.rng.random(B) < 0.5
        shown = [t if m else w.sentence(w.false_claim(c, s, self.rng, [w.caption_claim(o) for o in scenes]), self.rng)
                 for t, m, c, s in zip(texts, match, true, scenes)]
        tok = self.tokenizer(shown, padding=True, truncation=True, return_tensors="pt")
        fused = model.matcher.text_encoder(
            input_ids=tok["input_ids"], attention_mask=tok["attention_mask"], encoder_hidden_states=img,
            encoder_attention_mask=torch.ones(img.shape[:2], dtype=torch.long)).last_hidden_state
        itm = F.cross_entropy(model.matcher.itm_head(fused[:, 0]), torch.from_numpy(match).long())  # [B, 2]
        # ITC: the true sentences, read without the picture, against every picture of the batch
        tok = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        alone = model.matcher.text_encoder(input_ids=tok["input_ids"],
                                           attention_mask=tok["attention_mask"]).last_hidden_state
        image_feat = F.normalize(model.matcher.vision_proj(img[:, 0]), dim=-1)      # [B, E]
        text_feat = F.normalize(model.matcher.text_proj(alone[:, 0]), dim=-1)       # [B, E]
        logits = model.itc_scale.exp().clamp(max=100) * image_feat @ text_feat.T    # [B, B]
        truth = torch.tensor([[w.true_of(c, s) for c in true] for s in scenes])    # [B, B] picture i, text j
        truth |= torch.eye(B, dtype=torch.bool)  # each sentence was made true of its own scene
        return {"itm": itm, "itc": contrastive_loss(logits, truth)}

    # ---- validation and saving ----
    def validate(self, model: BlipTrio) -> dict[str, float]:
        from visionlab.toy.blip_eval import evaluate_models

        scores = evaluate_models(model.captioner, model.answerer, model.matcher, self.tokenizer, self.mean,
                                 self.std, seed=self.data["val_seed"], per_kind=int(self.data.get("val_questions", 60)),
                                 held_out=self.held_out, held_out_per_kind=0, captions=int(self.data.get("val_captions", 60)))
        return {**self.vision_scores, **{f"val_{k}": v for k, v in scores.items() if isinstance(v, float)}}

    def processor(self):
        from transformers import BlipImageProcessor, BlipProcessor

        images = BlipImageProcessor(size={"height": self.size, "width": self.size}, image_mean=list(self.mean),
                                    image_std=list(self.std))
        return BlipProcessor(image_processor=images, tokenizer=self.tokenizer)

    def save(self, model: BlipTrio, out_dir: Path) -> None:
        out_dir = Path(out_dir)
        processor = self.processor()
        for folder, attr in PARTS.items():
            untied(getattr(model, attr)).save_pretrained(out_dir / folder)
            processor.save_pretrained(out_dir / folder)
        info = {"held_out_pairs": [list(p) for p in sorted(self.held_out)], "kinds": list(w.KINDS),
                "image_size": self.size, "level_margin": w.MARGIN, "train_seed": self.data["train_seed"],
                "val_seed": self.data["val_seed"], **self.vision_scores, "itc_scale": round(float(model.itc_scale.detach().exp()), 3),
                "example_questions": list(EXAMPLE_QUESTIONS)}
        (out_dir / "shapesworld.json").write_text(json.dumps(info, indent=2) + "\n")


# What the tab suggests asking the bundled model (one per kind, and one about something absent).
EXAMPLE_QUESTIONS = ("what colour is the star?", "what shape is the red one?", "how many shapes are there?",
                     "is there a blue ring?", "what is left of the square?", "how many crosses are there?")
