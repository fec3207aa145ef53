"""Issue 16: what one request may ask of the server (visionlab.budget), checked before any work,
and the pieces that keep one client from hurting the others: typed text shown as typed, the
brush read only when used, the NMS player that never waits, a page's share of the queue,
cache hits that tell nobody what someone else asked, and a similarity matrix of any size."""

import io
import math
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from gradio.context import LocalContext
from markdown_it import MarkdownIt
from PIL import Image

from visionlab import budget
from visionlab.markdown import escape, escape_html
from visionlab.pipelines import zero_shot as zs
from visionlab.text import Text

ROOT = Path(__file__).resolve().parents[1]
STAR = ROOT / "examples" / "shapes" / "yellow-star.png"
TOP_K = budget.Setting("top_k", "Top-k", "Top-k")


# ---- item 8: numbers and JSON prompts -----------------------------------------------------

@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "5", [1], {"k": 1}, True, None, 2.5, 11, 0, 1e300])
def test_a_bad_number_gets_a_sentence_naming_the_parameter(value):
    with pytest.raises(budget.BadValue) as caught:
        budget.number(value, TOP_K, 1, 10, whole=True)
    assert "Top-k (top_k) must be a whole number from 1 to 10" in caught.value.text.en
    assert "top_k" in caught.value.text.zh and "1 到 10" in caught.value.text.zh


def test_good_numbers_pass_as_int_or_float():
    assert budget.number(3.0, TOP_K, 1, 10, whole=True) == 3 and isinstance(budget.number(3.0, TOP_K, 1, 10, True), int)
    assert budget.number(0.5, TOP_K, 0, 1) == 0.5


def test_json_prompts_are_refused_before_the_parser_recurses_or_meets_nan():
    points = budget.POINTS
    t0 = time.perf_counter()
    with pytest.raises(budget.BadValue, match="nested more than 4 levels"):
        budget.json_value("[" * 9000 + "]" * 9000, points, Text("points", "点"), 64, "[[1, 2]]")
    assert time.perf_counter() - t0 < 0.5
    for bad in ("[[NaN, 3]]", "[[Infinity, 3]]", "[[1e999, 3]]", "[[-Infinity, 3]]"):
        with pytest.raises(budget.BadValue, match="must be plain numbers"):
            budget.json_value(bad, points, Text("points", "点"), 64, "[[1, 2]]")
    with pytest.raises(budget.BadValue, match="could not be read"):
        budget.json_value("[[1, 2]", points, Text("points", "点"), 64, "[[1, 2]]")
    with pytest.raises(budget.OverBudget, match="65 points; one request takes at most 64"):
        budget.json_value(str([[1, 2]] * 65), points, Text("points", "点"), 64, "[[1, 2]]")
    assert budget.json_value("[[1, 2, 1]]", points, Text("points", "点"), 64, "[[1, 2]]") == [[1, 2, 1]]
    assert budget.json_value([[1, 2]], points, Text("points", "点"), 64, "[[1, 2]]") == [[1, 2]]  # API lists
    assert budget.json_value("  ", points, Text("points", "点"), 64, "[[1, 2]]") is None


def test_text_boxes_must_be_text_of_bounded_length():
    assert budget.text(None, budget.LABELS) == ""
    with pytest.raises(budget.BadValue, match=r"The labels \(labels\) must be text"):
        budget.text({"a": 1}, budget.LABELS)
    with pytest.raises(budget.OverBudget, match="20,001 characters; one request takes at most 20,000"):
        budget.text("x" * 20_001, budget.LABELS)


# ---- item 10: typed text is shown as typed ------------------------------------------------

@pytest.mark.parametrize("typed", ['<img src="x" onerror="alert(1)">', "![i](http://10.0.0.1/x.png)", "**bold** _it_",
                                   "[link](http://e.com)", "$$x^2$$", "# heading", "a\n\n# b", "http://e.com/a",
                                   "`code`", "\\*star\\*", "&lt;b&gt;", "猫，狗"])
def test_escaped_text_renders_as_the_same_text_and_nothing_else(typed):
    html = MarkdownIt("commonmark", {"html": True}).enable("linkify").render(f"Best: **{escape(typed)}**")
    inner = html.split("<strong>", 1)[1].rsplit("</strong>", 1)[0]
    assert "<" not in inner.replace("&lt;", "")              # no tag: no picture, link, emphasis, heading
    import html as h

    assert h.unescape(inner) == " ".join(typed.split())        # the student's text, exactly


def test_html_escape_keeps_quotes_readable():
    assert escape_html("'<b>' & it's") == "'&lt;b&gt;' &amp; it's"


def test_a_label_in_the_best_line_and_the_notes_is_shown_as_typed():
    from demos.zero_shot import run_zero_shot

    _, _, scale, _, footer = run_zero_shot(str(STAR), '<img src="x">, <img src="x">', "shapes-clip-tiny", "{}")
    assert '<img src="x">' not in scale and "&lt;img src\\=\\\"x\\\"&gt;" in scale
    assert "<img" not in footer                                  # the "repeated labels" note quotes it


def test_errors_that_quote_the_student_are_escaped_for_the_toast():
    from demos.common import handler
    from visionlab.errors import VisionLabError

    def refuse():
        raise VisionLabError(Text("The template '<img src=x>' needs a {}.", "模板“<img src=x>”需要 {}。"))

    with pytest.raises(gr.Error) as caught:
        handler(refuse)()
    assert caught.value.message == "The template '&lt;img src=x&gt;' needs a {}."


# ---- item 9: data: URLs -------------------------------------------------------------------

def test_a_data_url_picture_is_refused_in_the_askers_language():
    from gradio.data_classes import ImageData

    from demos import i18n
    from demos.common import Refusal, SafeImage, handler

    value = SafeImage(type="filepath").preprocess(ImageData(path=None, url="data:image/png;base64,iVBORw0KGgo="))
    assert isinstance(value, Refusal)
    ran = []
    token = LocalContext.request.set(SimpleNamespace(session_hash="zh-page", headers={"accept-language": "zh-CN"}))
    try:
        with pytest.raises(gr.Error, match="不接受请求里的 data: URL"):
            handler(lambda image: ran.append(image))(value)
    finally:
        LocalContext.request.reset(token)
    assert not ran and i18n.language() == "en"


# ---- items 1, 2, 6, 7 and 8: the zero-shot budget -----------------------------------------

@pytest.fixture
def no_model(monkeypatch):
    """Fail if the model would run: refusals must come before any work."""
    def ran(*args, **kwargs):
        raise AssertionError("the model ran")
    monkeypatch.setattr(zs, "_rank_on_device", ran)
    monkeypatch.setattr(zs, "_matrix_on_device", ran)


def test_the_zero_shot_budget_is_checked_before_any_work(no_model):
    labels = ", ".join(f"label {i}" for i in range(500))
    with pytest.raises(budget.OverBudget, match="81 templates; one request takes at most 80"):
        zs.zero_shot(str(STAR), "cat", "\n".join(f"{i} {{}}" for i in range(81)))
    with pytest.raises(budget.OverBudget, match="500 labels x 9 templates make 4,500 sentences .* at most 4,000"):
        zs.zero_shot(str(STAR), labels, "\n".join(f"{i} {{}}" for i in range(9)))
    with pytest.raises(budget.OverBudget, match="301 characters long; each may have at most 300"):
        zs.zero_shot(str(STAR), "x" * 301, "{}")
    with pytest.raises(budget.OverBudget, match="at most 20,000"):
        zs.zero_shot(str(STAR), "cat", "\n".join(f"a photo number {i} of a {{}}." for i in range(2000)))
    with pytest.raises(budget.BadValue, match="must be text"):
        zs.zero_shot(str(STAR), {"cat": 1}, "{}")


def test_the_caption_limit_is_named_not_mistaken_for_an_empty_box(no_model):
    files = [str(STAR)]
    with pytest.raises(budget.OverBudget, match="65 texts .* at most 64"):
        zs.similarity_matrix(files, "\n".join(f"caption {i}" for i in range(65)))
    with pytest.raises(budget.OverBudget, match="at most 20,000"):
        zs.similarity_matrix(files, "\n".join(f"caption {i}" for i in range(10_000)))
    with pytest.raises(zs.LabelError, match="at least one sentence"):
        zs.similarity_matrix(files, "\n \n")
    with pytest.raises(budget.OverBudget, match="at most 300"):
        zs.retrieve("q" * 301, files)


def test_the_text_encoder_stops_with_a_sentence_when_its_time_is_up(monkeypatch):
    monkeypatch.setattr(budget, "TEXT_SECONDS", 0.0)
    with pytest.raises(budget.OverBudget, match="stopped after 0 s, its time budget"):
        zs.zero_shot(str(STAR), ", ".join(f"timed {i}" for i in range(40)), "{}")


def test_a_format_string_template_costs_nothing(monkeypatch):
    """Item 1 through the tab: twenty labels in "{{}}{0:0>1000000}" (str.format: 41 s, +3.2 GB)."""
    from demos.zero_shot import run_zero_shot

    t0 = time.perf_counter()
    _, rows, _, _, _ = run_zero_shot(str(STAR), ", ".join(f"label{i}" for i in range(20)), "shapes-clip-tiny",
                                     "{{}}{0:0>1000000}")
    assert time.perf_counter() - t0 < 10
    assert {row[2] for row in rows} == {f"{{label{i}}}{{0:0>1000000}}" for i in range(20)}   # as typed


def test_a_cache_hit_reports_the_time_the_first_asker_saw():
    """Item 6: the second student asking the same picture and labels must not learn it from the
    footer ("in 0 ms" where the first saw "in 13 ms")."""
    picture = np.asarray(Image.open(STAR).convert("RGB"))[:, ::-1].copy()   # a picture no other test uses
    labels = f"cached {time.time_ns()}, ring, star"
    first = zs.zero_shot(picture, labels)
    second = zs.zero_shot(picture, labels)
    assert second.text_cached and second.image_cached
    assert second.latency_ms == first.latency_ms > 0


def test_segment_anything_says_skipped_only_for_the_pages_own_earlier_clicks():
    """Item 6: the SAM embedding is shared, but "encoder skipped" is said only to the page that
    encoded the picture before, never to another page whose click hit the same shared entry."""
    from demos.segmentation import seen_before

    seg = SimpleNamespace(model="sam-vit-b", image=np.full((8, 8, 3), time.time_ns() % 251, np.uint8))
    first, other = SimpleNamespace(session_hash=f"a{time.time_ns()}"), SimpleNamespace(session_hash=f"b{time.time_ns()}")
    assert not seen_before(seg, first) and seen_before(seg, first)
    assert not seen_before(seg, other)


def test_the_matrix_picture_fits_webp_at_any_allowed_size():
    from visionlab.ops.similarity import MAX_MATRIX_SIDE, matrix_picture

    for n, m in [(zs.MAX_GALLERY, budget.MAX_CAPTIONS), (zs.MAX_GALLERY, 200), (6, 190)]:
        sim = np.random.default_rng(0).random((n, m), dtype=np.float32)
        picture = matrix_picture(sim, [np.zeros((32, 32, 3), np.uint8)] * n, [f"T{j + 1}" for j in range(m)],
                                 highlight=sim == sim.max(1, keepdims=True))
        assert max(picture.shape[:2]) <= MAX_MATRIX_SIDE
        Image.fromarray(picture).save(io.BytesIO(), format="WEBP")   # gradio's format: at most 16383 px


# ---- item 3: the brush is read only when used, within the budget ----------------------------

def test_random_squares_never_read_the_brush_layers():
    from demos.masked import run_reconstruct

    out = run_reconstruct(str(STAR), "MAE", "shapes-mae-tiny", "shapes-simmim-tiny", 0.75, 8, 0,
                          "Random squares (seed)", {"layers": ["/no/such/layer.png"] * 40})
    assert out[-1]["MAE"]["hidden_patches"] == 48


def test_brush_layers_over_the_budget_are_refused_before_decoding(tmp_path, monkeypatch):
    from demos.masked import painted

    big = tmp_path / "big.png"
    Image.new("RGBA", (8000, 8000)).save(big)
    decoded = []
    monkeypatch.setattr(Image.Image, "convert", lambda self, *a, **k: decoded.append(self) or self)
    with pytest.raises(budget.OverBudget, match="8000 x 8000 pixels; a layer may have at most 2048 x 2048"):
        painted({"layers": [str(big)]})
    with pytest.raises(budget.OverBudget, match="5 brush layers; one request takes at most 4"):
        painted({"layers": [str(big)] * 5})
    assert not decoded
    monkeypatch.undo()
    stroke = Image.new("RGBA", (60, 40))
    stroke.putpixel((10, 5), (255, 0, 255, 255))
    buffer = io.BytesIO()
    stroke.save(buffer, format="PNG")
    mask = painted({"layers": [buffer.getvalue()]})               # blobs the page sent ahead
    assert mask.shape == (40, 60) and mask.sum() == 1 and mask[5, 10]


def test_the_editor_drops_layer_indexes_beyond_the_budget_and_old_blobs():
    from demos.masked import BrushEditor

    editor = BrushEditor()

    def blob(i, index):
        return SimpleNamespace(data={"type": "layer", "index": str(index), "id": f"id{i}"}, files=[("f", b"png")])

    editor.accept_blobs(blob(0, 10 ** 9))                          # gradio would grow a list to that length
    assert not editor.blob_storage
    for i in range(40):
        editor.accept_blobs(blob(i, 0))
    assert len(editor.blob_storage) == BrushEditor.BLOBS


# ---- item 4: the NMS player never holds a worker ------------------------------------------

def test_the_player_answers_each_step_at_once_and_stops_at_the_end(monkeypatch):
    import demos.detection as tab
    from visionlab.pipelines.detection import detect, suppress

    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail("the player slept in a worker"))
    assert not hasattr(tab, "play")                                # no generator holding a thread
    raw = detect(str(ROOT / "examples" / "scenes" / "scene-1.png"))
    last = len(suppress(raw, 0.3, 0.5, "per-class").trace)
    step, *_, timer = tab.play_start(raw, 0.3, 0.5, "Per-class NMS", 0)
    assert step == 0 and timer.active
    seen = []
    while timer.active:
        t0 = time.perf_counter()
        step, picture, caption, rows, timer = tab.play_tick(raw, 0.3, 0.5, "Per-class NMS", step)
        assert time.perf_counter() - t0 < 2
        seen.append(step)
    assert seen == list(range(1, last + 1)) and "Done" in caption.en
    assert tab.play_start(raw, 0.3, 0.5, "Per-class NMS", last)[0] == 0          # at the end: replay
    assert tab.next_view(raw, 0.3, 0.5, "Per-class NMS", last)[0] == last        # Next stops at the end
    assert tab.previous_view(raw, 0.3, 0.5, "Per-class NMS", 0)[0] == 0
    with pytest.raises(budget.BadValue, match=r"The IoU threshold \(iou\)"):
        tab.play_tick(raw, 0.3, math.nan, "Per-class NMS", 1)        # NaN would silently turn NMS off


def test_a_long_trace_is_played_to_the_step_cap_with_a_sentence(monkeypatch):
    import demos.detection as tab
    from visionlab.pipelines.detection import detect

    monkeypatch.setattr(budget, "MAX_NMS_STEPS", 10)
    raw = detect(str(ROOT / "examples" / "scenes" / "scene-1.png"))
    kept = tab.cleaned(raw, 0.0, 0.5, "Per-class NMS")
    assert len(kept.trace) > 10
    step, _, caption, _ = tab.next_view(raw, 0.0, 0.5, "Per-class NMS", 10)
    assert step == 10 and "first 10 of" in caption.en and "前 10 步" in caption.zh


# ---- item 2: one page's share of the queue ------------------------------------------------

def test_one_page_holds_at_most_its_share_of_the_queue():
    from demos import fair_queue

    def event(session, cid="model"):
        return SimpleNamespace(session_hash=session, fn=SimpleNamespace(concurrency_id=cid))

    queue = SimpleNamespace(event_queue_per_concurrency_id={"model": SimpleNamespace(queue=[event("a"), event("a")])},
                            active_jobs=[[event("a")], None, [event("b")]])
    refusal = fair_queue.over_share(queue, "a", "model", "model")
    assert refusal and f"at most {fair_queue.MODEL_SHARE} at once" in refusal.en and "最多" in refusal.zh
    assert fair_queue.over_share(queue, "a", "drawing", "model") is None     # other events still pass
    assert fair_queue.over_share(queue, "b", "model", "model") is None       # other pages are not affected
    queue.event_queue_per_concurrency_id["drawing"] = SimpleNamespace(queue=[event("a", "drawing")] * 5)
    assert f"at most {fair_queue.EVENT_SHARE} at once" in fair_queue.over_share(queue, "a", "drawing", "model").en


def test_the_share_is_installed_on_gradios_queue():
    import demos.common  # noqa: F401 - installs it
    from gradio import queueing

    assert getattr(queueing.Queue.push, "fair_share", False)


# ---- item 8 through the tabs: every numeric parameter -------------------------------------

@pytest.mark.parametrize("call", [
    lambda: __import__("demos.classification").classification.run_classify(str(STAR), "shapes-resnet-tiny", math.nan),
    lambda: __import__("demos.masked").masked.run_reconstruct(str(STAR), "MAE", "shapes-mae-tiny", "shapes-simmim-tiny",
                                                                0.75, math.nan),
    lambda: __import__("demos.masked").masked.run_reconstruct(str(STAR), "MAE", "shapes-mae-tiny", "shapes-simmim-tiny",
                                                                0.75, 8, "seven"),
    lambda: __import__("demos.attention").attention.run_attention(str(STAR), "shapes-vit-tiny", discard=math.nan),
    lambda: __import__("demos.attention").attention.run_patch(str(STAR), "shapes-vit-tiny", math.inf),
    lambda: __import__("demos.detection").detection.detect_endpoint(str(STAR), iou=math.nan),
    lambda: __import__("demos.detection").detection.anchor_explainer(None, cells=[4]),
    lambda: __import__("demos.segmentation").segmentation.segment_endpoint(str(STAR), "[[NaN, 3]]"),
    lambda: __import__("demos.segmentation").segmentation.segment_endpoint(str(STAR), "[" * 50 + "]" * 50),
])
def test_nan_text_and_lists_for_numbers_get_a_sentence_naming_the_parameter(call):
    with pytest.raises(budget.BadValue, match=r"\((top_k|mask_patch|seed|discard|patch|iou|cells|points)\)"):
        call()


def test_a_detector_takes_at_most_its_number_of_queries():
    from demos.detection import checked_queries

    assert checked_queries("cat, dog") == "cat, dog"
    with pytest.raises(budget.OverBudget, match="33 things to look for; one request takes at most 32"):
        checked_queries(", ".join(f"thing {i}" for i in range(33)))
