"""Image classification with timm models: top-k labels, the input the model saw, a model card.

    result = classify(image, "resnet50", top_k=5)
    result.top_k[0].label, result.top_k[0].probability, result.model_input.shape  # (S, S, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from visionlab.models import LoadedModel, load_model
from visionlab.models.gpu import gpu_task
from visionlab.ops.images import ImageLike
from visionlab.pipelines.base import Pipeline, Timings
from visionlab.text import Text
from visionlab.pipelines.timm_inputs import timm_inputs


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
    notice: Text | None
    timings: Timings

    @property
    def latency_ms(self) -> float:
        return self.timings.preprocess_ms + self.timings.forward_ms


class ClassificationPipeline(Pipeline[ClassificationResult]):
    def __init__(self, loaded: LoadedModel):
        super().__init__(loaded)
        self.prepared = timm_inputs(loaded)
        self.data_config, self.labels, self.size = self.prepared.data_config, self.prepared.labels, self.prepared.size

    def preprocess(self, image: ImageLike, **params: Any) -> dict[str, Any]:
        return {"pixel_values": self.prepared.tensor(image)}  # [1, 3, S, S] normalised

    def _forward(self, inputs: dict[str, Any]) -> torch.Tensor:
        x = inputs["pixel_values"].to(self.device, self.dtype)
        return self.model(x).float().softmax(-1)  # [B, num_classes]

    def postprocess(self, inputs, probs: torch.Tensor, timings: Timings, top_k: int = 5,
                    **params: Any) -> ClassificationResult:
        k = max(1, min(int(top_k), probs.shape[-1]))
        values, indices = probs[0].topk(k)
        preds = tuple(ClassPrediction(int(i), self.labels[int(i)], float(v)) for v, i in zip(values, indices))
        seen = self.prepared.picture(inputs["pixel_values"][0])
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


@gpu_task(duration=10)
def classify(image: ImageLike, model: str = "shapes-resnet-tiny", top_k: int = 5) -> ClassificationResult:
    """Classify one picture with the registry model `model` (see `visionlab.models.REGISTRY`)."""
    return ClassificationPipeline(load_model(model))(image, top_k=top_k)
