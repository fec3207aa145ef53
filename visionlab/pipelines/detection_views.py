"""Pictures for the Detection tab: candidate boxes, kept boxes, and NMS step by step.

Every function returns (picture, caption): the picture is (H, W, 3) uint8 RGB drawn with
`visionlab.ops.box_drawing.Canvas`; captions are short Markdown, as a `Text` (English, Chinese).
Label names may be what a student typed (an open-vocabulary detector's queries): in captions
they are escaped, so they show as typed.
"""

from __future__ import annotations

import numpy as np

from visionlab.markdown import escape
from visionlab.ops.box_drawing import DROP, KEEP, WAITING, Canvas, colour_of
from visionlab.pipelines.detection import SCORE_FLOOR, Kept, RawDetections
from visionlab.text import Text


def candidates_picture(raw: RawDetections, kept: Kept) -> tuple[np.ndarray, Text]:
    """Every candidate above the score threshold, thin and translucent: the raw output."""
    c = Canvas(raw.image)
    for i in kept.candidates[::-1]:                       # best drawn last, on top
        c.box(raw.boxes[i], colour_of(raw.labels[i]), width=1, alpha=170)
    n, proposed = len(kept.candidates), len(raw.scores)
    return c.picture(), Text(f"**Before NMS: {n} candidate box{'es' if n != 1 else ''}** "
                             f"(of {proposed} the model proposed above score {SCORE_FLOOR:g}); "
                             "one object gives a whole cluster of boxes.",
                             f"**NMS 之前：{n} 个候选框**（模型给出的分数高于 {SCORE_FLOOR:g} 的框共 {proposed} 个）；"
                             "一个物体会引出一整簇框。")


MODE_NAMES = {"none": Text("no NMS: every candidate stays", "不做 NMS：每个候选框都留下"),
              "class-agnostic": Text("class-agnostic NMS", "不分类别的 NMS"),
              "per-class": Text("per-class NMS", "按类别的 NMS"),
              "soft-nms linear": Text("Soft-NMS linear", "Soft-NMS（线性）"),
              "soft-nms gaussian": Text("Soft-NMS gaussian", "Soft-NMS（高斯）")}


def kept_picture(raw: RawDetections, kept: Kept) -> tuple[np.ndarray, Text]:
    """The boxes that survive, with label and score tags."""
    c = Canvas(raw.image)
    for i, s in zip(kept.indices[::-1], kept.scores[::-1]):
        c.box(raw.boxes[i], colour_of(raw.labels[i]), width=3, text=f"{raw.label_names[raw.labels[i]]} {s:.2f}")
    n, m = len(kept.indices), len(kept.candidates)
    if m == 0:
        return c.picture(), Text("**No box scores above the threshold.** Lower the score threshold to see candidates.",
                                 "**没有框的分数高于阈值**。降低分数阈值就能看到候选框。")
    what = MODE_NAMES.get(kept.mode, Text(kept.mode, kept.mode))
    return c.picture(), Text(f"**After {what.en}: {n} of {m} boxes kept**, {m - n} removed.",
                             f"**{what.zh}之后：{m} 个框中保留了 {n} 个**，去掉了 {m - n} 个。")


def nms_step_picture(raw: RawDetections, kept: Kept, step: int, iou_threshold: float) -> tuple[np.ndarray, Text]:
    """NMS after `step` decisions (0 = nothing decided yet; len(trace) = finished).

    Green: kept so far. The box decided at this step is tagged KEEP; the boxes it was compared
    with carry their IoU with it: red ones (IoU above the threshold) are removed now, grey ones
    stay in the race. Boxes removed at earlier steps are gone.
    """
    trace = kept.trace
    step = int(np.clip(step, 0, len(trace)))
    removed = {int(i) for s in trace[:max(0, step - 1)] for i in s.rivals[s.suppressed]}
    done = [s.kept for s in trace[:step]]
    c = Canvas(raw.image)
    waiting = [i for i in kept.candidates if i not in removed and i not in done]
    for i in waiting:
        c.box(raw.boxes[i], WAITING, width=1, alpha=140)
    for i in done[:-1]:
        c.box(raw.boxes[i], KEEP, width=3, text=f"{raw.label_names[raw.labels[i]]} {raw.scores[i]:.2f}")
    if step == 0:
        n = len(kept.candidates)
        return c.picture(), Text(f"**Step 0 of {len(trace)}:** {n} candidates, sorted by score. "
                                 "Press *Next* to keep the best one.",
                                 f"**第 0 步（共 {len(trace)} 步）**：{n} 个候选框，按分数排好。按*下一步*保留最好的那个。")
    s = trace[step - 1]
    for i, iou, drop in zip(s.rivals, s.ious, s.suppressed):
        if drop or iou > 0.05:
            c.box(raw.boxes[i], DROP if drop else WAITING, width=2 if drop else 1, alpha=230,
                  text=f"{iou:.2f}", font_size=12)
    c.box(raw.boxes[s.kept], KEEP, width=4, text=f"KEEP {raw.label_names[raw.labels[s.kept]]} {raw.scores[s.kept]:.2f}")
    n_drop, rivals = int(s.suppressed.sum()), len(s.rivals)
    name, score = escape(raw.label_names[raw.labels[s.kept]]), raw.scores[s.kept]
    same = f" *{name}*" if kept.mode == "per-class" else ""   # per-class: one label
    left = rivals - n_drop
    caption = Text(f"**Step {step} of {len(trace)}:** keep the best remaining box (*{name}*, score {score:.2f}). "
                   f"Compare it with the {rivals}{same} box{'es' if rivals != 1 else ''} still in the race: "
                   f"**{n_drop}** overlap it with IoU > {iou_threshold:.2f} and are removed (red); {left} stay.",
                   f"**第 {step} 步（共 {len(trace)} 步）**：保留剩下的框里最好的一个（*{name}*，分数 {score:.2f}）。"
                   f"把它和还在竞争的 {rivals} 个{same}框比较：**{n_drop}** 个和它的 IoU > {iou_threshold:.2f}，"
                   f"被去掉（红色）；{left} 个留下。")
    if step == len(trace):
        caption += Text(f" **Done: {len(trace)} kept.**", f" **完成：保留了 {len(trace)} 个。**")
    return c.picture(), caption


def step_rows(raw: RawDetections, kept: Kept, step: int) -> list[list]:
    """The table beside a step: each rival box (best first) with its score, IoU and fate."""
    if step < 1 or step > len(kept.trace):
        return []
    s = kept.trace[step - 1]
    return [[int(i), raw.label_names[raw.labels[i]], round(float(raw.scores[i]), 3), round(float(iou), 3),
             "removed" if drop else "stays"] for i, iou, drop in zip(s.rivals, np.nan_to_num(s.ious), s.suppressed)]


def reference_note(model: str, score: float, iou: float, mode: str) -> Text | None:
    """A sentence naming how the detector's reference code cleans up, when the tab's settings
    differ from it (None when they agree): the tab's defaults are a teaching choice."""
    from visionlab.pipelines.detection import reference_settings

    ref = reference_settings(model)
    if (ref.score_threshold, ref.mode) == (score, mode) and (mode == "none" or ref.iou_threshold == iou):
        return None
    nms = (Text("no NMS", "不做 NMS") if ref.mode == "none"
           else Text(f"{ref.mode} NMS at IoU {ref.iou_threshold:g}", f"IoU {ref.iou_threshold:g} 的 {ref.mode} NMS"))
    return (Text(f"Reference clean-up ({ref.source}): score above {ref.score_threshold:g}, ",
                 f"参考实现的清理方式（{ref.source}）：分数高于 {ref.score_threshold:g}，") + nms
            + Text(". The sliders here start elsewhere to show what NMS does.", "。这里的滑块从别的值开始，是为了展示 NMS 的作用。"))

