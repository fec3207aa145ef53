"""Zero-shot classification with CLIP: any labels, turned into sentences, ranked for a picture.

    result = zero_shot(image, "cat, dog, car", model="clip-vit-b32")
    result.ranked[0].label, result.ranked[0].probability, result.logit_scale

Two encoders map a picture and a sentence into one space of unit vectors. Each label is
written into one or more templates ("a photo of a {}."); with several templates the
sentence embeddings of a label are averaged and normalised again (a prompt ensemble). The
picture's cosine similarity to each label, times the model's logit scale, goes through a
softmax over the labels. Cosines are also returned as they are: they do not depend on the
other labels, so they show when none of the labels fits.

Text embeddings are cached by (model, templates, labels) and picture embeddings by (model,
picture content), both shared by every session and bounded by bytes: asking again with the
same labels skips the text encoder, a second question about the same picture skips the image
encoder, and a question whose both sides are cached runs no model at all. The caches live
where the question was asked; the model work crosses the device boundary (`gpu_task`) with
the cached entries as plain values and comes back with the new ones.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from visionlab import budget
from visionlab.errors import VisionLabError
from visionlab.text import Text
from visionlab.models import LoadedModel, ModelSpec, get_spec, load_model
from visionlab.models.cache import LRUCache
from visionlab.models.gpu import gpu_task
from visionlab.ops.images import ImageLike, content_key, load_image
from visionlab.ops.similarity import cosine_matrix, ensemble, softmax
from visionlab.pipelines.base import Pipeline, Timings
from visionlab.pipelines.zero_shot_defaults import (CHINESE_LABELS, EVERYDAY_LABELS, SHAPES_LABELS,  # noqa: F401
                                                    TEMPLATES, Defaults, defaults_for)

MAX_LABELS = 500
MAX_GALLERY = 40  # pictures in the similarity matrix / retrieval gallery
TEXT_BATCH = 256      # sentences per text-encoder call
IMAGE_BATCH = 128     # pictures per image-encoder call

class LabelError(VisionLabError, ValueError):
    """Labels or templates that cannot be used; the message says what to type instead."""


def parse_labels(text: str | list[str] | None) -> tuple[list[str], list[str]]:
    """Labels from comma- or newline-separated text, by VisionLab's one label parser
    (`visionlab.ops.labels.split_labels`: also "，", "、", ";" and "；"; repeats dropped
    case-insensitively, the first spelling kept). Returns (labels, notes)."""
    from visionlab.ops.labels import split_labels

    parsed = split_labels(text)
    labels, repeats = parsed.items, parsed.repeats
    if not labels:
        raise LabelError(Text("Please type at least one label (for example: cat, dog, car), separated by commas "
                              "or new lines.", "请至少输入一个标签（例如：cat, dog, car），用逗号或换行分隔。"))
    if len(labels) > MAX_LABELS:
        raise LabelError(Text(f"That is {len(labels)} labels; VisionLab takes at most {MAX_LABELS} at once.",
                              f"这里有 {len(labels)} 个标签；VisionLab 一次最多接受 {MAX_LABELS} 个。"))
    notes = []
    if repeats:
        shown = ", ".join(repr(r) for r in repeats[:5]) + (" ..." if len(repeats) > 5 else "")
        notes.append(Text(f"Repeated labels were counted once: {shown}.", f"重复的标签只算一次：{shown}。"))
    if len(labels) == 1:
        notes.append(Text(f"Only one label, so its probability is 1: a softmax shares probability among "
                          f"alternatives, and '{labels[0]}' has none. Add other labels to compare, or read its "
                          "cosine similarity, which does not depend on the others.",
                          f"只有一个标签，所以它的概率是 1：softmax 是在几个选项之间分配概率，而“{labels[0]}”没有对手。"
                          "加几个别的标签来比较，或者看它的余弦相似度，那个不受其他标签影响。"))
    return labels, notes


def parse_templates(text: str | list[str] | tuple[str, ...] | None, fallback: str = "a photo of a {}.") -> list[str]:
    """Templates, one per line, each with {} where the label goes (repeats dropped)."""
    lines = list(text) if isinstance(text, (list, tuple)) else (text or "").splitlines()
    templates = list(dict.fromkeys(" ".join(t.split()) for t in lines if t.strip()))
    if not templates:
        return [fallback]
    bad = [t for t in templates if t.count("{}") != 1]
    if bad:
        raise LabelError(Text(f"The template '{bad[0]}' needs exactly one {{}} where the label goes, "
                              "for example: a photo of a {}.",
                              f"模板“{bad[0]}”需要恰好一个 {{}} 来放标签，例如：a photo of a {{}}."))
    return templates


def fill(template: str, label: str) -> str:
    """The template with the label where its {} is. A plain substitution: the template is the
    student's text, never a format string (so "{0.__doc__}" or "{:>1000000}" stay as typed)."""
    return template.replace("{}", label, 1)


@dataclass(frozen=True)
class TextEntry:
    """Cached text side of one (model, templates, labels) question. model: the registry key
    that encoded it. embeddings: (M, D) float32 unit vectors, one per label (template ensemble).
    notes: sentences about labels cut to the text encoder's context. ms: what tokenising and
    encoding took when it was made (reported again on a cache hit, so the time shown does not
    tell a student that someone else asked the same)."""

    model: str
    embeddings: np.ndarray
    notes: tuple[Text, ...]
    ms: float = 0.0


@dataclass(frozen=True)
class ImageEntry:
    """Cached picture side: model, the registry key that encoded it; embedding (D,) float32 unit
    vector; seen (S, S, 3) uint8 RGB, what the image encoder received (normalisation undone);
    ms: what preparing and encoding the picture took when it was made (see TextEntry)."""

    model: str
    embedding: np.ndarray
    seen: np.ndarray
    ms: float = 0.0


TEXT_CACHE: LRUCache[TextEntry] = LRUCache(max_bytes=32 << 20)    # (model, templates, labels) -> text side
IMAGE_CACHE: LRUCache[ImageEntry] = LRUCache(max_bytes=64 << 20)  # (model, picture content) -> picture side


@dataclass(frozen=True)
class LabelScore:
    """One label. sentences: the template-filled sentences that were encoded. cosine: the cosine
    similarity (in [-1, 1]) of the picture to the label's text embedding; logit = logit_scale *
    cosine; probability: softmax of the logits over all labels (sums to 1 over labels)."""

    label: str
    sentences: tuple[str, ...]
    cosine: float
    logit: float
    probability: float


@dataclass(frozen=True)
class ZeroShotResult:
    """What one zero-shot call produced.

    ranked: labels by probability, best first. logit_scale: the model's learnt temperature
    (logits = logit_scale * cosine). model_input: (S, S, 3) uint8 RGB, what the image encoder
    saw. notes: sentences about the input (repeats, one label, cut labels). notice: why another
    model answered than the one requested (None if it did not). text_cached / image_cached:
    whether the encoders were skipped thanks to the caches (never shown: the caches are shared).
    image_entry / text_entry: both sides as computed or reused (what the caches keep).
    latency_ms: what the two sides took to compute, the same whether they came from a cache.
    """

    ranked: tuple[LabelScore, ...]
    templates: tuple[str, ...]
    logit_scale: float
    model_input: np.ndarray
    model: str
    requested: str
    device: str
    notes: tuple[Text, ...]
    notice: Text | None
    text_cached: bool
    image_cached: bool
    timings: Timings
    image_entry: ImageEntry | None = field(default=None, repr=False, compare=False)
    text_entry: TextEntry | None = field(default=None, repr=False, compare=False)

    @property
    def latency_ms(self) -> float:
        if self.image_entry is None or self.text_entry is None:
            return self.timings.preprocess_ms + self.timings.forward_ms
        return self.image_entry.ms + self.text_entry.ms


@dataclass(frozen=True)
class Prepared:
    """The processor and tokenizer of a model, its text context in tokens, and a lock that lets one
    thread at a time use the tokenizer (shared by every request)."""

    processor: Any
    tokenizer: Any
    context: int
    mean: np.ndarray
    std: np.ndarray
    lock: Any = field(default_factory=threading.Lock, compare=False, repr=False)


def prepared_for(loaded: LoadedModel) -> Prepared:
    """The model's processor (from the same folder or hub id), loaded once per model (loaded.memo)."""
    if "zero_shot" not in loaded.memo:
        from transformers import AutoProcessor

        spec = loaded.spec
        processor = AutoProcessor.from_pretrained(spec.local_dir if spec.bundled else spec.hub_id)
        tokenizer = processor.tokenizer
        positions = int(loaded.model.config.text_config.max_position_embeddings)
        limit = int(getattr(tokenizer, "model_max_length", positions) or positions)
        ip = processor.image_processor
        loaded.memo["zero_shot"] = Prepared(processor, tokenizer, min(positions, limit),
                                            np.array(ip.image_mean, np.float32), np.array(ip.image_std, np.float32))
    return loaded.memo["zero_shot"]


class ZeroShotPipeline(Pipeline[ZeroShotResult]):
    """preprocess: labels, templates, picture, and whatever the caches lack; _forward: the
    encoders that are still needed; postprocess: cosines, logits, softmax, ranking."""

    def __init__(self, loaded: LoadedModel):
        super().__init__(loaded)
        self.prepared = prepared_for(loaded)
        self.key = loaded.spec.key

    # ---- encoders (also used batched by the evaluation and the similarity matrix) ----
    def _image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.model.get_image_features(pixel_values=pixel_values.to(self.device, self.dtype))
        return torch.nn.functional.normalize(out.pooler_output.float(), dim=-1)  # [B, D]

    def _text_features(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.model.get_text_features(**{k: v.to(self.device) for k, v in tokens.items()})
        return torch.nn.functional.normalize(out.pooler_output.float(), dim=-1)  # [M, D]

    def tokenize(self, sentences: list[str]) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Tokens cut to the context (start and end tokens kept), and the sentences that were cut."""
        tok = self.prepared.tokenizer
        with self.prepared.lock:  # a fast tokenizer keeps its padding/truncation settings between calls
            longer = tok(sentences, truncation=True, max_length=self.prepared.context + 1)["input_ids"]
            tokens = tok(sentences, padding=True, truncation=True, max_length=self.prepared.context,
                         return_tensors="pt")
        cut = [s for s, ids in zip(sentences, longer) if len(ids) > self.prepared.context]
        return {k: v for k, v in tokens.items() if k in ("input_ids", "attention_mask", "token_type_ids")}, cut

    def pixel_values(self, pictures: list) -> torch.Tensor:
        """RGB pictures (PIL or (H, W, 3) uint8) -> (B, 3, S, S) normalised, via the model's processor."""
        return self.prepared.processor.image_processor(images=pictures, return_tensors="pt")["pixel_values"]

    def seen(self, pixel_values: torch.Tensor) -> np.ndarray:
        """(3, S, S) normalised -> (S, S, 3) uint8: what the encoder saw, normalisation undone."""
        x = pixel_values.float().permute(1, 2, 0).numpy() * self.prepared.std + self.prepared.mean  # [S, S, 3]
        return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)

    def text_chunks(self, sentences: list[str]) -> tuple[list[dict[str, torch.Tensor]], list[str]]:
        """Token batches of at most TEXT_BATCH sentences, and every sentence that was cut."""
        chunks, cut = [], []
        for i in range(0, len(sentences), TEXT_BATCH):
            tokens, c = self.tokenize(sentences[i:i + TEXT_BATCH])
            chunks.append(tokens)
            cut += c
        return chunks, cut

    def encode_texts(self, sentences: list[str]) -> np.ndarray:
        """Sentences -> (M, D) float32 unit vectors (no cache), in batches."""
        return self.forward({"token_chunks": self.text_chunks(sentences)[0]})["text"].numpy()

    def encode_images(self, images: list[ImageLike]) -> np.ndarray:
        """Pictures -> (N, D) float32 unit vectors, in batches (no cache)."""
        return np.stack([e.embedding for e in self.image_entries(images)])

    def mine(self, entry: ImageEntry | TextEntry | None):
        """`entry` if this model made it, else None (a cached entry of another model is no use)."""
        return entry if entry is not None and entry.model == self.key else None

    def image_entries(self, images: list[ImageLike | None],
                      known: list[ImageEntry | None] | None = None) -> list[ImageEntry]:
        """Each picture's embedding and model input: `known[i]` when given (its picture may then
        be None), else encoded, in batches."""
        found = [self.mine(k) for k in (known or [None] * len(images))]
        todo = [i for i, f in enumerate(found) if f is None]
        for start in range(0, len(todo), IMAGE_BATCH):
            idx = todo[start:start + IMAGE_BATCH]
            t0 = time.perf_counter()
            x = self.pixel_values([load_image(images[i]) for i in idx])  # [b, 3, S, S]
            emb = self.forward({"pixel_values": x})["image"].numpy()  # [b, D]
            ms = (time.perf_counter() - t0) * 1e3 / len(idx)
            for row, i in enumerate(idx):
                found[i] = ImageEntry(self.key, emb[row], self.seen(x[row]), ms)
        return found

    def label_embeddings(self, labels: list[str], templates: list[str],
                         known: TextEntry | None = None) -> tuple[TextEntry, bool]:
        """(M, D) ensemble text embeddings of `labels`: `known` when given, else encoded.
        Returns (entry, whether `known` was used)."""
        if self.mine(known) is not None:
            return known, True
        inputs = self.text_inputs(labels, templates)
        out = self.forward(inputs)
        return self.text_entry(inputs, out["text"], inputs["text_prep_ms"] + out["text_ms"]), False

    def text_inputs(self, labels: list[str], templates: list[str]) -> dict[str, Any]:
        """Every label in every template (template-major: T x M sentences), tokenised in batches."""
        t0 = time.perf_counter()
        sentences = [fill(t, label) for t in templates for label in labels]  # [T * M]
        chunks, cut = self.text_chunks(sentences)
        return {"labels": labels, "templates": templates, "token_chunks": chunks, "cut": cut,
                "sentences": len(sentences), "text_prep_ms": (time.perf_counter() - t0) * 1e3}

    def text_entry(self, inputs: dict[str, Any], text: torch.Tensor, ms: float = 0.0) -> TextEntry:
        """(T * M, D) sentence embeddings -> the cached (M, D) label embeddings (template ensemble)."""
        labels, templates, cut = inputs["labels"], inputs["templates"], inputs["cut"]
        per_template = text.numpy().reshape(len(templates), len(labels), -1)  # [T * M, D] -> [T, M, D]
        cut = set(cut)
        long = [label for label in labels if any(fill(t, label) in cut for t in templates)]
        notes = ()
        if long:
            n, context, example = len(long), self.prepared.context, long[0][:40]
            notes = (Text(f"{n} label(s) did not fit the text encoder, which reads at most {context} tokens per "
                          f"sentence, so the end was cut off and only the first part counted (e.g. '{example}...').",
                          f"有 {n} 个标签太长，文本编码器每句最多读 {context} 个 token，所以后面被截掉了，"
                          f"只有前一部分起作用（例如“{example}...”）。"),)
        return TextEntry(self.key, ensemble(per_template).astype(np.float32), notes, ms)

    # ---- the Pipeline stages ----
    def preprocess(self, image: ImageLike | None, labels: str | list[str] = SHAPES_LABELS,
                   templates: str | list[str] | None = None, image_entry: ImageEntry | None = None,
                   text_entry: TextEntry | None = None, **params: Any) -> dict[str, Any]:
        """Known entries (from the caches) are used as they are; the rest is prepared for the encoders."""
        names, notes = parse_labels(labels)
        temps = parse_templates(templates, defaults_for(self.loaded.spec).template)
        inputs: dict[str, Any] = {"labels": names, "templates": temps, "notes": notes,
                                  "image_entry": self.mine(image_entry), "text_entry": self.mine(text_entry)}
        if inputs["image_entry"] is None:
            t0 = time.perf_counter()
            inputs["pixel_values"] = self.pixel_values([load_image(image)])  # [1, 3, S, S]
            inputs["image_prep_ms"] = (time.perf_counter() - t0) * 1e3
        if inputs["text_entry"] is None:
            inputs.update(self.text_inputs(names, temps))
        return inputs

    def _forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The encoders still needed, each timed (image_ms, text_ms). The text encoder stops with a
        sentence once it has run longer than budget.TEXT_SECONDS (long label lists on a slow model)."""
        out: dict[str, Any] = {}
        if "pixel_values" in inputs:
            t0 = time.perf_counter()
            out["image"] = self._image_features(inputs["pixel_values"])  # [N, D]
            out["image_ms"] = (time.perf_counter() - t0) * 1e3
        if inputs.get("token_chunks"):
            t0, deadline = time.perf_counter(), budget.Deadline(budget.TEXT_SECONDS)
            total = inputs.get("sentences") or sum(len(t["input_ids"]) for t in inputs["token_chunks"])
            parts = []
            for tokens in inputs["token_chunks"]:
                deadline.check(TEXT_BATCH * len(parts), total)
                parts.append(self._text_features(tokens))  # [b, D]
            out["text"] = torch.cat(parts)  # [M, D]
            out["text_ms"] = (time.perf_counter() - t0) * 1e3
        return out

    def postprocess(self, inputs: dict[str, Any], outputs: dict[str, Any], timings: Timings,
                    **params: Any) -> ZeroShotResult:
        image_entry, text_entry = inputs["image_entry"], inputs["text_entry"]
        if image_entry is None:
            image_entry = ImageEntry(self.key, outputs["image"][0].numpy(), self.seen(inputs["pixel_values"][0]),
                                     inputs["image_prep_ms"] + outputs["image_ms"])
        if text_entry is None:
            text_entry = self.text_entry(inputs, outputs["text"], inputs["text_prep_ms"] + outputs["text_ms"])
        scale = self.logit_scale()
        cosines = cosine_matrix(image_entry.embedding[None], text_entry.embeddings)[0]  # [1, M] -> [M]
        probs = softmax(scale * cosines)
        names, temps = inputs["labels"], inputs["templates"]
        scores = [LabelScore(name, tuple(fill(t, name) for t in temps), float(c), float(scale * c), float(p))
                  for name, c, p in zip(names, cosines, probs)]
        ranked = tuple(sorted(scores, key=lambda s: -s.probability))
        return ZeroShotResult(ranked, tuple(temps), scale, image_entry.seen, self.key,
                              self.loaded.requested.key, str(self.device), tuple(inputs["notes"]) + text_entry.notes,
                              self.loaded.notice, inputs["text_entry"] is not None,
                              inputs["image_entry"] is not None, timings, image_entry, text_entry)

    def logit_scale(self) -> float:
        """exp(the learnt log-scale): logits = scale * cosine. Not capped: CLIP clamps the scale
        at 100 while training, and transformers' CLIPModel uses exp(logit_scale) as it is."""
        return float(self.model.logit_scale.detach().float().exp().item())


def never_seen(model: str) -> tuple[str, ...]:
    """For a bundled ShapesWorld CLIP, the "colour shape" pairs held out from its training
    (recorded in shapesworld.json beside the weights); () for any other model."""
    spec = get_spec(model)
    info = spec.local_dir / "shapesworld.json" if spec.bundled else None
    if info is None or not info.exists():
        return ()
    return tuple(f"{c} {s}" for c, s in json.loads(info.read_text())["held_out_pairs"])


def pipeline_for(name: str) -> ZeroShotPipeline:
    """A pipeline for a registry key, or for a saved CLIP folder (config.json, weights, tokenizer)."""
    from pathlib import Path

    from visionlab.models import REGISTRY

    if name in REGISTRY:
        return ZeroShotPipeline(load_model(name))
    return ZeroShotPipeline(load_folder(Path(name)))


def load_folder(folder) -> LoadedModel:
    """A saved CLIPModel folder as a LoadedModel (its own spec, keyed by the folder path)."""
    from pathlib import Path

    from visionlab.models import ModelSpec
    from visionlab.models.loader import load_spec
    from visionlab.models.registry import CLIP_MEAN, CLIP_STD

    folder = Path(folder).resolve()
    arch = json.loads((folder / "config.json").read_text())["architectures"][0]
    spec = ModelSpec(key=f"folder:{folder}", task="zero-shot", library="transformers", arch=arch,
                     title=folder.name, family="vit", input_size=0, mean=CLIP_MEAN, std=CLIP_STD,
                     labels="shapesworld", licence="unknown", path=str(folder))
    model, seconds, memo = load_spec(spec)
    return LoadedModel(spec, spec, model, None, seconds, memo)


def zero_shot(image: ImageLike, labels: str | list[str] = SHAPES_LABELS, templates: str | list[str] | None = None,
              model: str = "shapes-clip-tiny") -> ZeroShotResult:
    """Rank `labels` for one picture with registry model `model`; `templates` one per line.
    The request's budget (visionlab.budget: text sizes, labels, templates, labels x templates)
    is checked here, before any work."""
    from visionlab.models.loader import answering_key

    answering = answering_key(model)
    for value, setting in ((labels, budget.LABELS), (templates, budget.TEMPLATES)):
        if not isinstance(value, (list, tuple)):
            budget.text(value, setting)
    names, _ = parse_labels(labels)                                      # bad labels: a sentence before any work
    temps = parse_templates(templates, defaults_for(answering).template)
    budget.zero_shot(names, temps)
    picture = load_image(image)
    image_key, text_key = (answering, content_key(picture)), (answering, tuple(temps), tuple(names))
    image_entry, text_entry = IMAGE_CACHE.get(image_key), TEXT_CACHE.get(text_key)
    result = _rank_on_device(None if image_entry else np.asarray(picture), labels, templates, model,
                             image_entry, text_entry)
    if result.model == answering:
        IMAGE_CACHE.put(image_key, result.image_entry)
        TEXT_CACHE.put(text_key, result.text_entry)
    return result


@gpu_task(duration=10)
def _rank_on_device(picture: np.ndarray | None, labels, templates, model: str, image_entry: ImageEntry | None,
                    text_entry: TextEntry | None) -> ZeroShotResult:
    """The encoders the cached entries do not cover, then the ranking (picture None: its entry is given)."""
    return ZeroShotPipeline(load_model(model))(picture, labels=labels, templates=templates,
                                               image_entry=image_entry, text_entry=text_entry)


@dataclass(frozen=True)
class SimilarityMatrix:
    """N pictures against M texts, the matrix CLIP is trained on (the diagonal of a training
    batch holds the matching pairs).

    cosine: (N, M) float32 cosine similarities. logit_scale: logits = logit_scale * cosine.
    per_image: (N, M) softmax along each row (picture -> which text?); per_text: (N, M)
    softmax along each column (text -> which picture?); CLIP's loss is the cross-entropy of both.
    thumbs: N (S, S, 3) uint8 RGB model inputs. texts: the M sentences, as encoded.
    """

    cosine: np.ndarray
    logit_scale: float
    per_image: np.ndarray
    per_text: np.ndarray
    thumbs: tuple[np.ndarray, ...]
    texts: tuple[str, ...]
    model: str
    notice: Text | None
    image_entries: tuple[ImageEntry, ...] = field(default=(), repr=False, compare=False)
    text_entry: TextEntry | None = field(default=None, repr=False, compare=False)


def sentences_from(text: str | list[str] | None) -> list[str]:
    """Sentences, one per line (commas stay inside a sentence); blanks and repeats dropped.
    Within the budget: at most budget.MAX_CAPTIONS sentences of budget.MAX_LINE_CHARS characters."""
    lines = list(text) if isinstance(text, (list, tuple)) else budget.text(text, budget.CAPTIONS).splitlines()
    lines = [line for line in lines if str(line).strip()]
    if not lines:
        raise LabelError(Text("Please type at least one sentence, one per line (for example: a photo of a cat.).",
                              "请至少输入一句话，每行一句（例如：a photo of a cat.）。"))
    budget.captions([str(line) for line in lines])
    return parse_labels(lines)[0]


def similarity_matrix(images: list[ImageLike], texts: str | list[str],
                      model: str = "shapes-clip-tiny") -> SimilarityMatrix:
    """Cosine similarities of every picture in `images` to every sentence in `texts` (one per line)."""
    if not images:
        raise LabelError(Text("The gallery is empty: add some pictures first.", "图库是空的：请先添加一些图片。"))
    if len(images) > MAX_GALLERY:
        raise LabelError(Text(f"The gallery holds {len(images)} pictures; the matrix takes at most {MAX_GALLERY}.",
                              f"图库里有 {len(images)} 张图片；矩阵最多接受 {MAX_GALLERY} 张。"))
    from visionlab.models.loader import answering_key

    sentences = sentences_from(texts)
    answering = answering_key(model)
    pictures = [load_image(im) for im in images]
    image_keys = [(answering, content_key(p)) for p in pictures]
    text_key = (answering, ("{}",), tuple(sentences))
    known = [IMAGE_CACHE.get(k) for k in image_keys]
    m = _matrix_on_device([None if k else np.asarray(p) for p, k in zip(pictures, known)], known, sentences, model,
                          TEXT_CACHE.get(text_key))
    if m.model == answering:
        for key, entry in zip(image_keys, m.image_entries):
            IMAGE_CACHE.put(key, entry)
        TEXT_CACHE.put(text_key, m.text_entry)
    return m


def _matrix_seconds(pictures: list, *args, **kwargs) -> float:
    return 5 + 0.1 * sum(p is not None for p in pictures)


@gpu_task(duration=_matrix_seconds)
def _matrix_on_device(pictures: list[np.ndarray | None], known: list[ImageEntry | None], sentences: list[str],
                      model: str, text_entry: TextEntry | None) -> SimilarityMatrix:
    pipe = ZeroShotPipeline(load_model(model))
    entries = pipe.image_entries(pictures, known)
    text_entry = pipe.label_embeddings(sentences, ["{}"], text_entry)[0]
    cos = cosine_matrix(np.stack([e.embedding for e in entries]), text_entry.embeddings)   # [N, M]
    scale = pipe.logit_scale()
    return SimilarityMatrix(cos.astype(np.float32), scale, softmax(scale * cos, 1), softmax(scale * cos, 0),
                            tuple(e.seen for e in entries), tuple(sentences), pipe.key, pipe.loaded.notice,
                            tuple(entries), text_entry)


@dataclass(frozen=True)
class Retrieval:
    """Text-to-picture search over a gallery. order: picture indices, best first; cosine: (N,)
    cosine of each picture to the query (gallery order); probability: (N,) softmax over the
    pictures at the logit scale (the column direction of CLIP's loss)."""

    query: str
    order: tuple[int, ...]
    cosine: np.ndarray
    probability: np.ndarray
    model: str
    notice: Text | None


def retrieve(query: str, images: list[ImageLike], model: str = "shapes-clip-tiny") -> Retrieval:
    """Rank the gallery's pictures for a sentence (at most budget.MAX_LINE_CHARS characters)."""
    query = budget.text(query, budget.QUERY)
    m = similarity_matrix(images, [query] if query.strip() else [], model)
    cos, prob = m.cosine[:, 0], m.per_text[:, 0]                                  # [N]
    return Retrieval(m.texts[0], tuple(int(i) for i in np.argsort(-cos, kind="stable")), cos, prob,
                     m.model, m.notice)
