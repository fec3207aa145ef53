"""Progress lines for a tab's slow steps: downloading a model the first time, then running it.

    run.click(handler(with_progress(classify_endpoint)), ...)

    with announced([model], progress, ENCODING, step="encode") as line:   # inside a handler
        seg = segment(..., download=line.report)

The wrapped endpoint keeps its signature and gains a `progress` parameter, which gradio fills
(and leaves out of the API). Before the endpoint runs, the line says "Downloading ResNet-50:
45 of 98 MB" while a hub model's files arrive (`visionlab.models.download.fetch`); while it runs,
"Running ResNet-50 on the picture (about 0.7 s on a 2-core CPU)", its bar filling over the
expected wait (`visionlab.models.costs`; it stops short of the end until the answer comes) or
empty when no wait is known. (gradio 6 shows a line's text only beside a bar: a line without a
fraction would show nothing but the clock.)
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import gradio as gr

from demos.i18n import say
from visionlab.text import Text

RUNNING = Text("Running {title} on the picture", "正在用 {title} 处理图片")
TICK_S = 0.5          # the running bar moves this often
NEARLY = 0.95         # ... and stops here until the answer comes (the wait is an estimate)


def _line(template: Text, **values) -> Text:
    return Text(template.en.format(**values), template.zh.format(**values))


class Line:
    """One request's progress line. Only its ticker draws it: gradio sends a line only from the
    request's own context (a copy of it runs the ticker), while byte counts arrive on the
    downloaders' threads, so `report` / `downloading` just keep the latest count, which the line
    shows instead of the running bar until the download goes quiet. Sentences are written when
    they are handed over, in the request's language."""

    def __init__(self, progress, running: str, expected_s: float | None):
        self.progress, self.running, self.expected_s = progress, running, expected_s
        self.start, self.downloading_until = time.monotonic(), 0.0
        self.download: tuple[str, int, int] = ("", 0, 0)
        self.checkpoint = say(Text("Downloading the checkpoint: {done} of {total} MB",
                                   "正在下载权重文件：{done} / {total} MB"))

    def downloading(self, template: str, done: int, total: int) -> None:
        """A download's byte counts (total 0 while unknown); template has {done} and {total} (MB)."""
        self.download, self.downloading_until = (template, done, total), time.monotonic() + 2 * TICK_S

    def report(self, done: int, total: int) -> None:
        """Byte counts of a checkpoint download (segment-anything's official files)."""
        self.downloading(self.checkpoint, done, total)

    def tick(self) -> None:
        if time.monotonic() < self.downloading_until:
            template, done, total = self.download
            self.progress(done / total if total else 0.0,
                          desc=template.format(done=done >> 20, total=total >> 20 if total else "?"))
            return
        elapsed = time.monotonic() - self.start
        self.progress(min(NEARLY, elapsed / self.expected_s) if self.expected_s else 0.0, desc=self.running)


@contextmanager
def ticking(line: Line) -> Iterator[Line]:
    """Draw `line` now and every TICK_S while the block runs (from a copy of this request's context)."""
    line.tick()
    stop, context = threading.Event(), contextvars.copy_context()

    def keep_ticking() -> None:
        while not stop.wait(TICK_S):
            line.tick()

    ticker = threading.Thread(target=context.run, args=(keep_ticking,), name="progress-line", daemon=True)
    ticker.start()
    try:
        yield line
    finally:
        stop.set()
        ticker.join()


@contextmanager
def announced(models: list, progress, doing: Text = RUNNING, step: str | None = None) -> Iterator[Line | None]:
    """Download each of `models` (registry keys) that must be, counting MB, then keep the line on
    `doing` (with the expected wait of `step` when one is known) while the block runs. Yields the
    `Line` (None when no model is a registry key: the block's own checks refuse it)."""
    from visionlab.models import REGISTRY
    from visionlab.models.costs import expected_seconds, expected_wait
    from visionlab.models.download import fetch

    models = [m for m in models if isinstance(m, str) and m in REGISTRY]
    if not models:
        yield None
        return
    one = step and len(models) == 1
    wait, found = (expected_wait(models[0], step), expected_seconds(models[0], step)) if one else (None, None)
    text = _line(doing, title=" + ".join(REGISTRY[m].title for m in models))
    line = Line(progress, say(text + (Text(f" ({wait.en})", f"（{wait.zh}）") if wait else "")),
                found[0] if found else None)
    with ticking(line):
        for model in models:
            template = say(_line(Text("Downloading {title}: {{done}} of {{total}} MB",
                                      "正在下载 {title}：{{done}} / {{total}} MB"), title=REGISTRY[model].title))
            if fetch(model, lambda done, total, template=template: line.downloading(template, done, total)):
                line.start, line.downloading_until = time.monotonic(), 0.0   # the wait starts after the download
        yield line


def with_progress(fn: Callable, doing: Text = RUNNING, models: int | Callable[[list], list] = 1,
                  step: str | None = None) -> Callable:
    """`fn`, an endpoint whose argument number `models` is a registry key (or a function of its
    arguments giving the keys it will use), run under `announced`. The wrapper's signature is
    fn's plus a trailing `progress`."""
    signature = inspect.signature(fn)
    keys = models if callable(models) else (lambda values: values[models:models + 1])

    @functools.wraps(fn)
    def wrapped(*args):
        *values, progress = args
        with announced(keys(values), progress, doing, step):
            return fn(*values)

    wrapped.__signature__ = signature.replace(parameters=[
        *signature.parameters.values(),
        inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress())])
    return wrapped
