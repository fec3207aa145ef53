"""Pictures for the Detection tab: candidate boxes, kept boxes, and NMS step by step.

Every function returns (picture, caption): the picture is (H, W, 3) uint8 RGB drawn with
`visionlab.ops.box_drawing.Canvas`; captions are short Markdown.
"""

from __future__ import annotations

import numpy as np

from visionlab.ops.box_drawing import DROP, KEEP, WAITING, Canvas, colour_of
from visionlab.pipelines.detection import SCORE_FLOOR, Kept, RawDetections


def candidates_picture(raw: RawDetections, kept: Kept) -> tuple[np.ndarray, str]:
    """Every candidate above the score threshold, thin and translucent: the raw output."""
    c = Canvas(raw.image)
    for i in kept.candidates[::-1]:                       # best drawn last, on top
        c.box(raw.boxes[i], colour_of(raw.labels[i]), width=1, alpha=170)
    n = len(kept.candidates)
    return c.picture(), (f"**Before NMS: {n} candidate box{'es' if n != 1 else ''}** "
                         f"(of {len(raw.scores)} the model proposed above score {SCORE_FLOOR:g}); "
                         "one object gives a whole cluster of boxes.")


def kept_picture(raw: RawDetections, kept: Kept) -> tuple[np.ndarray, str]:
    """The boxes that survive, with label and score tags."""
    c = Canvas(raw.image)
    for i, s in zip(kept.indices[::-1], kept.scores[::-1]):
        c.box(raw.boxes[i], colour_of(raw.labels[i]), width=3, text=f"{raw.label_names[raw.labels[i]]} {s:.2f}")
    n, m = len(kept.indices), len(kept.candidates)
    if m == 0:
        return c.picture(), "**No box scores above the threshold.** Lower the score threshold to see candidates."
    what = {"none": "no NMS: every candidate stays", "class-agnostic": "class-agnostic NMS",
            "per-class": "per-class NMS"}.get(kept.mode, kept.mode.replace("soft-nms", "Soft-NMS"))
    return c.picture(), f"**After {what}: {n} of {m} boxes kept**, {m - n} removed."


def nms_step_picture(raw: RawDetections, kept: Kept, step: int, iou_threshold: float) -> tuple[np.ndarray, str]:
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
        return c.picture(), (f"**Step 0 of {len(trace)}:** {len(kept.candidates)} candidates, sorted by score. "
                             "Press *Next* to keep the best one.")
    s = trace[step - 1]
    for i, iou, drop in zip(s.rivals, s.ious, s.suppressed):
        if drop or iou > 0.05:
            c.box(raw.boxes[i], DROP if drop else WAITING, width=2 if drop else 1, alpha=230,
                  text=f"{iou:.2f}", font_size=12)
    c.box(raw.boxes[s.kept], KEEP, width=4, text=f"KEEP {raw.label_names[raw.labels[s.kept]]} {raw.scores[s.kept]:.2f}")
    n_drop = int(s.suppressed.sum())
    same = f" *{raw.label_names[raw.labels[s.kept]]}*" if kept.mode == "per-class" else ""   # per-class: one label
    left = len(s.rivals) - n_drop
    caption = (f"**Step {step} of {len(trace)}:** keep the best remaining box "
               f"(*{raw.label_names[raw.labels[s.kept]]}*, score {raw.scores[s.kept]:.2f}). "
               f"Compare it with the {len(s.rivals)}{same} box{'es' if len(s.rivals) != 1 else ''} still in the race: "
               f"**{n_drop}** overlap it with IoU > {iou_threshold:.2f} and are removed (red); {left} stay.")
    if step == len(trace):
        caption += f" **Done: {len(trace)} kept.**"
    return c.picture(), caption


def step_rows(raw: RawDetections, kept: Kept, step: int) -> list[list]:
    """The table beside a step: each rival box (best first) with its score, IoU and fate."""
    if step < 1 or step > len(kept.trace):
        return []
    s = kept.trace[step - 1]
    return [[int(i), raw.label_names[raw.labels[i]], round(float(raw.scores[i]), 3), round(float(iou), 3),
             "removed" if drop else "stays"] for i, iou, drop in zip(s.rivals, np.nan_to_num(s.ious), s.suppressed)]
