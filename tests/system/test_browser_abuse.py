"""Issue 16 in the real page (headless Chromium): the NMS player plays on the page's timer (no
worker waits between steps), and typed text reaches the page as text, not as HTML."""

import pytest

from tests.system.test_browser import browser, open_example, page  # noqa: F401 - the shared browser fixtures

pytestmark = pytest.mark.e2e




def test_play_steps_through_nms_to_the_end_on_the_pages_timer(page, output_dir):
    open_example(page, "Detection & NMS", "scene-1")
    page.get_by_text("After per-class NMS").first.wait_for(timeout=60_000)
    page.get_by_text("Before NMS:").first.wait_for(timeout=30_000)   # drawn: new candidates stop a player
    page.get_by_role("button", name="▶ Play").click()
    page.get_by_text("Step 2 of").first.wait_for(timeout=30_000)
    page.get_by_text("Done:").first.wait_for(timeout=60_000)     # the timer stops itself at the last step
    page.screenshot(path=str(output_dir / "detection-played.png"), full_page=True)


def test_a_typed_label_is_shown_as_text_not_html(page):
    page.get_by_role("tab", name="Zero-shot CLIP").click()
    page.locator("img[src*='yellow-star']:visible").first.click()
    labels = page.get_by_label("Labels: any words, separated by commas or new lines")
    labels.fill('<img src="x" id="injected">')
    page.get_by_role("button", name="Rank the labels").click()
    page.get_by_text('Best: <img src="x" id="injected">').first.wait_for(timeout=60_000)
    assert page.locator("#injected").count() == 0
