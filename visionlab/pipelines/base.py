"""The shape every pipeline follows: preprocess -> _forward -> postprocess.

Only `_forward` touches the model's device, under `torch.inference_mode()`; its outputs
come back on the CPU. Pipelines import no UI library: they return frozen dataclasses of
numpy and Python values, documented with their layout and units.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch

from visionlab.models import LoadedModel

R = TypeVar("R")


@dataclass(frozen=True)
class Timings:
    """Wall-clock milliseconds of each stage of one call."""

    preprocess_ms: float
    forward_ms: float


def to_cpu(x: Any) -> Any:
    """Move tensors (also inside tuples, lists and dicts) to the CPU as float32/int."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return x.float() if x.is_floating_point() else x
    if isinstance(x, (list, tuple)):
        return type(x)(to_cpu(v) for v in x)
    if isinstance(x, dict):  # keeps the type: transformers' ModelOutput stays one (outputs.logits)
        moved = {k: to_cpu(v) for k, v in x.items()}
        return type(x)(**moved) if all(isinstance(k, str) for k in moved) else moved
    return x


class Pipeline(Generic[R]):
    """Base class. Subclasses implement preprocess, _forward and postprocess."""

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self.model = loaded.model
        first = next(self.model.parameters())
        self.device, self.dtype = first.device, first.dtype

    def preprocess(self, image: Any, **params: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _forward(self, inputs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def postprocess(self, inputs: dict[str, Any], outputs: Any, timings: Timings, **params: Any) -> R:
        raise NotImplementedError

    def forward(self, inputs: dict[str, Any]) -> Any:
        """Run `_forward` on the model's device in inference mode; return CPU outputs."""
        with torch.inference_mode():
            return to_cpu(self._forward(inputs))

    def __call__(self, image: Any, **params: Any) -> R:
        t0 = time.perf_counter()
        inputs = self.preprocess(image, **params)
        t1 = time.perf_counter()
        outputs = self.forward(inputs)
        t2 = time.perf_counter()
        return self.postprocess(inputs, outputs, Timings((t1 - t0) * 1e3, (t2 - t1) * 1e3), **params)
