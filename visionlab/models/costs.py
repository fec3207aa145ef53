"""What a model's slow step costs on this machine, said before the student waits for it.

Two sources, the second replacing the first as soon as it exists:
- PRIORS: seconds measured by `python -m bench.real_size` for (model, step) on a kind of device
  ("cpu": 2 threads, as on a free CPU Space; "gpu");
- what this server measured: `record` after each run of the step keeps a running average.

    record("owlvit-base-32", "detect", 0.71)
    expected_wait("owlvit-base-32", "detect")   # Text: "about 0.7 s on this CPU (measured here)"

Steps: "detect" (a detector on a new picture), "encode" (Segment Anything's image encoder on
a new picture). Seconds are wall time of the model call, not counting the page's round trip.
"""

from __future__ import annotations

import threading

from visionlab.models.defaults import default_reason, device_class
from visionlab.text import Text

# (model, step, device class) -> seconds of the model call (preparing the picture + forward), with
# random weights of the real architecture on 2 CPU threads of a quiet machine (a busy one takes
# two to four times as long). OWL-ViT, OWLv2 and SAM ViT-B: measured forward times (STACK.md's
# table); Grounding DINO T: twice OWLv2, its ratio to OWLv2 in two runs of `python -m bench.real_size`
# (1.55x and 2.5x). No GPU was measured for VisionLab: there, nothing is said until this server
# has measured it.
PRIORS: dict[tuple[str, str, str], float] = {
    ("owlvit-base-32", "detect", "cpu"): 0.7,
    ("owlv2-base", "detect", "cpu"): 6.0,
    ("grounding-dino-tiny", "detect", "cpu"): 12.0,
    ("sam-vit-b", "encode", "cpu"): 9.5,
    # SAM-family models in transformers: SAM ViT-B's 9.5 s divided by each one's speed-up over
    # segment-anything's ViT-B set_image in one run of `python -m bench.sam_family` (2 threads, 1024 px,
    # a busy machine: ViT-B 24.2 s, EdgeTAM 1.94 s, SAM 2.1 Hiera-T 6.46 s, SlimSAM-50 10.3 s); EdgeTAM
    # as the app runs it on a CPU (folded and channels-last: 18x ViT-B in another run; on a quieter
    # machine 0.52 s against ViT-B's 10.6 s).
    ("edgetam", "encode", "cpu"): 0.5,
    ("sam2.1-hiera-tiny", "encode", "cpu"): 2.5,
    ("slimsam-50", "encode", "cpu"): 4.0,
}
SMOOTHING = 0.5           # weight of the newest measurement in the running average

_lock = threading.Lock()
_measured: dict[tuple[str, str], float] = {}


def record(model: str, step: str, seconds: float) -> None:
    """Note what one run of `step` by `model` took on this server (seconds)."""
    if not seconds >= 0:      # NaN or negative: nothing to learn
        return
    with _lock:
        old = _measured.get((model, step))
        _measured[(model, step)] = seconds if old is None else SMOOTHING * seconds + (1 - SMOOTHING) * old


def expected_seconds(model: str, step: str) -> tuple[float, bool] | None:
    """(seconds, measured here?) for `step` by `model`: this server's running average if it has
    run the step, else the prior for this kind of device, else None (nothing honest to say)."""
    with _lock:
        seen = _measured.get((model, step))
    if seen is not None:
        return seen, True
    prior = PRIORS.get((model, step, device_class()))
    return (prior, False) if prior is not None else None


def _seconds(s: float) -> str:
    return f"{s:.2g}" if s < 1 else f"{s:.1f}" if s < 10 else f"{s:.0f}"


def expected_wait(model: str, step: str) -> Text | None:
    """"about N s on this CPU (measured here)" / "about N s on a 2-core CPU", or None."""
    found = expected_seconds(model, step)
    if found is None:
        return None
    seconds, here = found
    gpu = device_class() == "gpu"
    if here:
        return Text(f"about {_seconds(seconds)} s on this {'GPU' if gpu else 'CPU'} (measured here)",
                    f"在这台机器的 {'GPU' if gpu else 'CPU'} 上约 {_seconds(seconds)} 秒（本机实测）")
    return Text(f"about {_seconds(seconds)} s on a {'GPU' if gpu else '2-core CPU'}",
                f"在{'GPU' if gpu else '双核 CPU'} 上约 {_seconds(seconds)} 秒")


NEW_PICTURE = {"detect": Text("the detector", "检测器"), "encode": Text("the image encoder", "图像编码器")}


def new_picture_note(model: str, step: str) -> Text | None:
    """One sentence for the tab, said before the student waits: "A new picture takes the detector
    about 0.7 s on a 2-core CPU." None when nothing honest can be said yet."""
    wait = expected_wait(model, step)
    if wait is None:
        return None
    what = NEW_PICTURE.get(step, Text(step, step))
    return Text(f"A new picture takes {what.en} ", f"{what.zh}处理一张新图片：") + wait + Text(".", "。")


def tab_note(task: str, model: str, step: str, after: Text | None = None) -> Text | None:
    """The line under a tab's model list: what a new picture costs with `model` here (then `after`,
    e.g. "clicks after that are instant"), and why `model` is the tab's default on this device
    when it is. None when there is nothing to say (or `model` is not a registry key)."""
    from visionlab.models.registry import REGISTRY

    if not isinstance(model, str) or model not in REGISTRY:
        return None
    wait = new_picture_note(model, step)
    parts = [p for p in (wait + after if wait and after else wait, default_reason(task, model)) if p]
    return parts[0] + Text(" ", "") + parts[1] if len(parts) > 1 else (parts[0] if parts else None)
