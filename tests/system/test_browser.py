"""The real page in headless Chromium: open it, run an example, see a label, keep a screenshot."""

import shutil

import pytest

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium for one test module (skips without it); the browser tests import it."""
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url, wait_until="load", timeout=120_000)
    page.get_by_role("tab", name="Segment Anything").wait_for(timeout=120_000)  # the last tab: all built
    yield page
    page.close()


def open_example(page, tab: str, example: str) -> None:
    """Switch to a tab and click one of its examples (examples are named after what they show)."""
    page.get_by_role("tab", name=tab).click()
    page.locator(f"img[src*='{example}']:visible").first.click()


def click_picture(page, css: str, fx: float, fy: float) -> None:
    """Click a picture at a fraction (fx, fy) of its width and height."""
    target = page.locator(css).first
    target.wait_for(timeout=30_000)
    box = target.bounding_box()
    target.click(position={"x": box["width"] * fx, "y": box["height"] * fy})


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
    # the scores as a PNG figure for slides
    button = page.get_by_role("button", name="Download as PNG (for slides)").first
    page.wait_for_function("[...document.querySelectorAll('button')].some(b => "
                           "b.textContent.includes('Download as PNG') && !b.disabled)", timeout=30_000)
    with page.expect_download(timeout=30_000) as download:
        button.click()
    path = output_dir / "classification-scores.png"
    download.value.save_as(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000


def test_attention_tab_shows_rollout_and_a_patch_click(page, output_dir):
    open_example(page, "Attention", "yellow-star")
    caption = page.get_by_text("Attention rollout through all").first
    caption.wait_for(timeout=60_000)
    grid = page.get_by_text("How a ViT reads the picture").first
    grid.wait_for(timeout=60_000)
    page.screenshot(path=str(output_dir / "attention.png"), full_page=True)
    # click the middle of the patch grid picture: the caption says which patch it was
    click_picture(page, "#patch-grid img", 0.6, 0.5)
    page.get_by_text("(outlined) in layer").first.wait_for(timeout=60_000)
    page.screenshot(path=str(output_dir / "attention-patch.png"), full_page=True)


def test_detection_tab_detects_and_steps_through_nms(page, output_dir):
    open_example(page, "Detection & NMS", "scene-1")
    page.get_by_text("After per-class NMS").first.wait_for(timeout=60_000)
    page.get_by_text("Before NMS:").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Next ▶").click()
    page.get_by_text("Step 1 of").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Next ▶").click()
    page.get_by_text("Step 2 of").first.wait_for(timeout=30_000)
    page.screenshot(path=str(output_dir / "detection.png"), full_page=True)


def test_segment_anything_tab_cuts_out_a_clicked_object(page, output_dir):
    open_example(page, "Segment Anything", "scene-1")
    page.get_by_text("Click on an object to cut it out").first.wait_for(timeout=60_000)
    # the yellow star of scene-1 sits up and left of the middle (see examples/scenes/scene-1.png)
    click_picture(page, "#sam-click img", 0.32, 0.32)
    page.get_by_text("GrabCut took").first.wait_for(timeout=60_000)   # no SAM checkpoint in CI
    page.screenshot(path=str(output_dir / "segmentation.png"), full_page=True)


def test_masked_modeling_tab_reconstructs_an_example(page, output_dir):
    open_example(page, "Masked modeling", "yellow-star")
    page.get_by_text("of the baseline's").first.wait_for(timeout=60_000)
    page.screenshot(path=str(output_dir / "masked.png"), full_page=True)


def test_zero_shot_tab_ranks_labels_for_an_example(page, output_dir):
    open_example(page, "Zero-shot CLIP", "yellow-star")
    page.get_by_text("Answered by Tiny CLIP").first.wait_for(timeout=60_000)
    page.get_by_text("Logit scale").first.wait_for(timeout=30_000)
    page.screenshot(path=str(output_dir / "zero_shot.png"), full_page=True)


def test_language_switch_changes_labels_and_server_sentences(page, output_dir):
    """中文 relabels the page in place (tabs, buttons, notes) and the server answers in Chinese;
    English switches it all back. Runs last in this file: the other tests read English."""
    page.get_by_role("tab", name="Classification").click()
    page.locator("#vl-language").get_by_text("中文").click()
    page.get_by_role("tab", name="图像分类").wait_for(timeout=30_000)
    page.get_by_role("button", name="分类", exact=True).wait_for(timeout=30_000)
    assert page.get_by_role("tab", name="Classification").count() == 0
    assert page.evaluate("document.documentElement.lang").startswith("zh")
    # a server-written sentence: the error for an empty label box, in Chinese
    page.get_by_role("tab", name="零样本 CLIP").click()
    labels = page.get_by_label("标签：任意词语，用逗号或换行分隔")
    labels.fill("")
    page.get_by_role("button", name="给标签排序").click()
    page.get_by_text("请至少输入一个标签").first.wait_for(timeout=60_000)
    page.screenshot(path=str(output_dir / "chinese.png"), full_page=True)
    page.locator("#vl-language").get_by_text("English").click()
    page.get_by_role("tab", name="Zero-shot CLIP").wait_for(timeout=30_000)
    page.get_by_role("button", name="Rank the labels").wait_for(timeout=30_000)
