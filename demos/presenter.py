"""Presenter mode: large type and high-contrast pictures for a projector, switched by a
checkbox or by opening the page with `?presenter=1`.

The type is CSS (a body class raises gradio's type-scale variables). The pictures are drawn by
the server, so the server remembers which pages are in presenter mode (`ON`) and `style()` gives
the drawing style for the request being answered (see `demos.common.handler`)."""

from __future__ import annotations

import gradio as gr

from demos.i18n import tr
from demos.per_page import PerPage, current_request, session_of
from visionlab.ops import style as drawing

# gradio's type scale is CSS variables; presenter mode raises them (and the Markdown text).
CSS = """
body.vl-presenter, body.vl-presenter .gradio-container {
  --text-xxs: 13px; --text-xs: 15px; --text-sm: 17px; --text-md: 20px; --text-lg: 24px;
  --text-xl: 30px; --text-xxl: 36px; --block-label-text-size: 17px; --block-info-text-size: 16px;
}
body.vl-presenter .prose { font-size: 1.3em; line-height: 1.45; }
body.vl-presenter .prose strong { color: #000; }
"""

SET_CLASS = "(on) => { document.body.classList.toggle('vl-presenter', !!on); return on; }"
FROM_URL = "() => new URLSearchParams(window.location.search).get('presenter') === '1'"
ON = PerPage()  # page -> True while its presenter mode is on


def remember(on: bool, request: gr.Request) -> bool:
    ON.set(session_of(request), bool(on))
    return bool(on)


def style() -> drawing.Style:
    """HIGH_CONTRAST for a page in presenter mode, else NORMAL (also outside any request)."""
    return drawing.for_presenter(ON.get(session_of(current_request()), False))


def build(demo: gr.Blocks) -> gr.Checkbox:
    """The checkbox; the page's address can switch it on at load (`?presenter=1`)."""
    box = gr.Checkbox(False, label=tr("Presenter mode: large type, bold pictures (or open the page with ?presenter=1)",
                                      "演示模式：大字体、醒目的图（也可以用 ?presenter=1 打开页面）"),
                      container=False, elem_id="vl-presenter")
    # Callable (undocumented) as /set_presenter, so an API client can ask for presenter pictures too.
    box.input(remember, box, box, js=SET_CLASS, api_name="set_presenter", api_visibility="undocumented",
              queue=False)
    demo.load(remember, box, box, js=f"() => {{ const on = ({FROM_URL})(); ({SET_CLASS})(on); return on; }}",
              api_visibility="private", queue=False)
    return box
