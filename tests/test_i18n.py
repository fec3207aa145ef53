"""English and 中文: the sentence pairs, the asker's language, and the page's translations."""

import re
from types import SimpleNamespace

import pytest

from demos import i18n
from demos.per_page import PerPage
from visionlab.errors import VisionLabError
from visionlab.models.registry import UnknownModel, get_spec
from visionlab.text import Text, as_text

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_text_joins_both_languages_and_prints_english():
    t = Text("Hello", "你好") + ", " + Text("world.", "世界。")
    assert (t.en, t.zh, str(t)) == ("Hello, world.", "你好, 世界。", "Hello, world.")
    assert ("Note: " + t).in_language("zh-CN") == "Note: 你好, 世界。"
    assert as_text("ResNet-50").in_language("zh") == "ResNet-50"


def test_errors_carry_both_languages_and_str_is_english():
    e = VisionLabError(Text("Bad picture.", "图片坏了。"))
    assert str(e) == "Bad picture." and e.text.zh == "图片坏了。"
    with pytest.raises(UnknownModel) as caught:
        get_spec("no-such-model")
    assert str(caught.value).startswith("'no-such-model' is not") and HAN.search(caught.value.text.zh)


@pytest.mark.parametrize("header, lang", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9,zh-CN;q=0.8", "en"), ("fr-FR,zh-TW;q=0.5", "zh"),
    ("de;q=0.9, zh;q=0.4, en;q=0.7", "en"), ("", "en"), (None, "en"), ("zh;q=nonsense", "en")])
def test_accept_language_picks_the_first_of_english_and_chinese(header, lang):
    assert i18n.from_accept_language(header) == lang


def test_the_switch_overrides_the_browser_for_that_page_only():
    browser_zh = SimpleNamespace(session_hash="page-1", headers={"accept-language": "zh-CN"})
    other_page = SimpleNamespace(session_hash="page-2", headers={"accept-language": "zh-CN"})
    assert i18n.language(browser_zh) == "zh"
    i18n.remember("English", browser_zh)
    assert i18n.language(browser_zh) == "en" and i18n.language(other_page) == "zh"
    assert i18n.language(SimpleNamespace(session_hash=None, headers={})) == "en"  # an API client


def test_session_languages_are_bounded():
    sessions = PerPage(size=3)
    for k in range(5):
        sessions.set(f"s{k}", "zh")
    assert sessions.get("s0") is None and sessions.get("s4") == "zh"


def test_every_page_text_has_a_chinese_side():
    """After the app is built, every registered pair has Chinese text (notes included)."""
    from app import build_app

    build_app()
    assert len(i18n._EN) > 100 and set(i18n._EN) == set(i18n._ZH)
    # a Chinese side without Chinese characters is a forgotten translation, unless it is a name
    names = {"MAE", "SimMIM"}
    untranslated = [en for k, en in i18n._EN.items() if not HAN.search(i18n._ZH[k]) and en not in names
                    and re.search("[A-Za-z]{3}", en.replace("VisionLab", "").replace("Grounded-SAM", ""))]
    assert untranslated == []
    assert all("." not in key for key in i18n._EN)  # the page's i18n reads dots as paths
