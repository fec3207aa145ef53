"""The fine-tuning tab in headless Chromium: train, watch the curves arrive, classify with the
new model; in English, in 中文 and in presenter mode (screenshots in test-output/)."""

import pytest

from tests.system.test_browser import browser  # noqa: F401 - the shared headless Chromium

pytestmark = pytest.mark.e2e


def open_tab(browser, url: str, tab: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="load", timeout=120_000)
    page.get_by_role("tab", name=tab).click(timeout=120_000)
    return page


def test_train_and_classify_in_english(browser, app_url, output_dir):
    from demos.common import EXAMPLES_DIR

    page = open_tab(browser, app_url, "Fine-tuning")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Finished:").first.wait_for(timeout=120_000)
    first = page.get_by_label("Run id").input_value()
    # a second run at batch 64 (the scaling rule on): both runs on the same plots
    box = page.get_by_label("number input for Batch size")
    box.fill("64")
    box.press("Enter")
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(f"[...document.querySelectorAll('input')].some(i => i.value && i.value.length === 8 "
                           f"&& i.value !== '{first}')", timeout=120_000)
    page.get_by_text("Finished:").first.wait_for(timeout=120_000)
    page.get_by_text("0.02 x 64 / 16 = 0.08").first.wait_for(timeout=10_000)
    page.locator("#vl-ft-classify input[type=file]").set_input_files(str(EXAMPLES_DIR / "shapes" / "yellow-star.png"))
    page.get_by_role("button", name="Classify with my model").click()
    page.get_by_text("Answered by your run").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # the plots draw
    page.screenshot(path=str(output_dir / "fine_tune.png"), full_page=True)
    page.close()


def test_train_in_chinese(browser, app_url, output_dir):
    page = open_tab(browser, app_url, "Fine-tuning")
    page.locator("#vl-language").get_by_text("中文").click()
    page.get_by_role("tab", name="微调").wait_for(timeout=30_000)
    page.get_by_role("button", name="训练", exact=True).click()
    page.get_by_text("结束：").first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(output_dir / "fine_tune-zh.png"), full_page=True)
    page.locator("#vl-language").get_by_text("English").click()
    page.get_by_role("tab", name="Fine-tuning").wait_for(timeout=30_000)
    page.close()


def test_train_in_presenter_mode(browser, app_url, output_dir):
    page = open_tab(browser, app_url + "?presenter=1", "Fine-tuning")
    page.wait_for_function("document.body.classList.contains('vl-presenter')", timeout=30_000)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Finished:").first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(output_dir / "fine_tune-presenter.png"), full_page=True)
    page.close()
