"""Presenter mode: large type for a projector, switched by a checkbox or by `?presenter=1`."""

from __future__ import annotations

import gradio as gr

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


def build(demo: gr.Blocks) -> gr.Checkbox:
    """The checkbox; the page's address can switch it on at load (`?presenter=1`)."""
    box = gr.Checkbox(False, label="Presenter mode / 演示模式 (large type; or open the page with ?presenter=1)",
                      container=False, elem_id="vl-presenter")
    box.change(None, box, box, js=SET_CLASS, api_visibility="private")
    demo.load(None, None, box, js=f"() => {{ const on = ({FROM_URL})(); ({SET_CLASS})(on); return on; }}",
              api_visibility="private")
    return box
