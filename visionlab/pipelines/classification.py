"""Image classification with timm models: top-k labels, the input the model saw, a model card.

    result = classify(image, "resnet50", top_k=5)
    result.top_k[0].label, result.top_k[0].probability, result.model_input.shape  # (S, S, 3)
"""

from __future__ import annotations

import threading
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


_flops_lock = threading.Lock()
_flops: dict[tuple[str, int], float] = {}


def count_gflops(model: torch.nn.Module, key: str, size: int) -> float:
    """FLOPs of one forward pass at size x size (counted once per model, then cached)."""
    from torch.utils.flop_counter import FlopCounterMode

    with _flops_lock:
        if (key, size) not in _flops:
            p = next(model.parameters())
            x = torch.zeros(1, 3, size, size, device=p.device, dtype=p.dtype)
            with torch.inference_mode(), FlopCounterMode(display=False) as counter:
                model(x)
            _flops[(key, size)] = counter.get_total_flops() / 1e9
        return _flops[(key, size)]


def label_names(model: torch.nn.Module, num_classes: int) -> list[str]:
    """Readable class names: the checkpoint's own, else ImageNet-1k descriptions."""
    names = model.pretrained_cfg.get("label_names")
    if names and len(names) == num_classes:
        return [str(n) for n in names]
    if num_classes == 1000:
        from timm.data import ImageNetInfo

        info = ImageNetInfo()
        return [info.index_to_description(i) for i in range(num_classes)]
    return [f"class {i}" for i in range(num_classes)]


class ClassificationPipeline(Pipeline[ClassificationResult]):
    def __init__(self, loaded: LoadedModel):
        super().__init__(loaded)
        from timm.data import create_transform, resolve_model_data_config

        self.data_config = resolve_model_data_config(self.model)
        self.transform = create_transform(**self.data_config, is_training=False)
        self.size = int(self.data_config["input_size"][-1])
        self.mean = torch.tensor(self.data_config["mean"]).view(3, 1, 1)
        self.std = torch.tensor(self.data_config["std"]).view(3, 1, 1)
        self.labels = label_names(self.model, self.model.num_classes)

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
            params=sum(p.numel() for p in self.model.parameters()),
            gflops=count_gflops(self.model, spec.key, self.size), input_size=self.size,
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
