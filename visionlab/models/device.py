"""Pick the compute device once: cuda, then mps, then cpu (or what the user asked for)."""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_device = None


def _best_available():
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_device(name: str | None) -> "torch.device":
    """Fix the device for this process ("cuda", "mps", "cpu" or None for the best available)."""
    import torch

    global _device
    with _lock:
        _device = torch.device(name) if name else _best_available()
        return _device


def get_device() -> "torch.device":
    """The process-wide device; chosen on first use (env VISIONLAB_DEVICE may name it)."""
    if _device is None:
        return set_device(os.environ.get("VISIONLAB_DEVICE") or None)
    return _device
