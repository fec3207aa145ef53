"""Pieces every tab shares: the safe image input, model dropdowns, error handling, notices."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from visionlab.errors import VisionLabError
from visionlab.models import REGISTRY, specs_for
from visionlab.models.hub import hub_status

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
NOTES_DIR = Path(__file__).resolve().parent / "notes"
MODEL_CONCURRENCY = "model"  # one concurrency id for every listener that runs a model
# Each tab's default when online; offline, the bundled stand-in of that model.
DEFAULT_MODELS = {"classification": "resnet50", "attention": "dino-vit-s8", "grad-cam": "resnet50",
                  "detection": "owlv2-base", "zero-shot": "clip-vit-b32", "masked-mae": "mae-vit-base"}
ATTENTION_TASKS = ("attention", "classification")  # the attention tab offers every timm model


def image_input(**kwargs: Any) -> gr.Image:
    """The picture input of every tab: a file path (no mode conversion) reaches the pipeline,
    whose own loader handles modes, 16-bit data, EXIF rotation and size limits."""
    kwargs = {"type": "filepath", "image_mode": None, "sources": ["upload", "clipboard", "webcam"], **kwargs}
    return SafeImage(**kwargs)


class SafeImage(gr.Image):
    """gr.Image that turns unreadable uploads into a clear sentence instead of a traceback.
    (No __init__ of its own: gradio derives the component's settings from gr.Image's.)"""

    is_template = True  # rendered by the frontend's ordinary Image component

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - PIL raises many kinds for bad files
            raise gr.Error("This file is not a picture VisionLab can read (or it is damaged, or far "
                           "too large). Please upload a PNG, JPEG, WebP, GIF, BMP or TIFF image.") from None


def user_errors(fn: Callable) -> Callable:
    """Show library errors meant for people as gr.Error; log anything else, show a sentence."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except VisionLabError as e:
            raise gr.Error(str(e)) from None
        except Exception as e:  # noqa: BLE001 - never show a traceback to a student
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Something went wrong inside VisionLab ({type(e).__name__}). "
                           "The server is still running: try another picture or model.") from None
    return wrapper


def model_choices(task: str | tuple[str, ...], prefer: str | None = None) -> tuple[list[tuple[str, str]], str]:
    """(label, key) pairs of the registry's models for `task`, and the default key.

    Online, hub models come first and `prefer` is the default. Offline, the bundled models
    come first and are the default; hub models stay listed (they work if already downloaded).
    """
    online = hub_status().online
    bundled, hub = specs_for(task, bundled=True), specs_for(task, bundled=False)
    if online:
        choices = [(s.title, s.key) for s in hub + bundled]
    else:
        choices = [(s.title, s.key) for s in bundled] + [(f"{s.title} (offline: needs a download)", s.key)
                                                         for s in hub]
    usable = [s.key for s in (hub + bundled if online else bundled)]
    if prefer not in usable and prefer in REGISTRY:
        prefer = REGISTRY[prefer].fallback  # offline: the preferred model's bundled stand-in
    return choices, prefer if prefer in usable else usable[0]


def model_dropdown(task: str | tuple[str, ...], label: str, prefer: str | None = None, **kwargs: Any) -> gr.Dropdown:
    """A dropdown of the registry's models for `task` (see `model_choices`)."""
    choices, default = model_choices(task, prefer)
    return gr.Dropdown(choices=choices, value=default, label=label, **kwargs)


def answered_by(key: str, device: str | None, ms: float, notice: str | None) -> str:
    """Markdown naming the model that answered (registry key), plus the fallback notice if any."""
    spec = REGISTRY[key]
    where = f" on `{device}`" if device else ""
    line = f"Answered by **{spec.title}**{where} in {ms:.0f} ms."
    if spec.labels == "shapesworld":
        line += " It knows only ShapesWorld's pictures, so it answers in shapes whatever the picture shows."
    return f"⚠️ {notice}\n\n{line}" if notice else line


def note(tab: str) -> str:
    """The tab's "What am I looking at?" text: English then Chinese, from demos/notes/."""
    parts = [(NOTES_DIR / f"{tab}.{lang}.md").read_text(encoding="utf-8") for lang in ("en", "zh")]
    return "\n\n---\n\n".join(parts)


def example_paths(kinds: tuple[str, ...] = ("photos", "shapes")) -> list[str]:
    """Example pictures from examples/<kind>/ in the order given: "photos" (public domain),
    "shapes" (one ShapesWorld object each), "scenes" (several objects each)."""
    paths = [p for kind in kinds for p in sorted((EXAMPLES_DIR / kind).glob("*.*"))]
    return [str(p) for p in paths if p.suffix.lower() in (".png", ".jpg", ".jpeg")]


def default_model_keys() -> list[str]:
    """The model each tab's dropdown starts on (what `--preload` warms)."""
    return [model_choices("classification", DEFAULT_MODELS["classification"])[1],
            model_choices(ATTENTION_TASKS, DEFAULT_MODELS["attention"])[1],
            model_choices("zero-shot", DEFAULT_MODELS["zero-shot"])[1],
            model_choices("masked-mae", DEFAULT_MODELS["masked-mae"])[1],
            model_choices("detection", DEFAULT_MODELS["detection"])[1]]


def skip_without_image(fn: Callable, n_outputs: int) -> Callable:
    """Wrap a handler so that it leaves its outputs alone while no picture is loaded."""
    def wrapped(image, *args):
        return (gr.skip(),) * n_outputs if image is None else fn(image, *args)
    return wrapped
