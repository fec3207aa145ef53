"""Zero-shot CLIP tab: free-text labels, templates and ensembles, softmax vs cosine, the
image-text similarity matrix and text-to-picture retrieval over a small gallery."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from demos.common import (MODEL_CONCURRENCY, answered_by, example_paths, image_input,
                          model_choices, model_dropdown, note_panel, skip_without_image, handler, warn)
from demos.example_cache import cached_for_examples
from demos.progress import with_progress
from demos.figures import png_button
from demos.i18n import choices, say, tr
from visionlab.models.defaults import default_for
from visionlab.markdown import escape
from visionlab.ops.images import upscale_nearest
from visionlab.text import Text

# Choices are (shown, value) pairs: the value is the English, which is also what the API takes.
SOFTMAX = "Softmax over the labels (they compete, sum to 1)"
COSINE = "Cosine of each label on its own (no competition)"
VIEWS = choices([SOFTMAX, COSINE], ["对标签做 softmax（互相竞争，总和为 1）", "每个标签单独的余弦相似度（不竞争）"])
ONE, ENSEMBLE = "One template", "Ensemble of templates"
PRESETS = choices([ONE, ENSEMBLE], ["一个模板", "模板集成"])
MATRIX_VIEWS = {"Cosine similarity": "cosine",
                "Softmax along each row (picture → which text?)": "per_image",
                "Softmax along each column (text → which picture?)": "per_text"}
MATRIX_CHOICES = choices(MATRIX_VIEWS, ["余弦相似度", "按行 softmax（图片 → 哪段文字？）", "按列 softmax（文字 → 哪张图片？）"])
TABLE_HEADERS = ["#", "label", "sentence(s) the text encoder read", "cosine", "logit = scale × cos", "prob."]
PHOTO_CAPTIONS = {"astronaut": "a photo of an astronaut.", "chelsea": "a photo of a cat.",
                  "coffee": "a photo of a cup of coffee.", "rocket": "a photo of a rocket."}
PHOTO_CAPTIONS_ZH = {"astronaut": "一张宇航员的照片。", "chelsea": "一张猫的照片。", "coffee": "一张咖啡的照片。",
                     "rocket": "一张火箭的照片。"}


def defaults(model: str):
    from visionlab.pipelines.zero_shot_defaults import defaults_for

    return defaults_for(model)


def gallery_paths(model: str) -> list[str]:
    """The examples that make a square matrix with `matrix_captions`: shapes for the bundled
    model, photos then shapes for real ones."""
    shapes = [p for p in example_paths() if "/shapes/" in p]
    photos = [p for p in example_paths() if Path(p).stem in PHOTO_CAPTIONS]
    return shapes if _bundled(model) else photos + shapes


def _bundled(model: str) -> bool:
    from visionlab.models import get_spec

    return get_spec(model).bundled


def matrix_captions(model: str) -> str:
    """One caption per default gallery picture, in gallery order (the diagonal should light up)."""
    chinese = defaults(model).template.startswith("一张")
    lines = []
    for p in gallery_paths(model):
        stem = Path(p).stem
        if stem in PHOTO_CAPTIONS:
            lines.append((PHOTO_CAPTIONS_ZH if chinese else PHOTO_CAPTIONS)[stem])
        else:
            colour, shape = stem.split("-")
            article = "an" if colour[0] in "aeiou" and not _bundled(model) else "a"  # the tiny CLIP learnt only "a"
            lines.append(f"一个{_ZH_COLOURS[colour]}的{_ZH_SHAPES[shape]}。" if chinese
                         else f"a photo of {article} {colour} {shape}.")
    return "\n".join(lines)


_ZH_COLOURS = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色", "orange": "橙色"}
_ZH_SHAPES = {"circle": "圆", "square": "正方形", "triangle": "三角形", "star": "星星", "cross": "十字", "ring": "圆环"}


@cached_for_examples
def run_zero_shot(image: str | None, labels: str, model: str, templates: str, view: str = SOFTMAX):
    """Rank `labels` (comma or newline separated) for `image`; `templates` one per line, each with {}.
    Returns (ranking, table rows, scale markdown, model input picture, answered-by markdown)."""
    from visionlab.pipelines.zero_shot import zero_shot

    r = zero_shot(image, labels, templates, model)
    if view == COSINE:
        ranking = {s.label: max(0.0, s.cosine) for s in sorted(r.ranked, key=lambda s: -s.cosine)}
    else:
        ranking = {s.label: s.probability for s in r.ranked}
    rows = [[i + 1, s.label, sentences_cell(s.sentences), round(s.cosine, 4), round(s.logit, 2),
             f"{s.probability:.1%}"] for i, s in enumerate(r.ranked)]
    best, n = r.ranked[0], len(r.templates)
    ens = (Text(f"the mean of {n} template sentences, normalised again (a prompt ensemble)",
                f"{n} 个模板句子的平均，再归一化（提示集成）") if n > 1 else Text("one template sentence", "一个模板句子"))
    scale = say(Text(f"**Logit scale** (the model's learnt temperature): **{r.logit_scale:.2f}**. "
                     f"probability = softmax(scale × cosine) over the {len(r.ranked)} labels; each label's text "
                     "embedding is ",
                     f"**Logit 缩放**（模型学到的温度）：**{r.logit_scale:.2f}**。"
                     f"概率 = 对 {len(r.ranked)} 个标签做 softmax(缩放 × 余弦)；每个标签的文本嵌入是")
                + ens + Text(f".\n\nBest: **{escape(best.label)}**, cosine {best.cosine:.3f} → logit "
                             f"{best.logit:.2f} → probability {best.probability:.1%}.",
                             f"。\n\n最好的：**{escape(best.label)}**，余弦 {best.cosine:.3f} → logit "
                             f"{best.logit:.2f} → 概率 {best.probability:.1%}。"))
    # Cache hits are not announced: the caches are shared, and "cached" would tell one student
    # what another asked.
    footer = answered_by(r.model, r.device, r.latency_ms, r.notice)
    notes = list(r.notes) + unseen_note(r.model, [best.label])
    if notes:  # the notes quote the labels: shown as typed
        footer = "\n\n".join(f"ℹ️ {escape(say(n))}" for n in notes) + "\n\n" + footer
    return ranking, rows, scale, upscale_nearest(r.model_input, 192), footer


def unseen_note(model: str, texts: list[str]) -> list[Text]:
    """A sentence when a text names a colour-shape pair the bundled CLIP never saw in training."""
    from visionlab.pipelines.zero_shot import never_seen

    found = [pair for pair in never_seen(model) if any(pair in t.lower() for t in texts)]
    if not found:
        return []
    return [Text(f"Zero-shot: the tiny CLIP never saw a {' or a '.join(found)} in training. It learnt the colour "
                 "and the shape apart, from other pairs, and put them together here.",
                 f"零样本：小 CLIP 在训练中从没见过 {' 或 '.join(found)}。它从别的组合里分别学会了颜色和形状，"
                 "在这里把它们组合了起来。")]


def sentences_cell(sentences: tuple[str, ...]) -> str:
    """The first three template sentences of a label, and how many there are in all."""
    more = f" | … ({len(sentences)} in all)" if len(sentences) > 3 else ""
    return " | ".join(sentences[:3]) + more


zero_shot_endpoint = handler(with_progress(run_zero_shot, models=2))


def _gallery_files(gallery) -> list[str]:
    """gr.Gallery's value ([(path, caption)] or [path]) -> paths."""
    return [item[0] if isinstance(item, (list, tuple)) else item for item in (gallery or [])]


@handler
def run_matrix(gallery, captions: str, model: str, view: str = "Cosine similarity"):
    """The N pictures x M sentences matrix as a heatmap with values, and a legend table."""
    import numpy as np

    from visionlab.ops.similarity import matrix_picture
    from visionlab.pipelines.zero_shot import similarity_matrix

    m = similarity_matrix(_gallery_files(gallery), captions, model)
    kind = MATRIX_VIEWS.get(view, "cosine")
    values = getattr(m, kind)
    best = np.zeros_like(values, bool)
    if kind == "per_text":
        best[values.argmax(0), np.arange(values.shape[1])] = True
    else:
        best[np.arange(values.shape[0]), values.argmax(1)] = True
    picture = matrix_picture(values, list(m.thumbs), [f"T{j + 1}" for j in range(len(m.texts))], highlight=best)
    legend = [[f"T{j + 1}", t] for j, t in enumerate(m.texts)]
    rows, cols = len(m.thumbs), len(m.texts)
    where = (Text("each picture's best text", "每张图片最匹配的文字") if kind != "per_text"
             else Text("each text's best picture", "每段文字最匹配的图片"))
    text = (Text(f"{rows} pictures (rows) × {cols} texts (columns) · logit scale {m.logit_scale:.2f} · outlined: ",
                 f"{rows} 张图片（行）× {cols} 段文字（列）· logit 缩放 {m.logit_scale:.2f} · 框出的是：")
            + where + Text(". In training the matching pairs sit on the diagonal, and CLIP's loss is "
                           "cross-entropy along every row and every column.",
                           "。训练时匹配的图文对在对角线上，CLIP 的损失是沿每一行和每一列的交叉熵。"))
    text = " ".join(say(t) for t in [text] + unseen_note(m.model, list(m.texts)))
    return picture, legend, warn(m.notice, text)


@handler
def run_retrieve(gallery, query: str, model: str):
    """The gallery's pictures ranked for a sentence, each captioned with cosine and probability."""
    from visionlab.pipelines.zero_shot import retrieve

    files = _gallery_files(gallery)
    r = retrieve(query, files, model)
    ranked = [(files[i], f"{k + 1}. cos {r.cosine[i]:.2f} · {r.probability[i]:.0%}")
              for k, i in enumerate(r.order)]
    query = escape(r.query)  # the student's text, shown as typed
    text = Text(f"“{query}” against {len(files)} pictures, best first: cosine, then the softmax over the "
                "pictures (one column of the matrix).",
                f"用“{query}”搜索 {len(files)} 张图片，最好的在前：先是余弦，然后是对图片做的 softmax（矩阵的一列）。")
    text = " ".join(say(t) for t in [text] + unseen_note(r.model, [r.query]))
    return ranked, warn(r.notice, text)


def default_query(model: str) -> str:
    """A search that works: for the bundled model, a colour-shape pair it never saw in training."""
    if _bundled(model):
        return "a photo of a green ring"
    return "一只动物" if defaults(model).template.startswith("一张") else "a photo of an animal"


def follow_model(model: str, preset: str):
    """New model: its suggested labels, templates, gallery, captions and search."""
    d = defaults(model)
    return (d.labels, "\n".join(d.ensemble if preset == ENSEMBLE else (d.template,)),
            gallery_paths(model), matrix_captions(model), default_query(model))


def build() -> None:
    _, start = model_choices("zero-shot", default_for("zero-shot"))
    first = defaults(start)
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label=tr("Picture", "图片"), height=280)
            model = model_dropdown("zero-shot", tr("Model (two encoders: picture and text)", "模型（两个编码器：图像和文本）"),
                                   prefer=default_for("zero-shot"))
            labels = gr.Textbox(first.labels, lines=3, max_lines=12,
                                label=tr("Labels: any words, separated by commas or new lines",
                                         "标签：任意词语，用逗号或换行分隔"))
            preset = gr.Radio(PRESETS, value=ONE, label=tr("Templates", "模板"),
                              info=tr("A template turns each label into a sentence; {} is where the label goes.",
                                      "模板把每个标签变成一句话；{} 是放标签的位置。"))
            templates = gr.Textbox(first.template, lines=2, max_lines=10,
                                   label=tr("Template(s), one per line", "模板，每行一个"))
            view = gr.Radio(VIEWS, value=SOFTMAX, label=tr("Ranking", "排序方式"))
            run = gr.Button(tr("Rank the labels", "给标签排序"), variant="primary")
            gr.Examples(example_paths(), inputs=[image], examples_per_page=12,
                        label=tr("Examples: public-domain photos and ShapesWorld pictures",
                                 "示例：公有领域照片和 ShapesWorld 图片"))
        with gr.Column(scale=7):
            notice = gr.Markdown()
            ranking = gr.Label(label=tr("Ranking", "排序"), num_top_classes=10)
            png_button(ranking, Text("Zero-shot ranking", "零样本排序"))
            scale = gr.Markdown()
            table = gr.Dataframe(headers=TABLE_HEADERS,
                                 label=tr("Every label: its sentence(s), cosine, logit and probability",
                                          "每个标签：它的句子、余弦、logit 和概率"),
                                 interactive=False, wrap=True, max_height=320,
                                 column_widths=["6%", "18%", "40%", "11%", "14%", "11%"])
            png_button(table, Text("Every label: sentences, cosine, logit and probability",
                                   "每个标签：句子、余弦、logit 和概率"))
            seen = gr.Image(label=tr("What the image encoder saw (resized, cropped)", "图像编码器看到的输入（缩放、裁剪后）"),
                            interactive=False, height=200, buttons=["download"])
    with gr.Accordion(tr("The similarity matrix and text-to-picture search", "相似度矩阵与以文搜图"), open=True):
        with gr.Row():
            with gr.Column(scale=4, min_width=320):
                gallery = gr.Gallery(gallery_paths(start),
                                     label=tr("Gallery: the examples; add your own pictures", "图库：示例图片；可以加入你自己的图片"),
                                     interactive=True, type="filepath", columns=5, height=240,
                                     file_types=["image"])
                captions = gr.Textbox(matrix_captions(start), lines=6, max_lines=20,
                                      label=tr("Texts, one per line (the columns)", "文字，每行一段（矩阵的列）"))
                matrix_view = gr.Radio(MATRIX_CHOICES, value="Cosine similarity", label=tr("Values", "数值"))
                show = gr.Button(tr("Show the matrix", "显示矩阵"), variant="primary")
                query = gr.Textbox(default_query(start), label=tr("Search the gallery with a sentence", "用一句话搜索图库"))
                search = gr.Button(tr("Search", "搜索"))
            with gr.Column(scale=7):
                matrix_text = gr.Markdown()
                matrix = gr.Image(label=tr("Pictures × texts", "图片 × 文字"), interactive=False, buttons=["download"])
                legend = gr.Dataframe(headers=["column", "text"], label=tr("Columns", "列"), interactive=False, wrap=True)
                png_button(legend, Text("Columns of the similarity matrix", "相似度矩阵的列"))
                results = gr.Gallery(label=tr("Search results, best first", "搜索结果，最好的在前"), columns=5, height=260)
                results_text = gr.Markdown()
    note_panel("zero_shot")

    main = dict(fn=zero_shot_endpoint, inputs=[image, labels, model, templates, view],
                outputs=[ranking, table, scale, seen, notice], concurrency_id=MODEL_CONCURRENCY)
    auto = {**main, "fn": skip_without_image(main["fn"], 5), "api_visibility": "private"}
    run.click(**main, api_name="zero_shot")
    gr.on([image.change, view.change], **auto)
    preset.change(lambda m, p: follow_model(m, p)[1], [model, preset], [templates], api_visibility="private",
                  queue=False).then(**auto)
    model.input(follow_model, [model, preset], [labels, templates, gallery, captions, query],
                api_visibility="private", queue=False).then(**auto)
    show.click(run_matrix, [gallery, captions, model, matrix_view], [matrix, legend, matrix_text],
               concurrency_id=MODEL_CONCURRENCY, api_name="similarity_matrix")
    matrix_view.change(run_matrix, [gallery, captions, model, matrix_view], [matrix, legend, matrix_text],
                       concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    search.click(run_retrieve, [gallery, query, model], [results, results_text], concurrency_id=MODEL_CONCURRENCY,
                 api_name="retrieve")
    query.submit(run_retrieve, [gallery, query, model], [results, results_text], concurrency_id=MODEL_CONCURRENCY,
                 api_visibility="private")
