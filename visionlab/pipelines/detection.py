"""Object detection, split where the lesson is: the raw candidates, then the clean-up.

    raw = detect(image, "shapes-detector-tiny")                 # model: every candidate box
    kept = suppress(raw, score_threshold=0.3, iou_threshold=0.5, mode="per-class")

`detect` runs the model once and returns every candidate above a low floor; `suppress` is
pure and fast (no model), so sliders for the thresholds and the NMS mode update at once.
Three kinds of detector sit behind `detect`:
- VisionLab's dense detector (bundled): one box per feature cell, its best class;
- OWL-ViT and OWLv2 (open vocabulary): one box per image patch, scored against text queries;
- Grounding DINO (open vocabulary, DETR-style): 900 learned queries matched to a text prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from visionlab.errors import VisionLabError
from visionlab.text import Text
from visionlab.models import LoadedModel, load_model
from visionlab.models.gpu import gpu_task
from visionlab.ops.boxes import NmsStep, batched_nms, nms, score_order, soft_nms
from visionlab.ops.images import ImageLike, load_image
from visionlab.pipelines.base import Pipeline, Timings

SCORE_FLOOR = 0.02       # candidates below this never reach the screen
MAX_CANDIDATES = 1000    # the best this many are kept as "raw" output
NMS_MODES = ("none", "class-agnostic", "per-class", "soft-nms linear", "soft-nms gaussian")


NO_QUERIES = Text("Type what to look for (for example: cat, cup, rocket), separated by commas.",
                  "请输入要找的东西（例如：cat, cup, rocket），用逗号分隔。")


class NoQueries(VisionLabError, ValueError):
    """An open-vocabulary detector was given nothing to look for."""


@dataclass(frozen=True)
class RawDetections:
    """Every candidate a detector proposed, before any clean-up.

    image: (H, W, 3) uint8 RGB, the picture the boxes refer to (after load_image's downscale).
    boxes: (N, 4) float32 XYXY in that picture's pixels. scores: (N,) float32 in [0, 1].
    labels: (N,) int64 indices into `label_names`. Sorted by decreasing score.
    model: registry key that answered; notice: why it is not the one asked for (or None).
    """

    image: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    model: str
    title: str
    notice: Text | None
    timings: Timings
    note: Text | None = None

    def above(self, score_threshold: float) -> np.ndarray:
        """Indices of the candidates scoring at least `score_threshold`."""
        return np.flatnonzero(self.scores >= score_threshold)


@dataclass(frozen=True)
class Kept:
    """The result of the clean-up. indices: into the RawDetections, best first;
    scores: their final scores (lowered by Soft-NMS); candidates: how many passed the score
    threshold; trace: every greedy-NMS decision (empty for "none" and Soft-NMS)."""

    indices: np.ndarray
    scores: np.ndarray
    candidates: np.ndarray
    mode: str
    trace: list[NmsStep] = field(default_factory=list)

    def as_json(self, raw: RawDetections) -> list[dict[str, Any]]:
        """Kept boxes as plain data: [{"box": [x0, y0, x1, y1], "score", "label"}], pixels of raw.image."""
        return [{"box": [round(float(v), 1) for v in raw.boxes[i]], "score": round(float(s), 4),
                 "label": raw.label_names[raw.labels[i]]} for i, s in zip(self.indices, self.scores)]


def suppress(raw: RawDetections, score_threshold: float = 0.3, iou_threshold: float = 0.5,
             mode: str = "per-class") -> Kept:
    """Apply the score threshold, then the chosen NMS. Pure: no model is run.

    Soft-NMS is class-agnostic here: boxes are re-scored against every better box, and those
    that fall below the score threshold go.
    """
    if mode not in NMS_MODES:
        raise VisionLabError(Text(f"'{mode}' is not an NMS mode; choose one of: {', '.join(NMS_MODES)}.",
                                  f"“{mode}” 不是一种非极大值抑制（NMS）方式；请从这些里选：{'、'.join(NMS_MODES)}。"))
    cand = raw.above(score_threshold)
    boxes, scores, labels = raw.boxes[cand], raw.scores[cand], raw.labels[cand]
    trace: list[NmsStep] = []
    if mode == "none":
        keep, final = np.arange(len(cand)), scores
    elif mode == "class-agnostic":
        keep = nms(boxes, scores, iou_threshold, trace)
        final = scores[keep]
    elif mode == "per-class":
        keep = batched_nms(boxes, scores, labels, iou_threshold, trace)
        final = scores[keep]
    else:
        keep, final = soft_nms(boxes, scores, iou_threshold, mode.split()[-1], score_threshold=score_threshold)
        order = score_order(final)
        keep, final = keep[order], final[order]
    trace = [NmsStep(int(cand[s.kept]), cand[s.rivals], s.ious, s.suppressed) for s in trace]
    return Kept(cand[keep], np.asarray(final, np.float32), cand, mode, trace)


def parse_queries(text: str | None) -> list[str]:
    """The queries in `text`, by VisionLab's one label parser (`visionlab.ops.labels`): split at
    commas, new lines, semicolons, "，", "；" and "、"; repeats dropped case-insensitively."""
    from visionlab.ops.labels import split_labels

    return split_labels(text).items


@dataclass(frozen=True)
class Settings:
    """The clean-up a detector's reference code applies: keep boxes scoring above
    `score_threshold`, then `mode` NMS at `iou_threshold` ("none": no NMS). text_threshold:
    Grounding DINO only, which words name a box. source: where these numbers come from."""

    score_threshold: float
    iou_threshold: float
    mode: str
    text_threshold: float | None
    source: str


GROUNDING_DINO_TEXT_THRESHOLD = 0.25   # transformers' post_process_grounded_object_detection default
REFERENCE_SETTINGS: dict[str, Settings] = {
    # VisionLab's own detector: the settings its held-out mAP is measured with.
    "DenseDetector": Settings(0.3, 0.5, "per-class", None, "VisionLab's evaluation of its ShapesWorld detector"),
    # transformers' post_process_object_detection: threshold 0.1, no NMS.
    "OwlViTForObjectDetection": Settings(0.1, 0.5, "none", None, "transformers' OWL-ViT post-processing"),
    "Owlv2ForObjectDetection": Settings(0.1, 0.5, "none", None, "transformers' OWLv2 post-processing"),
    # transformers' post_process_grounded_object_detection: box and text thresholds 0.25, no NMS
    # (IDEA's own demo uses a box threshold of 0.35).
    "GroundingDinoForObjectDetection": Settings(0.25, 0.5, "none", GROUNDING_DINO_TEXT_THRESHOLD,
                                                "transformers' Grounding DINO post-processing"),
}


def reference_settings(model: str) -> Settings:
    """The score threshold, NMS and text threshold of registry model `model`'s reference code."""
    from visionlab.models import get_spec

    return REFERENCE_SETTINGS[get_spec(model).arch]


class DetectionPipeline(Pipeline[RawDetections]):
    """Shared shape: `_raw(image, queries)` gives boxes, scores and labels for one picture."""

    label_names: tuple[str, ...] = ()

    def preprocess(self, image: ImageLike, queries: str = "", text_threshold: float | None = None,
                   **params: Any) -> dict[str, Any]:
        picture = load_image(image)
        names = parse_queries(queries)
        return {"picture": picture, "queries": names, "text_threshold": text_threshold, **self.encode(picture, names)}

    def encode(self, picture, queries: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def postprocess(self, inputs, outputs, timings: Timings, **params: Any) -> RawDetections:
        boxes, scores, labels, names, note = self.decode(inputs, outputs)
        picture = inputs["picture"]
        W, H = picture.size
        boxes = boxes.clip(0, [W, H, W, H])
        order = score_order(scores)
        order = order[scores[order] >= SCORE_FLOOR][:MAX_CANDIDATES]
        spec = self.loaded.spec
        return RawDetections(np.asarray(picture), boxes[order].astype(np.float32), scores[order].astype(np.float32),
                             labels[order].astype(np.int64), tuple(names), spec.key, spec.title,
                             self.loaded.notice, timings, note)

    def decode(self, inputs, outputs) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], Text | None]:
        raise NotImplementedError


class DenseDetectorPipeline(DetectionPipeline):
    """VisionLab's ShapesWorld detector: the picture is resized to its square input."""

    def encode(self, picture, queries):
        cfg = self.model.config
        small = np.asarray(picture.resize((cfg.input_size, cfg.input_size), resample=2), np.float32) / 255.0
        x = (torch.from_numpy(small) - torch.tensor(cfg.mean)) / torch.tensor(cfg.std)   # [S, S, 3]
        return {"pixel_values": x.permute(2, 0, 1).unsqueeze(0)}                         # [1, 3, S, S]

    def _forward(self, inputs):
        out = self.model(inputs["pixel_values"].to(self.device, self.dtype))
        return out.boxes()[0], out.scores()[0]                   # [L, 4] px of the input, [L, K]

    def decode(self, inputs, outputs):
        boxes, scores = outputs
        W, H = inputs["picture"].size
        S = self.model.config.input_size
        boxes = boxes.numpy() * np.array([W / S, H / S, W / S, H / S], np.float32)
        best, labels = scores.max(-1)
        note = Text("This detector was trained on ShapesWorld: it finds only its six shapes, "
                    "and the text queries are not used.",
                    "这个检测器是在 ShapesWorld 上训练的：它只找它的六种形状，不使用文字查询。") if inputs["queries"] else None
        return boxes, best.numpy(), labels.numpy(), list(self.model.config.labels), note


class OwlPipeline(DetectionPipeline):
    """OWL-ViT / OWLv2: every image patch predicts one box, scored against each text query."""

    def __init__(self, loaded: LoadedModel):
        super().__init__(loaded)
        self.processor = processor_for(loaded)
        self.padded_square = type(self.model).__name__.startswith("Owlv2")  # OWLv2 pads to a square

    def encode(self, picture, queries):
        if not queries:
            raise NoQueries(NO_QUERIES)
        return dict(self.processor(text=[queries], images=picture, return_tensors="pt"))

    def _forward(self, inputs):
        tensors = {k: v.to(self.device) for k, v in inputs.items() if isinstance(v, torch.Tensor)}
        tensors["pixel_values"] = tensors["pixel_values"].to(self.dtype)
        out = self.model(**tensors)
        return out.pred_boxes[0], out.logits[0]                  # [P, 4] cx cy w h in 0-1, [P, Q] logits

    def decode(self, inputs, outputs):
        cxcywh, logits = outputs
        W, H = inputs["picture"].size
        sx, sy = (max(W, H), max(W, H)) if self.padded_square else (W, H)
        cx, cy, w, h = cxcywh.unbind(-1)
        boxes = torch.stack([(cx - w / 2) * sx, (cy - h / 2) * sy, (cx + w / 2) * sx, (cy + h / 2) * sy], -1)
        best, labels = logits.max(-1)                            # as transformers: the best logit, then sigmoid
        return boxes.numpy(), best.sigmoid().numpy(), labels.numpy(), inputs["queries"], None


class GroundingDinoPipeline(DetectionPipeline):
    """Grounding DINO: a fixed set of learned object queries, each matched to the words of the prompt.

    Scores and labels as transformers' `post_process_grounded_object_detection`: a box's score
    is its best match over every token of the prompt; its label is the words of the tokens it
    matches above the text threshold (so one box can be named by words of two queries)."""

    def __init__(self, loaded: LoadedModel):
        super().__init__(loaded)
        self.processor = processor_for(loaded)

    def encode(self, picture, queries):
        if not queries:
            raise NoQueries(NO_QUERIES)
        text = ". ".join(q.lower().replace(".", " ") for q in queries) + "."   # "." separates queries
        return dict(self.processor(images=picture, text=text, return_tensors="pt"))

    def _forward(self, inputs):
        tensors = {k: v.to(self.device) for k, v in inputs.items() if isinstance(v, torch.Tensor)}
        tensors["pixel_values"] = tensors["pixel_values"].to(self.dtype)
        out = self.model(**tensors)
        return out.logits[0].sigmoid(), out.pred_boxes[0]          # [Q, max_text_len], [Q, 4] cx cy w h in 0-1

    def decode(self, inputs, outputs):
        probs, cxcywh = outputs
        W, H = inputs["picture"].size
        scores = probs.max(-1).values                              # [Q] best token (padding tokens are 0)
        cx, cy, w, h = cxcywh.unbind(-1)
        boxes = torch.stack([(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H], -1)
        threshold = inputs["text_threshold"]
        words = probs > (GROUNDING_DINO_TEXT_THRESHOLD if threshold is None else float(threshold))   # [Q, max_text_len]
        words[:, 0] = words[:, -1] = False                         # as transformers: never the first or last slot
        ids = inputs["input_ids"][0].tolist()
        label_of_text: dict[str, int] = {}                         # decoded words -> label index
        label_of_tokens: dict[tuple[int, ...], int] = {}           # token ids -> label index (decode once)
        labels = np.zeros(len(scores), np.int64)
        for q, row in enumerate(words):
            tokens = tuple(ids[i] for i in row.nonzero().flatten().tolist())
            if tokens not in label_of_tokens:
                text = self.processor.tokenizer.decode(list(tokens))
                label_of_tokens[tokens] = label_of_text.setdefault(text, len(label_of_text))
            labels[q] = label_of_tokens[tokens]
        return boxes.numpy(), scores.numpy(), labels, list(label_of_text), Text(
            "Grounding DINO is DETR-style: its queries are trained not to repeat each other, so its reference "
            "code uses no NMS. A box's score is its best-matching word; its label is every word it matches above "
            f"the text threshold ({GROUNDING_DINO_TEXT_THRESHOLD if threshold is None else float(threshold):g}).",
            "Grounding DINO 是 DETR 式的：它的查询在训练时就学会了互不重复，所以它的参考代码不做 NMS。"
            "一个框的分数是它最匹配的那个词的分数；它的标签是所有匹配度高于文字阈值"
            f"（{GROUNDING_DINO_TEXT_THRESHOLD if threshold is None else float(threshold):g}）的词。")


def processor_for(loaded: LoadedModel):
    """The model's processor (image resizing and tokenizer), loaded once per model."""
    if "processor" not in loaded.memo:
        from visionlab.models.loader import IMPORT_LOCK

        with IMPORT_LOCK:
            from transformers import AutoProcessor
        spec = loaded.spec
        loaded.memo["processor"] = AutoProcessor.from_pretrained(
            spec.local_dir if spec.bundled else spec.hub_id, trust_remote_code=False)
    return loaded.memo["processor"]


PIPELINES: dict[str, type[DetectionPipeline]] = {
    "DenseDetector": DenseDetectorPipeline,
    "OwlViTForObjectDetection": OwlPipeline,
    "Owlv2ForObjectDetection": OwlPipeline,
    "GroundingDinoForObjectDetection": GroundingDinoPipeline,
}


@gpu_task(duration=15)
def detect(image: ImageLike, model: str = "shapes-detector-tiny", queries: str = "",
           text_threshold: float | None = None) -> RawDetections:
    """Every candidate box the registry model `model` proposes for `image` (see `suppress`).
    text_threshold: Grounding DINO only, which words name a box (None: the reference's 0.25)."""
    loaded = load_model(model)
    return PIPELINES[loaded.spec.arch](loaded)(image, queries=queries, text_threshold=text_threshold)
