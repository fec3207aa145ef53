"""Progress lines for a tab's slow steps: downloading a model the first time, then running it.

    run.click(handler(with_progress(classify_endpoint, RUNNING)), ...)

The wrapped endpoint keeps its signature and gains a `progress` parameter, which gradio fills
(and leaves out of the API). Before the endpoint runs, the line says "Downloading ResNet-50:
45 of 98 MB" while a hub model's files arrive (`visionlab.models.download.fetch`), then
"Running ResNet-50 on the picture", with what that costs on this device when it is known
(`visionlab.models.costs`).
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable

import gradio as gr

from demos.i18n import say
from visionlab.text import Text

RUNNING = Text("Running {title} on the picture", "正在用 {title} 处理图片")


def _line(template: Text, **values) -> Text:
    return Text(template.en.format(**values), template.zh.format(**values))


def announce(models: list, progress, doing: Text = RUNNING, step: str | None = None) -> None:
    """Download each of `models` (registry keys) that must be, with a line counting MB, then set
    the progress line to `doing` for them (with the expected wait of `step`, when one is known)."""
    from visionlab.models import REGISTRY
    from visionlab.models.costs import expected_wait
    from visionlab.models.download import fetch

    models = [m for m in models if isinstance(m, str) and m in REGISTRY]  # the endpoint refuses the rest
    if not models:
        return
    for model in models:
        # Written now, in the request's language: the byte counts arrive on the downloader's threads.
        downloading = say(_line(Text("Downloading {title}: {{done}} of {{total}} MB",
                                     "正在下载 {title}：{{done}} / {{total}} MB"), title=REGISTRY[model].title))

        def report(done: int, total: int, downloading: str = downloading) -> None:
            progress(done / total if total else None,
                     desc=downloading.format(done=done >> 20, total=total >> 20 if total else "?"))

        fetch(model, report)
    wait = expected_wait(models[0], step) if step and len(models) == 1 else None
    line = _line(doing, title=" + ".join(REGISTRY[m].title for m in models))
    progress(None, desc=say(line + (Text(f" ({wait.en})", f"（{wait.zh}）") if wait else "")))


def with_progress(fn: Callable, doing: Text = RUNNING, models: int | Callable[[list], list] = 1,
                  step: str | None = None) -> Callable:
    """`fn`, an endpoint whose argument number `models` is a registry key (or a function of its
    arguments giving the keys it will use), announced first (see `announce`). The wrapper's
    signature is fn's plus a trailing `progress`."""
    signature = inspect.signature(fn)
    keys = models if callable(models) else (lambda values: values[models:models + 1])

    @functools.wraps(fn)
    def wrapped(*args):
        *values, progress = args
        announce(keys(values), progress, doing, step)
        return fn(*values)

    wrapped.__signature__ = signature.replace(parameters=[
        *signature.parameters.values(),
        inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress())])
    return wrapped
