"""Image classification with timm models: top-k labels, the input the model saw, a model card.

    result = classify(image, "resnet50", top_k=5)
    result.top_k[0].label, result.top_k[0].probability, result.model_input.shape  # (S, S, 3)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from visionlab.models import LoadedModel, load_model
from visionlab.ops.images import ImageLike, load_image
from visionlab.pipelines.base import Pipeline, Timings


@dataclass(frozen=True)
class ClassPrediction:
    """One class: its index in the model's output, a readable name, softmax probability in [0, 1]."""

    index: int
    label: str
    probability: float


@dataclass(frozen=True)
class ModelCard:
    """Facts about the model that answered. gflops: floating-point operations (2 per
    multiply-add) for one picture at input_size x input_size; mean/std on a 0-1 scale."""

    key: str
    title: str
    architecture: str
    params: int
    gflops: float
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str
    crop_pct: float
    device: str
    dtype: str
    num_classes: int
    labels: str
    licence: str
    source: str


@dataclass(frozen=True)
class ClassificationResult:
    """What one classification call produced.

    top_k: best first. model_input: (S, S, 3) uint8 RGB, the tensor the model received after
    resize, crop and normalisation, with the normalisation undone so it can be shown.
    notice: why another model answered than the one requested (None if it did not).
    """

    top_k: tuple[ClassPrediction, ...]
    model_input: np.ndarray
    card: ModelCard
    requested: str
    notice: str | None
    timings: Timings

    @property
    def latency_ms(self) -> float:
        return self.timings.preprocess_ms + self.timings.forward_ms


def count_gflops(model: torch.nn.Module, size: int) -> float:
    """FLOPs (2 per multiply-add) of one forward pass on a size x size picture, in billions."""
    from torch.utils.flop_counter import FlopCounterMode

    p = next(model.parameters())
    x = torch.zeros(1, 3, size, size, device=p.device, dtype=p.dtype)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / 1e9


@functools.lru_cache(maxsize=1)
def imagenet_names() -> tuple[str, ...]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.index_to_description(i) for i in range(1000))


def label_names(model: torch.nn.Module, num_classes: int) -> list[str]:
    """Readable class names: the checkpoint's own, else ImageNet-1k descriptions."""
    names = model.pretrained_cfg.get("label_names")
    if names and len(names) == num_classes:
        return [str(n) for n in names]
    if num_classes == 1000:
        return list(imagenet_names())
    return [f"class {i}" for i in range(num_classes)]


@dataclass(frozen=True)
class _Prepared:
    """What a classification pipeline derives once per loaded model."""

    data_config: dict
    transform: Any
    labels: list[str]
    gflops: float
    params: int


def _prepare(model: torch.nn.Module) -> _Prepared:
    from timm.data import create_transform, resolve_model_data_config

    data_config = resolve_model_data_config(model)
    size = int(data_config["input_size"][-1])
    return _Prepared(data_config, create_transform(**data_config, is_training=False),
                     label_names(model, model.num_classes), count_gflops(model, size),
                     sum(p.numel() for p in model.parameters()))


class ClassificationPipeline(Pipeline[ClassificationResult]):
    def __init__(self, loaded: LoadedModel):
        super().__init__(loaded)
        if "classification" not in loaded.memo:  # once per loaded model, not per call
            loaded.memo["classification"] = _prepare(self.model)
        prepared: _Prepared = loaded.memo["classification"]
        self.data_config, self.transform = prepared.data_config, prepared.transform
        self.prepared = prepared
        self.labels = prepared.labels
        self.size = int(self.data_config["input_size"][-1])
        self.mean = torch.tensor(self.data_config["mean"]).view(3, 1, 1)
        self.std = torch.tensor(self.data_config["std"]).view(3, 1, 1)

    def preprocess(self, image: ImageLike, **params: Any) -> dict[str, Any]:
        pil = load_image(image)
        return {"pixel_values": self.transform(pil).unsqueeze(0)}  # [1, 3, S, S] normalised

    def _forward(self, inputs: dict[str, Any]) -> torch.Tensor:
        x = inputs["pixel_values"].to(self.device, self.dtype)
        return self.model(x).float().softmax(-1)  # [B, num_classes]

    def postprocess(self, inputs, probs: torch.Tensor, timings: Timings, top_k: int = 5,
                    **params: Any) -> ClassificationResult:
        k = max(1, min(int(top_k), probs.shape[-1]))
        values, indices = probs[0].topk(k)
        preds = tuple(ClassPrediction(int(i), self.labels[int(i)], float(v)) for v, i in zip(values, indices))
        seen = inputs["pixel_values"][0] * self.std + self.mean  # [3, S, S], 0-1 scale
        seen = (seen.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()  # [S, S, 3]
        return ClassificationResult(preds, seen, self.card(), self.loaded.requested.key,
                                    self.loaded.notice, timings)

    def predict_batch(self, images: list[ImageLike]) -> np.ndarray:
        """Class probabilities for many pictures at once: (N, num_classes) float32."""
        x = torch.cat([self.preprocess(im)["pixel_values"] for im in images])  # [N, 3, S, S]
        return self.forward({"pixel_values": x}).numpy()

    def card(self) -> ModelCard:
        spec = self.loaded.spec
        return ModelCard(
            key=spec.key, title=spec.title, architecture=type(self.model).__name__,
            params=self.prepared.params, gflops=self.prepared.gflops, input_size=self.size,
            mean=tuple(round(float(m), 3) for m in self.data_config["mean"]),
            std=tuple(round(float(s), 3) for s in self.data_config["std"]),
            interpolation=str(self.data_config.get("interpolation", "bilinear")),
            crop_pct=float(self.data_config.get("crop_pct", 1.0)),
            device=str(self.device), dtype=str(self.dtype).replace("torch.", ""),
            num_classes=int(self.model.num_classes), labels=spec.labels, licence=spec.licence,
            source=spec.source,
        )


def classify(image: ImageLike, model: str = "shapes-resnet-tiny", top_k: int = 5) -> ClassificationResult:
    """Classify one picture with the registry model `model` (see `visionlab.models.REGISTRY`)."""
    return ClassificationPipeline(load_model(model))(image, top_k=top_k)
