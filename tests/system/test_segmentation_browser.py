"""The Segment Anything tab in headless Chromium, offline with nothing downloaded (English and 中文):
the device's default model, what a new picture costs and why that default, and GrabCut answering
with a sentence for a hub model that is not here."""

import pytest

from tests.system.test_browser import browser  # noqa: F401 - the shared headless Chromium

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("locale,tab,says", [
    ("en-GB", "Segment Anything", ["On a CPU VisionLab starts on EdgeTAM", "A new picture takes the image encoder about",
                                   "Clicks after that are instant", "cannot be loaded now", "GrabCut"]),
    ("zh-CN", "分割一切", ["在 CPU 上 VisionLab 默认用 EdgeTAM", "图像编码器处理一张新图片", "之后的点击立刻就有结果",
                                   "现在无法加载", "GrabCut"]),
])
def test_segmentation_tab_default_cost_and_offline_fallback(browser, app_url, output_dir, locale, tab, says):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale=locale)
    page = context.new_page()
    page.goto(app_url, wait_until="load", timeout=120_000)
    page.get_by_role("tab", name=tab).wait_for(timeout=120_000)
    page.get_by_role("tab", name=tab).click()
    page.get_by_text(says[0]).first.wait_for(timeout=30_000)
    page.get_by_text(says[1]).first.wait_for(timeout=30_000)
    page.locator("img[src*='scene']:visible").first.click()
    target = page.locator("#sam-click img").first
    target.wait_for(timeout=60_000)
    box = target.bounding_box()
    target.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})
    for text in says[2:]:
        page.get_by_text(text).first.wait_for(timeout=60_000)
    page.screenshot(path=str(output_dir / f"segmentation-{locale}.png"), full_page=True)
    context.close()
