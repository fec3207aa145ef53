"""demos.common.handler: what every tab's handler gets from the page that asked."""

from types import SimpleNamespace

import gradio as gr
import pytest
from gradio.context import LocalContext

from demos import i18n, presenter
from demos.common import handler
from visionlab.errors import VisionLabError
from visionlab.ops import style
from visionlab.text import Text


@pytest.fixture
def asked_by():
    """Answer as if the page with this session hash had sent the request."""
    tokens = []

    def page(session: str, accept_language: str = "en-US"):
        tokens.append(LocalContext.request.set(SimpleNamespace(session_hash=session,
                                                               headers={"accept-language": accept_language})))
    yield page
    for token in reversed(tokens):
        LocalContext.request.reset(token)


def test_pictures_are_drawn_in_the_asking_pages_style(asked_by):
    drawn_with = handler(lambda: style.current())
    presenter.remember(True, SimpleNamespace(session_hash="projector"))
    asked_by("projector")
    assert drawn_with() is style.HIGH_CONTRAST
    asked_by("student")
    assert drawn_with() is style.NORMAL


def test_texts_and_errors_come_back_in_the_asking_pages_language(asked_by):
    caption = handler(lambda: (1, Text("Step 1.", "第 1 步。")))
    asked_by("reader", "zh-CN,zh;q=0.9")
    assert caption() == (1, "第 1 步。")
    i18n.remember("English", SimpleNamespace(session_hash="reader"))
    assert caption() == (1, "Step 1.")

    def fails():
        raise VisionLabError(Text("Bad picture.", "图片坏了。"))

    asked_by("other-reader", "zh-CN")
    with pytest.raises(gr.Error, match="图片坏了"):
        handler(fails)()
