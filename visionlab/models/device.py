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


_requested: str | None = None


def set_device(name: str | None) -> None:
    """Ask for a device for this process ("cuda", "mps", "cpu", or None for the best available).
    Cheap: torch is imported, and the choice made, on the first `get_device()`."""
    global _device, _requested
    with _lock:
        _requested, _device = name, None


def requested_device() -> str | None:
    """The device asked for (the --device flag, else env VISIONLAB_DEVICE), or None."""
    return _requested or os.environ.get("VISIONLAB_DEVICE") or None


def get_device() -> "torch.device":
    """The process-wide device: the one asked for (flag, then env VISIONLAB_DEVICE), else
    cuda, then mps, then cpu. Chosen once."""
    global _device
    with _lock:
        if _device is None:
            import torch

            name = requested_device()
            _device = torch.device(name) if name else _best_available()
        return _device
