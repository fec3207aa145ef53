"""Fine-tuning tab: train a new head (or more) on a ShapesWorld task or the student's own
pictures, watch the curves grow epoch by epoch, then classify with the model just made.

The run is a loop of short boundary calls (`visionlab.pipelines.fine_tune.train_epoch`, one
epoch each) in a generator, which yields the curves after every epoch; Stop sets a flag the
loop reads between two epochs. Runs live in a store keyed by the page's session (at most
`RUNS_PER_PAGE` each), are never visible to another page, and are dropped when the page closes."""

from __future__ import annotations

import math
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from demos.common import MODEL_CONCURRENCY, handler, image_input, note_panel
from demos.i18n import say, tr
from demos.per_page import current_request, session_of
from visionlab.errors import VisionLabError
from visionlab.text import Text

RUNS_PER_PAGE = 4          # a page keeps its last few runs (for side-by-side curves)
MAX_PAGES = 256            # pages with runs kept at once (the oldest is forgotten first)
CLASS_SLOTS = 3            # own pictures: up to this many classes on the page
PAGE_MAX_EPOCHS = 50
PAGE_BUDGET_S = 60
CONCURRENT_RUNS = 2        # runs across all pages at once (the queue holds the rest)
MODE_NAMES = ("linear-probe", "last-stage", "full", "scratch")
MODE_LABELS = ("Linear probe (frozen backbone, new head only)", "Fine-tune the last stage + head",
               "Full fine-tuning (backbone 10x slower than the head)", "From scratch (random weights)")
MODE_LABELS_ZH = ("线性探测（冻结主干，只训练新的头）", "微调最后一个阶段 + 头", "全部微调（主干学习率是头的 1/10）",
                  "从零训练（随机权重）")
OWN = "my-pictures"


class RunRefused(VisionLabError, RuntimeError):
    """A second run on one page, or a run id this page does not have."""


@dataclass
class Run:
    """One run of one page: what it trained on, its history so far, its weights."""

    id: str
    settings: Any
    data: Any
    source: str
    history: list = field(default_factory=list)
    confusion: Any = None
    state: Any = None
    stopped_by: str = ""


class PageRuns:
    """page session -> its runs (newest last) and whether one is training. Thread-safe, bounded."""

    def __init__(self):
        self._pages: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def _page(self, session: str) -> dict:
        page = self._pages.get(session)
        if page is None:
            page = self._pages[session] = {"runs": OrderedDict(), "busy": False, "stop": False}
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
        self._pages.move_to_end(session)
        return page

    def begin(self, session: str) -> None:
        with self._lock:
            page = self._page(session)
            if page["busy"]:
                raise RunRefused(Text("This page is already training a model: wait for it, or press Stop.",
                                      "这个页面已经在训练一个模型了：请等它结束，或者按“停止”。"))
            page["busy"], page["stop"] = True, False

    def end(self, session: str) -> None:
        with self._lock:
            if session in self._pages:
                self._pages[session]["busy"] = False

    def stop(self, session: str) -> None:
        with self._lock:
            if session in self._pages:
                self._pages[session]["stop"] = True

    def stopping(self, session: str) -> bool:
        """Stop was pressed, or the page is gone (closed mid-run: nobody is watching)."""
        with self._lock:
            page = self._pages.get(session)
            return page is None or page["stop"]

    def add(self, session: str, run: Run) -> None:
        with self._lock:
            runs = self._page(session)["runs"]
            runs[run.id] = run
            while len(runs) > RUNS_PER_PAGE:
                runs.popitem(last=False)

    def get(self, session: str, run_id: str) -> Run | None:
        with self._lock:
            return self._pages.get(session, {}).get("runs", {}).get(run_id)

    def previous(self, session: str, run_id: str) -> Run | None:
        """The run this page made just before `run_id` (for the side-by-side curves)."""
        with self._lock:
            ids = list(self._pages.get(session, {}).get("runs", {}))
            if run_id in ids and ids.index(run_id) > 0:
                return self._pages[session]["runs"][ids[ids.index(run_id) - 1]]
            return None

    def drop(self, session: str) -> None:
        with self._lock:
            self._pages.pop(session, None)

    def __len__(self) -> int:
        return len(self._pages)


RUNS = PageRuns()


def _session() -> str:
    """The asking page's session ("" outside a request: a notebook or a test)."""
    return session_of(current_request()) or ""


# ---- what the page shows --------------------------------------------------------------------

SERIES = (("train", "val"), ("previous train", "previous val"))
COLOURS = ("#1f5fbf", "#f07f19", "#9dbbe8", "#f6c08f")


def curves(runs: list[Run]) -> tuple[Any, Any]:
    """Two gr.LinePlot values, losses and accuracies per epoch: this run's train and validation
    curves, and the previous run's (paler) when it is shown. The four series are always named (a
    missing one is a single point, which draws no line): gradio fixes a plot's colour legend at its
    first drawing, so the names must not change from one run to the next."""
    import pandas as pd

    loss, acc = [], []
    for (train, val), run in zip(SERIES, reversed(runs)):
        for e in run.history:
            loss += [(e.epoch, _finite(e.train_loss), train), (e.epoch, _finite(e.val_loss), val)]
            acc += [(e.epoch, e.train_accuracy, train), (e.epoch, e.val_accuracy, val)]
    for train, val in SERIES[len(runs):]:
        loss += [(1, loss[0][1], train), (1, loss[0][1], val)]
        acc += [(1, acc[0][1], train), (1, acc[0][1], val)]
    cols = ["epoch", "value", "curve"]
    return pd.DataFrame(loss, columns=cols), pd.DataFrame(acc, columns=cols)


def _finite(v: float, cap: float = 20.0) -> float:
    """A loss the plot can draw (a blown-up one is drawn at the cap)."""
    return cap if not math.isfinite(v) else min(v, cap)


def confusion_picture(confusion: np.ndarray, names: tuple[str, ...], title: str) -> np.ndarray:
    """The validation confusion matrix as a picture: rows true class, columns predicted, counts
    in the cells, the diagonal (right answers) in green. (H, W, 3) uint8."""
    from PIL import Image, ImageDraw

    from visionlab.ops import style as drawing
    from visionlab.ops.fonts import font

    st = drawing.current()
    n = len(names)
    fs = st.font_size(15)
    f, fb = font(fs), font(fs, bold=True)
    cols = [name[:10] for name in names]
    cell = int(max(fs * 3.5, max(f.getlength(c) for c in cols) + 10))
    label_w = int(max(f.getlength(name[:14]) for name in names)) + 20
    top = fs * 5 + 8
    notes = [say(Text("predicted →", "预测 →")), say(Text("↑ true class (validation pictures)", "↑ 真实类别（验证图片）"))]
    w = max(label_w + n * cell + 20, int(fb.getlength(title)) + 20, int(f.getlength(notes[1])) + 20)
    h = top + n * cell + fs * 2 + 20
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    d.text((10, 6), title, fill="black", font=fb)
    d.text((label_w, fs * 2 + 6), notes[0], fill=(60, 60, 60), font=f)
    peak = max(1, int(confusion.max()))
    for j, name in enumerate(names):
        d.text((label_w + j * cell + 4, top - fs - 6), cols[j], fill="black", font=f)
    for i, name in enumerate(names):
        y = top + i * cell
        d.text((8, y + cell // 2 - fs // 2), name[:14], fill="black", font=f)
        for j in range(n):
            v = int(confusion[i, j])
            t = v / peak
            colour = (int(255 - 180 * t), int(255 - 60 * t), int(255 - 180 * t)) if i == j else \
                (int(255 - 40 * t), int(255 - 170 * t), int(255 - 170 * t))
            x = label_w + j * cell
            d.rectangle([x, y, x + cell - 2, y + cell - 2], fill=colour, outline=(80, 80, 80),
                        width=st.width(1))
            d.text((x + cell // 2 - fs // 3, y + cell // 2 - fs // 2), str(v), fill="black", font=fb)
    d.text((8, top + n * cell + 6), notes[1], fill=(60, 60, 60), font=f)
    return np.asarray(img)


def status_markdown(run: Run, done: bool, elapsed: float) -> Text:
    from visionlab.pipelines.fine_tune import diverged

    s, last = run.settings, run.history[-1]
    state = run.state
    lines = [Text(f"**Run `{run.id}`** · {run.source} · {s.backbone} · {s.mode}",
                  f"**运行 `{run.id}`** · {run.source} · {s.backbone} · {s.mode}"),
             Text(f"Learning rate: `{s.lr_formula.en}`", f"学习率：`{s.lr_formula.zh}`"),
             run.data.split,
             *([Text(f"The batch holds all {len(run.data.train)} training pictures (one step per epoch), whatever "
                     f"size above that you ask for; the learning rate still follows the formula.",
                     f"一批就装下了全部 {len(run.data.train)} 张训练图片（每轮只走一步），再大的批大小也一样；"
                     f"学习率仍按公式计算。")] if s.batch_size > len(run.data.train) else []),
             Text(f"Epoch {last.epoch} of {s.epochs}: train loss {last.train_loss:.3f}, validation accuracy "
                  f"{last.val_accuracy:.0%}; {elapsed:.1f} s of the {s.time_budget_s:.0f} s budget.",
                  f"第 {last.epoch} / {s.epochs} 轮：训练损失 {last.train_loss:.3f}，验证准确率 "
                  f"{last.val_accuracy:.0%}；已用 {elapsed:.1f} 秒（预算 {s.time_budget_s:.0f} 秒）。")]
    if state is not None and state.notice:
        lines.insert(0, Text("⚠️ ", "⚠️ ") + state.notice)
    if diverged(run.history, len(run.data.names)):
        lines.append(Text("⚠️ **Diverging**: the loss climbs instead of falling. The learning rate is too high "
                          "for this batch size; try a 10x smaller one.",
                          "⚠️ **发散**：损失在上升而不是下降。对这个批大小来说学习率太高了；试试小 10 倍的。"))
    if done:
        why = {"epochs": Text("all epochs done", "所有轮次已完成"), "stop": Text("stopped by you", "你按了停止"),
               "time budget": Text("the time budget ran out", "时间预算用完了"),
               "diverged": Text("the loss is no longer a number", "损失已经不是一个数了")}[run.stopped_by]
        lines.append(Text("Finished: ", "结束：") + why + Text(". Classify a picture with this model below.",
                                                            "。可以在下面用这个模型给图片分类。"))
    out = lines[0]
    for line in lines[1:]:
        out = out + "\n\n" + line
    return out


def save_config(text: str, run_id: str) -> str:
    folder = Path(tempfile.gettempdir()) / "visionlab-runs" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fine-tune-{run_id}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def history_json(run: Run) -> dict:
    return {"run_id": run.id, "classes": list(run.data.names), "stopped_by": run.stopped_by,
            "lr": run.settings.lr, "history": [
                {"epoch": e.epoch, "train_loss": _finite(e.train_loss, 1e9), "train_accuracy": e.train_accuracy,
                 "val_loss": _finite(e.val_loss, 1e9), "val_accuracy": e.val_accuracy, "lr": e.lr,
                 "seconds": round(e.seconds, 3)} for e in run.history]}


# ---- the handlers ----------------------------------------------------------------------------

def _examples(task: str, per_class: int, seed: int, slots: list) -> tuple[list, str]:
    """(picture, label) pairs and a description of where they come from."""
    from visionlab.pipelines.fine_tune import shapes_examples

    if task != OWN:
        return shapes_examples(task, int(per_class), int(seed)), f"ShapesWorld: {task}"
    examples = []
    for name, files in zip(slots[0::2], slots[1::2]):
        name = (name or "").strip()
        if name and files:
            examples += [(getattr(f, "name", f), name) for f in files]
    return examples, "my pictures"


@handler
def start(task, backbone, mode, epochs, batch_size, base_lr, base_batch_size, scale_lr, seed, per_class,
          budget, *slots) -> Run:
    """Check everything (before any work), prepare the pictures, and register the run."""
    from visionlab.pipelines.fine_tune import Settings, check, prepare

    if int(epochs) > PAGE_MAX_EPOCHS or not 0 < float(budget) <= PAGE_BUDGET_S:
        raise RunRefused(Text(f"On this page: at most {PAGE_MAX_EPOCHS} epochs and {PAGE_BUDGET_S} s per run.",
                              f"在这个页面上：每次最多 {PAGE_MAX_EPOCHS} 轮、{PAGE_BUDGET_S} 秒。"))
    settings = Settings(backbone, mode, int(epochs), int(batch_size), float(base_lr), int(base_batch_size),
                        bool(scale_lr), int(seed), float(budget))
    check(2, [2], settings)  # the settings, before making or reading any picture
    examples, source = _examples(task, per_class, seed, list(slots))
    data = prepare(examples, settings)
    return Run(uuid.uuid4().hex[:8], settings, data, source)


@handler
def one_epoch(run: Run, epoch: int):
    from visionlab.pipelines.fine_tune import train_epoch

    d = run.data
    result = train_epoch(d.pictures, d.labels, d.train, d.val, run.settings, run.state, epoch)
    run.state, run.confusion = result.state, result.confusion
    run.history.append(result.epoch)


@handler
def show(run: Run, done: bool, elapsed: float, with_previous: bool):
    from visionlab.pipelines.fine_tune import config_text

    shown = [run]
    prev = RUNS.previous(_session(), run.id) if with_previous else None
    if prev is not None and prev.history:
        shown.insert(0, prev)
    loss, acc = curves(shown)
    title = say(Text(f"Validation confusion matrix, run {run.id}", f"验证集混淆矩阵，运行 {run.id}"))
    config = config_text(run.settings, run.data, run.source, run.state.answered_by, run.state.device, run.id)
    return (status_markdown(run, done, elapsed), loss, acc, confusion_picture(run.confusion, run.data.names, title),
            config, save_config(config, run.id) if done else gr.skip(), history_json(run), run.id)


def train(task, backbone, mode, epochs, batch_size, base_lr, base_batch_size, scale_lr, seed, per_class,
          budget, with_previous, *slots):
    """Train, yielding the page's outputs after every epoch. Callable as /fine_tune; an API
    client receives the last yield: (status, loss curves, accuracy curves, confusion matrix,
    config text, config file, history as JSON, run id)."""
    from visionlab.pipelines.fine_tune import stop_reason

    session = _session()
    handler(RUNS.begin)(session)  # one run per page, refused before any work
    try:
        run = start(task, backbone, mode, epochs, batch_size, base_lr, base_batch_size, scale_lr, seed, per_class,
                    budget, *slots)
        RUNS.add(session, run)
        t0 = time.perf_counter()
        for epoch in range(run.settings.epochs):
            one_epoch(run, epoch)
            elapsed = time.perf_counter() - t0
            last = run.history[-1]
            done = (epoch + 1 == run.settings.epochs or RUNS.stopping(session)
                    or elapsed > run.settings.time_budget_s or not math.isfinite(last.train_loss))
            if done:
                run.stopped_by = stop_reason(run.history, run.settings, RUNS.stopping(session))
            yield show(run, done, elapsed, with_previous)
            if done:
                break
    finally:
        RUNS.end(session)


def stop() -> None:
    RUNS.stop(_session())


@handler
def classify_mine(picture, run_id: str):
    """Classify a picture with one of this page's runs. Returns (label scores, sentence)."""
    from visionlab.pipelines.fine_tune import fit, predict

    run = RUNS.get(_session(), (run_id or "").strip())
    if run is None or run.state is None:
        raise RunRefused(Text("This page has no trained model with that run id: press Train first.",
                              "这个页面没有这个运行编号的模型：请先按“训练”。"))
    if picture is None:
        raise RunRefused(Text("Please upload a picture first.", "请先上传一张图片。"))
    arr = fit(picture, run.data.pictures.shape[1])
    probs = predict(arr[None], run.settings, run.state, len(run.data.names))[0]
    scores = {n: float(p) for n, p in zip(run.data.names, probs)}
    return scores, Text(f"Answered by your run `{run.id}` ({run.settings.mode} on {run.state.answered_by}).",
                        f"由你的运行 `{run.id}` 回答（{run.state.answered_by} 上的 {run.settings.mode}）。")


def forget(request: gr.Request) -> None:
    """The page closed: its pictures and models go."""
    RUNS.drop(session_of(request) or "")


# ---- the page -----------------------------------------------------------------------------------

def backbone_choices() -> tuple[list, str]:
    from visionlab.models import REGISTRY
    from visionlab.models.hub import hub_status
    from visionlab.pipelines.fine_tune import BACKBONES, DEFAULT_BACKBONE

    online = hub_status().online
    out = []
    for key in BACKBONES:
        spec = REGISTRY[key]
        title = spec.title if spec.bundled or online else spec.title + tr(" (offline: needs a download)",
                                                                          "（离线：需要下载）")
        out.append((title, key))
    return out, DEFAULT_BACKBONE


def build() -> dict:
    from visionlab.toy.fine_tune_tasks import TASKS

    task_names = list(TASKS) + [OWN]
    task_en = [f"ShapesWorld: {t.question}" for t in TASKS.values()] + ["My own pictures (below)"]
    task_zh = [f"ShapesWorld：{t.question_zh}" for t in TASKS.values()] + ["我自己的图片（见下方）"]
    gr.Markdown(tr(f"Teach a pretrained backbone new classes and watch it learn. Each run has a time budget "
                   f"(at most {PAGE_BUDGET_S} s; a run of the default settings takes a few seconds on a 2-core CPU) "
                   f"and at most {PAGE_MAX_EPOCHS} epochs; one run per page at a time.",
                   f"教一个预训练好的主干网络认识新的类别，看着它学。每次运行都有时间预算（最多 {PAGE_BUDGET_S} 秒；"
                   f"默认设置在 2 核 CPU 上几秒钟就能跑完），最多 {PAGE_MAX_EPOCHS} 轮；每个页面同时只能运行一个。"))
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            task = gr.Dropdown([(tr(en, zh), name) for en, zh, name in zip(task_en, task_zh, task_names)],
                               value="size", label=tr("Data: a ShapesWorld task the backbone never saw, or yours",
                                                      "数据：主干网络没见过的 ShapesWorld 任务，或者你自己的"))
            per_class = gr.Slider(2, 50, value=10, step=1, label=tr("ShapesWorld pictures per class",
                                                                    "每类 ShapesWorld 图片数"))
            slots = []
            with gr.Accordion(tr("My own pictures: type a class name, upload its pictures",
                                 "我自己的图片：输入类别名，上传这一类的图片"), open=False):
                for i in range(CLASS_SLOTS):
                    with gr.Row():
                        slots.append(gr.Textbox(label=tr(f"Class {i + 1} name", f"类别 {i + 1} 名称"), max_lines=1,
                                                max_length=40, scale=1))
                        slots.append(gr.File(file_count="multiple", file_types=["image"], scale=2,
                                             label=tr(f"Class {i + 1} pictures", f"类别 {i + 1} 的图片")))
            bb_choices, bb_default = backbone_choices()
            backbone = gr.Dropdown(bb_choices, value=bb_default, label=tr("Backbone", "主干网络"))
            mode = gr.Radio([(tr(en, zh), name) for en, zh, name in zip(MODE_LABELS, MODE_LABELS_ZH, MODE_NAMES)],
                            value=MODE_NAMES[0],
                            label=tr("What learns", "哪些层在学习"))
            with gr.Row():
                epochs = gr.Slider(1, PAGE_MAX_EPOCHS, value=20, step=1, label=tr("Epochs", "轮数"))
                batch_size = gr.Slider(2, 128, value=16, step=1, label=tr("Batch size", "批大小"))
            with gr.Row():
                base_lr = gr.Number(0.02, label=tr("Base learning rate", "基础学习率"), minimum=1e-6, maximum=100)
                base_batch = gr.Number(16, label=tr("Base batch size", "基础批大小"), precision=0, minimum=1,
                                       maximum=4096)
            scale_lr = gr.Checkbox(True, label=tr("Linear scaling rule: lr = base_lr x batch / base_batch",
                                                  "线性缩放规则：lr = base_lr x batch / base_batch"))
            with gr.Row():
                seed = gr.Number(0, label=tr("Seed", "随机种子"), precision=0, minimum=0, maximum=2**31 - 1)
                budget = gr.Slider(5, PAGE_BUDGET_S, value=PAGE_BUDGET_S, step=5,
                                   label=tr("Time budget (s)", "时间预算（秒）"))
            with_previous = gr.Checkbox(True, label=tr("Show my previous run on the same plots",
                                                       "在同一张图上显示我上一次的运行"))
            with gr.Row():
                go = gr.Button(tr("Train", "训练"), variant="primary")
                halt = gr.Button(tr("Stop", "停止"), variant="stop")
        with gr.Column(scale=8):
            status = gr.Markdown()
            with gr.Row():
                colour_map = dict(zip([name for pair in SERIES for name in pair], COLOURS))
                loss_plot = gr.LinePlot(x="epoch", y="value", color="curve", color_map=colour_map,
                                        label=tr("Loss", "损失"), y_title="loss", x_lim=[1, None])
                acc_plot = gr.LinePlot(x="epoch", y="value", color="curve", color_map=colour_map,
                                       label=tr("Accuracy", "准确率"), y_title="accuracy", y_lim=[0, 1])
            with gr.Row():
                confusion = gr.Image(label=tr("Confusion matrix (validation)", "混淆矩阵（验证集）"),
                                     interactive=False, buttons=["download"], height=320)
                with gr.Column():
                    config = gr.Code(label=tr("This run as a config file", "这次运行的配置文件"), language=None,
                                     lines=14, max_lines=22, interactive=False)
                    config_file = gr.File(label=tr("Download the config", "下载配置文件"), interactive=False)
            with gr.Accordion(tr("History (per epoch), as the API returns it", "训练记录（每轮），和 API 返回的一样"),
                              open=False):
                history = gr.JSON(label=tr("History (per epoch)", "训练记录（每轮）"))
            with gr.Group():
                gr.Markdown(tr("### Classify with my model", "### 用我的模型分类"))
                with gr.Row():
                    picture = image_input(label=tr("Picture", "图片"), height=220, elem_id="vl-ft-classify")
                    with gr.Column():
                        run_id = gr.Textbox(label=tr("Run id", "运行编号"), max_lines=1, max_length=16)
                        ask = gr.Button(tr("Classify with my model", "用我的模型分类"))
                        scores = gr.Label(label=tr("Your model's answer", "你的模型的回答"), num_top_classes=5)
                        answered = gr.Markdown()
    note_panel("fine_tune")

    train_inputs = [task, backbone, mode, epochs, batch_size, base_lr, base_batch, scale_lr, seed, per_class,
                    budget, with_previous, *slots]
    outputs = [status, loss_plot, acc_plot, confusion, config, config_file, history, run_id]
    go.click(_train_with_mode, train_inputs, outputs, api_name="fine_tune", concurrency_id=MODEL_CONCURRENCY,
             concurrency_limit=CONCURRENT_RUNS)
    halt.click(stop, None, None, api_name="stop_fine_tune", api_visibility="undocumented", queue=False)
    ask.click(classify_mine, [picture, run_id], [scores, answered], api_name="classify_mine",
              concurrency_id=MODEL_CONCURRENCY)
    root = gr.context.Context.root_block
    if root is not None:
        root.unload(forget)
    return {"run_id": run_id}


def _train_with_mode(task: str = "size", backbone: str = "shapes-resnet-tiny", mode: str = "linear-probe",
                     epochs: int = 20, batch_size: int = 16, base_lr: float = 0.02, base_batch_size: int = 16,
                     scale_lr: bool = True, seed: int = 0, per_class: int = 10, budget: float = PAGE_BUDGET_S,
                     with_previous: bool = True, name_1: str | None = None, pictures_1: list | None = None,
                     name_2: str | None = None, pictures_2: list | None = None, name_3: str | None = None,
                     pictures_3: list | None = None):
    """/fine_tune: a ShapesWorld task name (or "my-pictures" with class names and their picture
    files), the backbone, the mode ("linear-probe", "last-stage", "full", "scratch") and the settings."""
    yield from train(task, backbone, mode, epochs, batch_size, base_lr, base_batch_size, scale_lr, seed, per_class,
                     budget, with_previous, name_1, pictures_1, name_2, pictures_2, name_3, pictures_3)
