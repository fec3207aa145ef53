"""The ask-the-picture tab in headless Chromium: an example scene captioned and asked about, in
English, in 中文 and in presenter mode; a screenshot of each (test-output/ask-*.png)."""

import pytest

from tests.system.test_browser import browser  # noqa: F401 - the shared headless Chromium

pytestmark = pytest.mark.e2e


def open_tab(browser, url: str):
    """A fresh page (its own language and presenter settings) on the ask tab, scene-1 clicked."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB").new_page()
    page.goto(url, wait_until="load", timeout=120_000)
    tab = page.get_by_role("tab", name="Ask the picture")
    tab.wait_for(timeout=120_000)
    tab.click()
    page.locator("img[src*='scene-1']:visible").first.click()
    return page


def wait_for_answer(page, words: str = "the product of its tokens") -> None:
    """The answer's details line (its probability) has come."""
    page.get_by_text(words).first.wait_for(timeout=90_000)


def test_english_caption_answer_and_attention(browser, app_url, output_dir):
    page = open_tab(browser, app_url)
    page.get_by_text("Answered by Tiny BLIP captioner").first.wait_for(timeout=90_000)
    page.get_by_text("Beam search").first.wait_for(timeout=30_000)
    wait_for_answer(page)
    page.get_by_text("ITM: p(match)").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # galleries finish loading their pictures
    page.screenshot(path=str(output_dir / "ask-en.png"), full_page=True)
    page.context.close()


def test_chinese_page_speaks_chinese(browser, app_url, output_dir):
    page = open_tab(browser, app_url)
    wait_for_answer(page)
    page.locator("#vl-language").get_by_text("中文").click()
    page.get_by_role("tab", name="看图问答").wait_for(timeout=30_000)
    page.get_by_role("button", name="为图片生成描述").click()
    page.get_by_text("束搜索").first.wait_for(timeout=90_000)
    page.get_by_role("button", name="提问", exact=True).click()
    wait_for_answer(page, "各个 token 概率之积")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(output_dir / "ask-zh.png"), full_page=True)
    page.context.close()


def test_presenter_mode_draws_for_a_projector(browser, app_url, output_dir):
    page = open_tab(browser, app_url + "?presenter=1")
    page.get_by_text("Answered by Tiny BLIP captioner").first.wait_for(timeout=90_000)
    wait_for_answer(page)
    assert page.evaluate("document.body.classList.contains('vl-presenter')")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(output_dir / "ask-presenter.png"), full_page=True)
    page.context.close()


def test_example_questions_are_in_sight_and_a_click_asks_one(browser, app_url, output_dir):
    """The example questions show as a list (a closed dropdown showed an empty box); clicking one puts
    it in the question box and asks it."""
    page = open_tab(browser, app_url)
    wait_for_answer(page)
    example = page.get_by_label("is there a blue ring?", exact=True)   # scene-1 has none
    assert example.is_visible() and page.get_by_label("what colour is the star?", exact=True).is_visible()
    example.check()
    box = page.get_by_label("Your question (in English)")
    page.wait_for_function("(el) => el.value === 'is there a blue ring?'", arg=box.element_handle(), timeout=30_000)
    answer = page.get_by_label("Answer", exact=True)
    page.wait_for_function("(el) => el.value === 'no'", arg=answer.element_handle(), timeout=90_000)
    page.screenshot(path=str(output_dir / "ask-example-question.png"), full_page=True)
    page.context.close()
