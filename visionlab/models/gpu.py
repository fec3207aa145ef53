"""The device boundary: one decorator for every function that runs a model.

    @gpu_task(duration=10)
    def classify(picture, model: str, top_k: int) -> ClassificationResult: ...

Off ZeroGPU the decorated function runs in the caller's thread, as written. On a ZeroGPU
Space (the platform sets SPACES_ZERO_GPU) it becomes `spaces.GPU`: the call runs in a forked
worker process that holds the GPU, its arguments and result are pickled, and the worker
keeps the context (request, language, presenter style) of whoever caused the fork. So a
boundary function takes plain values (picture arrays, numbers, registry keys) and returns
plain values (arrays, numbers, boxes, `Text` pairs), never reads request context, and never
draws or writes a sentence in one language: that happens outside, in the request that asked.

User errors (`VisionLabError`) cross the boundary as values and are raised again outside, so
a worker survives them (spaces discards a worker after any exception) and the student reads
the sentence, not "ZeroGPU worker error: LabelError". Unexpected errors cross the same way,
with their type and message for the log (off ZeroGPU they simply propagate).

`duration` (seconds, or a function of the call's arguments) is what ZeroGPU reserves from the
visitor's daily quota for one call: keep it close to what the call needs on a GPU.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from visionlab.errors import VisionLabError
from visionlab.text import Text

F = TypeVar("F", bound=Callable)
log = logging.getLogger(__name__)
DEFAULT_DURATION_S = 15


def on_zero_gpu() -> bool:
    """True inside a ZeroGPU Space (the platform sets SPACES_ZERO_GPU)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


class DeviceError(VisionLabError, RuntimeError):
    """The GPU worker failed (died, or raised something unexpected); the next call starts afresh."""


@dataclass(frozen=True)
class Refused:
    """A user error raised inside the boundary, carried out as a value: its class and sentence."""

    kind: type
    text: Text

    def error(self) -> VisionLabError:
        e = self.kind.__new__(self.kind)
        VisionLabError.__init__(e, self.text)  # subclasses' own __init__ may take other arguments
        return e


@dataclass(frozen=True)
class Crashed:
    """An unexpected error inside the boundary: its type name, message and traceback (for the log)."""

    kind: str
    message: str
    traceback: str


class Crash(RuntimeError):
    """An unexpected error raised in a GPU worker, re-raised in the process that asked; `kind` is
    the original exception's class name."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


WORKER_DIED = Text("The GPU worker stopped in the middle of this request. Please try again: the next request "
                   "starts a fresh one.", "GPU 工作进程在处理这个请求时中断了。请再试一次：下一个请求会启动新的工作进程。")


def gpu_task(fn: F | None = None, *, duration: float | Callable[..., float] = DEFAULT_DURATION_S):
    """Mark `fn` as the device boundary. Usable as `@gpu_task` or `@gpu_task(duration=...)`.

    The wrapped function keeps `fn`'s signature; `.on_device` is `fn` itself (what runs inside)."""
    def wrap(f: F) -> F:
        zero = on_zero_gpu()

        @functools.wraps(f)
        def inside(*args: Any, **kwargs: Any) -> Any:
            try:
                return f(*args, **kwargs)
            except VisionLabError as e:
                return Refused(type(e), e.text)
            except Exception as e:  # noqa: BLE001 - in a worker: keep it alive, re-raise outside
                if not zero:
                    raise
                import traceback

                return Crashed(type(e).__name__, str(e), traceback.format_exc())

        run = inside
        if zero:
            import spaces  # only on ZeroGPU: keeps start-up light elsewhere

            run = spaces.GPU(duration=duration)(inside)

        @functools.wraps(f)
        def outside(*args: Any, **kwargs: Any) -> Any:
            try:
                out = run(*args, **kwargs)
            except Exception as e:  # only spaces itself raises here: a dead worker, or no quota left
                if zero and "worker error" in str(e).lower():
                    log.error("ZeroGPU worker failed in %s: %s", f.__qualname__, e)
                    raise DeviceError(WORKER_DIED) from None
                raise
            if isinstance(out, Refused):
                raise out.error()
            if isinstance(out, Crashed):
                log.error("unexpected %s in %s: %s\n%s", out.kind, f.__qualname__, out.message, out.traceback)
                raise Crash(out.kind, out.message)
            return out

        outside.on_device = f  # type: ignore[attr-defined]
        outside.duration = duration  # type: ignore[attr-defined]
        return outside  # type: ignore[return-value]

    return wrap(fn) if fn is not None else wrap
