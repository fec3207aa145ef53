"""The real page in headless Chromium: open it, run an example, see a label, keep a screenshot."""

import shutil

import pytest

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def page(app_url):
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url, wait_until="networkidle")
        yield page
        browser.close()


def test_example_runs_and_a_label_appears(page, output_dir):
    page.get_by_text("VisionLab").first.wait_for()
    # the ShapesWorld examples are named after what they show; click the yellow star
    page.locator("img[src*='yellow-star']").first.click()
    label = page.get_by_test_id("label-output-value").first
    label.wait_for(timeout=60_000)
    page.wait_for_function(
        "document.querySelector('[data-testid=label-output-value]')?.textContent.trim() === 'star'",
        timeout=60_000)
    assert label.text_content().strip() == "star"
    page.get_by_text("Answered by").first.wait_for(timeout=30_000)
    page.screenshot(path=str(output_dir / "classification.png"), full_page=True)


def test_attention_tab_shows_rollout_and_a_patch_click(page, output_dir):
    page.get_by_role("tab", name="Attention maps / 注意力图").click()
    page.locator("img[src*='yellow-star']").last.click()
    caption = page.get_by_text("Attention rollout through all").first
    caption.wait_for(timeout=60_000)
    grid = page.get_by_text("How a ViT reads the picture").first
    grid.wait_for(timeout=60_000)
    page.screenshot(path=str(output_dir / "attention.png"), full_page=True)
    # click the middle of the patch grid picture: the caption says which patch it was
    target = page.locator("#patch-grid img").first
    box = target.bounding_box()
    target.click(position={"x": box["width"] * 0.6, "y": box["height"] * 0.5})
    page.get_by_text("(outlined) in layer").first.wait_for(timeout=60_000)
    page.screenshot(path=str(output_dir / "attention-patch.png"), full_page=True)
