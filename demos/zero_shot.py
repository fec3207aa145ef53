"""Zero-shot CLIP tab: free-text labels, templates and ensembles, softmax vs cosine, the
image-text similarity matrix and text-to-picture retrieval over a small gallery."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from demos.common import (DEFAULT_MODELS, MODEL_CONCURRENCY, answered_by, example_paths, image_input,
                          model_choices, model_dropdown, note, skip_without_image, user_errors)
from visionlab.models.gpu import gpu_task
from visionlab.ops.images import upscale_nearest

SOFTMAX = "Softmax over the labels (they compete, sum to 1)"
COSINE = "Cosine of each label on its own (no competition)"
VIEWS = [SOFTMAX, COSINE]
ONE, ENSEMBLE = "One template", "Ensemble of templates"
MATRIX_VIEWS = {"Cosine similarity": "cosine",
                "Softmax along each row (picture → which text?)": "per_image",
                "Softmax along each column (text → which picture?)": "per_text"}
TABLE_HEADERS = ["#", "label", "sentence(s) the text encoder read", "cosine", "logit = scale × cos", "prob."]
PHOTO_CAPTIONS = {"astronaut": "a photo of an astronaut.", "chelsea": "a photo of a cat.",
                  "coffee": "a photo of a cup of coffee.", "rocket": "a photo of a rocket."}
PHOTO_CAPTIONS_ZH = {"astronaut": "一张宇航员的照片。", "chelsea": "一张猫的照片。", "coffee": "一张咖啡的照片。",
                     "rocket": "一张火箭的照片。"}


def defaults(model: str):
    from visionlab.pipelines.zero_shot import defaults_for

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


@gpu_task
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
    best = r.ranked[0]
    ens = (f"the mean of {len(r.templates)} template sentences, normalised again (a prompt ensemble)"
           if len(r.templates) > 1 else "one template sentence")
    scale = (f"**Logit scale** (the model's learnt temperature): **{r.logit_scale:.2f}**. "
             f"probability = softmax(scale × cosine) over the {len(r.ranked)} labels; each label's text "
             f"embedding is {ens}.\n\nBest: **{best.label}**, cosine {best.cosine:.3f} → logit "
             f"{best.logit:.2f} → probability {best.probability:.1%}.")
    cache = []
    if r.text_cached:
        cache.append("labels from the text cache (text encoder skipped)")
    if r.image_cached:
        cache.append("picture from the image cache (image encoder skipped)")
    footer = answered_by(r.model, r.device, r.latency_ms, r.notice)
    if cache:
        footer += " " + "; ".join(cache).capitalize() + "."
    notes = list(r.notes) + unseen_note(r.model, [best.label])
    if notes:
        footer = "\n\n".join(f"ℹ️ {n}" for n in notes) + "\n\n" + footer
    return ranking, rows, scale, upscale_nearest(r.model_input, 192), footer


def unseen_note(model: str, texts: list[str]) -> list[str]:
    """A sentence when a text names a colour-shape pair the bundled CLIP never saw in training."""
    from visionlab.pipelines.zero_shot import never_seen

    found = [pair for pair in never_seen(model) if any(pair in t.lower() for t in texts)]
    if not found:
        return []
    return [f"Zero-shot: the tiny CLIP never saw a {' or a '.join(found)} in training. It learnt the colour "
            "and the shape apart, from other pairs, and put them together here."]


def sentences_cell(sentences: tuple[str, ...]) -> str:
    """The first three template sentences of a label, and how many there are in all."""
    more = f" | … ({len(sentences)} in all)" if len(sentences) > 3 else ""
    return " | ".join(sentences[:3]) + more


zero_shot_endpoint = user_errors(run_zero_shot)


def _gallery_files(gallery) -> list[str]:
    """gr.Gallery's value ([(path, caption)] or [path]) -> paths."""
    return [item[0] if isinstance(item, (list, tuple)) else item for item in (gallery or [])]


@user_errors
@gpu_task
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
    where = "each picture's best text" if kind != "per_text" else "each text's best picture"
    text = (f"{len(m.thumbs)} pictures (rows) × {len(m.texts)} texts (columns) · logit scale {m.logit_scale:.2f} · "
            f"outlined: {where}. In training the matching pairs sit on the diagonal, and CLIP's loss is "
            "cross-entropy along every row and every column.")
    text = " ".join([text] + unseen_note(m.model, list(m.texts)))
    if m.notice:
        text = f"⚠️ {m.notice}\n\n{text}"
    return picture, legend, text


@user_errors
@gpu_task
def run_retrieve(gallery, query: str, model: str):
    """The gallery's pictures ranked for a sentence, each captioned with cosine and probability."""
    from visionlab.pipelines.zero_shot import retrieve

    files = _gallery_files(gallery)
    r = retrieve(query, files, model)
    ranked = [(files[i], f"{k + 1}. cos {r.cosine[i]:.2f} · {r.probability[i]:.0%}")
              for k, i in enumerate(r.order)]
    text = (f"“{r.query}” against {len(files)} pictures, best first: cosine, then the softmax over the "
            "pictures (one column of the matrix).")
    text = " ".join([text] + unseen_note(r.model, [r.query]))
    return ranked, (f"⚠️ {r.notice}\n\n" if r.notice else "") + text


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
    _, start = model_choices("zero-shot", DEFAULT_MODELS["zero-shot"])
    first = defaults(start)
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label="Picture", height=280)
            model = model_dropdown("zero-shot", "Model (two encoders: picture and text)",
                                   prefer=DEFAULT_MODELS["zero-shot"])
            labels = gr.Textbox(first.labels, lines=3, max_lines=12,
                                label="Labels: any words, separated by commas or new lines")
            preset = gr.Radio([ONE, ENSEMBLE], value=ONE, label="Templates",
                              info="A template turns each label into a sentence; {} is where the label goes.")
            templates = gr.Textbox(first.template, lines=2, max_lines=10, label="Template(s), one per line")
            view = gr.Radio(VIEWS, value=SOFTMAX, label="Ranking")
            run = gr.Button("Rank the labels", variant="primary")
            gr.Examples(example_paths(), inputs=[image], examples_per_page=12,
                        label="Examples: public-domain photos and ShapesWorld pictures")
        with gr.Column(scale=7):
            notice = gr.Markdown()
            ranking = gr.Label(label="Ranking", num_top_classes=10)
            scale = gr.Markdown()
            table = gr.Dataframe(headers=TABLE_HEADERS, label="Every label: its sentence(s), cosine, logit and "
                                 "probability", interactive=False, wrap=True, max_height=320,
                                 column_widths=["6%", "18%", "40%", "11%", "14%", "11%"])
            seen = gr.Image(label="What the image encoder saw (resized, cropped)", interactive=False, height=200,
                            buttons=["download"])
    with gr.Accordion("The similarity matrix and text-to-picture search / 相似度矩阵与以文搜图", open=True):
        with gr.Row():
            with gr.Column(scale=4, min_width=320):
                gallery = gr.Gallery(gallery_paths(start), label="Gallery: the examples; add your own pictures",
                                     interactive=True, type="filepath", columns=5, height=240,
                                     file_types=["image"])
                captions = gr.Textbox(matrix_captions(start), lines=6, max_lines=20,
                                      label="Texts, one per line (the columns)")
                matrix_view = gr.Radio(list(MATRIX_VIEWS), value="Cosine similarity", label="Values")
                show = gr.Button("Show the matrix", variant="primary")
                query = gr.Textbox(default_query(start), label="Search the gallery with a sentence")
                search = gr.Button("Search")
            with gr.Column(scale=7):
                matrix_text = gr.Markdown()
                matrix = gr.Image(label="Pictures × texts", interactive=False, buttons=["download"])
                legend = gr.Dataframe(headers=["column", "text"], label="Columns", interactive=False, wrap=True)
                results = gr.Gallery(label="Search results, best first", columns=5, height=260)
                results_text = gr.Markdown()
    with gr.Accordion("What am I looking at? / 这是什么?", open=False):
        gr.Markdown(note("zero_shot"), latex_delimiters=[{"left": "$$", "right": "$$", "display": True},
                                                         {"left": "$", "right": "$", "display": False}])

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
