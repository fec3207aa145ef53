"""Pieces every tab shares: the safe image input, model dropdowns, error handling, notices."""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from demos import fair_queue, presenter
from demos.i18n import error, say, tr
from visionlab.models.defaults import default_for
from visionlab.errors import VisionLabError
from visionlab.markdown import escape_html
from visionlab.ops import style as drawing
from visionlab.text import Text
from visionlab.models import REGISTRY, specs_for
from visionlab.models.hub import hub_status

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
NOTES_DIR = Path(__file__).resolve().parent / "notes"
MODEL_CONCURRENCY = "model"  # one concurrency id for every listener that runs a model
fair_queue.install(MODEL_CONCURRENCY)  # one page cannot hold more than its share of the queue
ATTENTION_TASKS = ("attention", "classification")  # the attention tab offers every timm model


def image_input(**kwargs: Any) -> gr.Image:
    """The picture input of every tab: a file path (no mode conversion) reaches the pipeline,
    whose own loader handles modes, 16-bit data, EXIF rotation and size limits."""
    kwargs = {"type": "filepath", "image_mode": None, "sources": ["upload", "clipboard", "webcam"], **kwargs}
    return SafeImage(**kwargs)


class Refusal:
    """An input value a component would not take, handed to the handler in its place: gradio
    preprocesses outside the request, where the asker's language is unknown, so `handler` says
    `text` in the page's language before the tab's function runs."""

    def __init__(self, text: Text):
        self.text = text


DATA_URL_REFUSED = Text("Pictures must be sent as uploaded files; a data: URL inside the request is not accepted "
                        "(uploads are capped at 10 MB).",
                        "图片必须以上传文件的方式发送；不接受请求里的 data: URL（上传文件最大 10 MB）。")


class SafeImage(gr.Image):
    """gr.Image that turns unreadable uploads into a clear sentence instead of a traceback, and
    refuses pictures sent inline as data: URLs (gradio would decode them whatever their size,
    bypassing the 10 MB upload cap). (No __init__ of its own: gradio derives the component's
    settings from gr.Image's.)"""

    is_template = True  # rendered by the frontend's ordinary Image component

    def preprocess(self, payload):
        if isinstance(getattr(payload, "url", None), str) and payload.url[:5].lower() == "data:":
            return Refusal(DATA_URL_REFUSED)
        try:
            return super().preprocess(payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - PIL raises many kinds for bad files
            # gradio preprocesses outside the request's context, where the asker's language is
            # unknown: hand the file on, and the pipeline's loader says what is wrong with it in
            # the asker's language (through `handler`).
            if getattr(payload, "path", None):
                return payload.path
            raise error("This file is not a picture VisionLab can read (or it is damaged, or far too large). "
                        "Please upload a PNG, JPEG, WebP, GIF, BMP or TIFF image.",
                        "VisionLab 读不了这个文件（它不是图片，或者已损坏，或者太大）。"
                        "请上传 PNG、JPEG、WebP、GIF、BMP 或 TIFF 图片。") from None


def handler(fn: Callable) -> Callable:
    """Wrap a tab's event handler for the page that asked:
    - pictures are drawn in its style (high contrast in presenter mode);
    - `Text` values it returns (captions) are written in the page's language;
    - library errors meant for people become a gr.Error in its language; anything else is
      logged and shown as a sentence, never a traceback."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        try:
            refused = next((a for a in (*args, *kwargs.values()) if isinstance(a, Refusal)), None)
            if refused is not None:
                raise VisionLabError(refused.text)
            with drawing.use(presenter.style()):
                return spoken(fn(*args, **kwargs))
        except gr.Error:
            raise
        except VisionLabError as e:
            # Sentences may quote what the student typed; the toast renders HTML.
            raise gr.Error(escape_html(say(e.text))) from None
        except Exception as e:  # noqa: BLE001 - never show a traceback to a student
            log.exception("unexpected error in %s", fn.__name__)
            kind = getattr(e, "kind", type(e).__name__)  # a Crash in a GPU worker names the original
            raise error(f"Something went wrong inside VisionLab ({kind}). "
                        "The server is still running: try another picture or model.",
                        f"VisionLab 内部出了问题（{kind}）。服务器仍在运行：换一张图片或换个模型试试。") from None
    return wrapper


class Slider(gr.Slider):
    """gr.Slider whose value reaches the handler as sent. gradio's own check would answer NaN with
    a crash, text with a bare "Error" and a value out of range with an English sentence that names
    no parameter; the handler checks it instead (`visionlab.budget.number`), in the page's
    language, naming the parameter. (No __init__ of its own, as SafeImage.)"""

    is_template = True  # rendered by the frontend's ordinary Slider component

    def preprocess(self, payload):
        return payload


class Number(gr.Number):
    """gr.Number whose value reaches the handler as sent (see Slider)."""

    is_template = True

    def preprocess(self, payload):
        return payload


def spoken(result: Any) -> Any:
    """A handler's result with each `Text` (alone or in a returned tuple or list) as a string in
    the page's language."""
    if isinstance(result, Text):
        return say(result)
    if isinstance(result, (tuple, list)):
        return type(result)(say(r) if isinstance(r, Text) else r for r in result)
    return result


def model_choices(task: str | tuple[str, ...], prefer: str | None = None) -> tuple[list[tuple[str, str]], str]:
    """(label, key) pairs of the registry's models for `task`, and the default key.

    Online, hub models come first and `prefer` is the default. Offline, the bundled models
    come first and are the default; hub models stay listed (they work if already downloaded).
    On ZeroGPU only the models the Space loaded at start are listed.
    """
    from visionlab.models.loader import offered_keys

    online = hub_status().online
    bundled, hub = specs_for(task, bundled=True), specs_for(task, bundled=False)
    if online:
        choices = [(s.title, s.key) for s in hub + bundled]
    else:
        choices = [(s.title, s.key) for s in bundled] + [(s.title + tr(" (offline: needs a download)", "（离线：需要下载）"),
                                                          s.key) for s in hub]
    usable = [s.key for s in (hub + bundled if online else bundled)]
    offered = offered_keys()
    if offered is not None and any(key in offered for _, key in choices):
        # ZeroGPU: only the models loaded when the Space started can answer; list only those.
        choices = [(label, key) for label, key in choices if key in offered]
        usable = [key for _, key in choices]
    if prefer not in usable and prefer in REGISTRY:
        prefer = REGISTRY[prefer].fallback  # offline: the preferred model's bundled stand-in
    return choices, prefer if prefer in usable else (usable[0] if usable else choices[0][1])


def model_dropdown(task: str | tuple[str, ...], label: Any, prefer: str | None = None, **kwargs: Any) -> gr.Dropdown:
    """A dropdown of the registry's models for `task` (see `model_choices`)."""
    choices, default = model_choices(task, prefer)
    return gr.Dropdown(choices=choices, value=default, label=label, **kwargs)


def answered_by(key: str, device: str | None, ms: float, notice: Text | None) -> str:
    """Markdown naming the model that answered (registry key), plus the fallback notice if any,
    in the asker's language."""
    spec = REGISTRY[key]
    where = Text(f" on `{device}`", f"（在 `{device}` 上）") if device else ""
    line = Text(f"Answered by **{spec.title}**", f"由 **{spec.title}** 回答") + where + Text(
        f" in {ms:.0f} ms.", f"，用时 {ms:.0f} 毫秒。")
    if spec.labels == "shapesworld":
        line += Text(" It knows only ShapesWorld's pictures, so it answers in shapes whatever the picture shows.",
                     "它只认识 ShapesWorld 的图片，所以不管图片里是什么，它都用形状来回答。")
    return warn(notice, say(line))


def warn(notice: Text | str | None, text: str = "") -> str:
    """`text` under a ⚠️ notice (in the asker's language); just `text` without a notice."""
    if not notice:
        return text
    return f"⚠️ {say(notice)}\n\n{text}" if text else f"⚠️ {say(notice)}"


def note(tab: str) -> Any:
    """The tab's "What am I looking at?" text in the page's language, from demos/notes/."""
    en, zh = [(NOTES_DIR / f"{tab}.{lang}.md").read_text(encoding="utf-8") for lang in ("en", "zh")]
    return tr(en, zh)


LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


def note_panel(tab: str) -> None:
    """The "What am I looking at?" accordion at the foot of a tab."""
    with gr.Accordion(tr("What am I looking at?", "这是什么？"), open=False):
        gr.Markdown(note(tab), latex_delimiters=LATEX)


def example_paths(kinds: tuple[str, ...] = ("photos", "shapes")) -> list[str]:
    """Example pictures from examples/<kind>/ in the order given: "photos" (public domain),
    "shapes" (one ShapesWorld object each), "scenes" (several objects each)."""
    paths = [p for kind in kinds for p in sorted((EXAMPLES_DIR / kind).glob("*.*"))]
    return [str(p) for p in paths if p.suffix.lower() in (".png", ".jpg", ".jpeg")]


def default_model_keys() -> list[str]:
    """The model each tab's dropdown starts on (what `--preload` and the warm-up load; Segment
    Anything's is loaded apart, see demos/startup.py)."""
    tasks = {"classification": "classification", "attention": ATTENTION_TASKS, "zero-shot": "zero-shot",
             "masked-mae": "masked-mae", "detection": "detection", "caption": "caption", "vqa": "vqa", "itm": "itm"}
    return [model_choices(task, default_for(name))[1] for name, task in tasks.items()]


def skip_without_image(fn: Callable, n_outputs: int) -> Callable:
    """Wrap a handler so that it leaves its outputs alone while no picture is loaded."""
    @functools.wraps(fn)  # gradio reads fn's signature (a progress parameter is passed by position)
    def wrapped(image, *args):
        return (gr.skip(),) * n_outputs if image is None else fn(image, *args)
    return wrapped
