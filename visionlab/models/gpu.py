"""One decorator for GPU entry points: `spaces.GPU` on Hugging Face ZeroGPU, a no-op elsewhere."""

from __future__ import annotations

import os
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)


def on_zero_gpu() -> bool:
    """True inside a ZeroGPU Space (the platform sets SPACES_ZERO_GPU)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def gpu_task(fn: F | None = None, *, duration: int = 60):
    """Mark `fn` as needing the GPU. Usable as `@gpu_task` or `@gpu_task(duration=120)`."""
    def wrap(f: F) -> F:
        if not on_zero_gpu():
            return f
        import spaces  # only on ZeroGPU: keeps start-up light elsewhere

        return spaces.GPU(duration=duration)(f)

    return wrap(fn) if fn is not None else wrap
