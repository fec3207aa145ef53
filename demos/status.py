"""The status panel under the header: device, online or offline, models in memory, memory used."""

from __future__ import annotations

import sys
from pathlib import Path

import gradio as gr

from demos.i18n import say, tr
from visionlab.text import Text


def resident_mb() -> float | None:
    """This process's resident memory in MiB (Linux), or None where /proc is missing."""
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def status_line() -> str:
    """One line: the device and whether real models can be downloaded."""
    from visionlab.models.device import get_device
    from visionlab.models.hub import hub_status

    hub = hub_status()
    where = Text("online: real models download from the Hugging Face Hub on first use",
                 "在线：真实模型在第一次使用时从 Hugging Face Hub 下载") if hub.online else Text(
        f"offline ({hub.reason.en}): the bundled ShapesWorld models answer",
        f"离线（{hub.reason.zh}）：由自带的 ShapesWorld 模型回答")
    return say(Text(f"Device: `{get_device()}` · ", f"设备：`{get_device()}` · ") + where)


def status_details() -> str:
    """The panel: the models in memory (least recently used first) and the memory in use."""
    from visionlab.models import REGISTRY
    from visionlab.models.loader import loaded_keys

    from visionlab.models.gpu import on_zero_gpu

    models = ", ".join(REGISTRY[k].title for k in loaded_keys()) or say(
        Text("none yet (each loads on first use)", "还没有（每个模型在第一次使用时加载）"))
    rss = resident_mb()
    memory = Text(f"{rss:,.0f} MiB resident", f"常驻内存 {rss:,.0f} MiB") if rss is not None else Text("unknown", "未知")
    torch = sys.modules.get("torch")
    if on_zero_gpu():  # the GPU belongs to a worker process this one cannot look into
        models += say(Text(" (loaded when the Space started; each GPU worker starts with a copy)",
                           "（Space 启动时加载；每个 GPU 工作进程启动时得到一份副本）"))
        memory += Text("; GPU memory: only the ZeroGPU worker can see it, and this panel cannot",
                       "；GPU 内存：只有 ZeroGPU 工作进程看得到，这个面板看不到")
    elif torch is not None and torch.cuda.is_available():
        gpu = torch.cuda.memory_allocated() / 2**20
        memory += Text(f"; GPU {gpu:,.0f} MiB allocated", f"；GPU 已分配 {gpu:,.0f} MiB")
    return say(Text(f"- **Models in memory:** {models}\n- **Memory:** ", f"- **内存中的模型：** {models}\n- **内存：** ")
               + memory)


def build(language_known: list) -> None:
    """The one-line status under the title, and a panel that refreshes itself every 10 s.

    Both are written once the page's language is known (after each event in `language_known`:
    the page opened, the language switched). Finding the device imports torch, which start-up
    skips."""
    line = gr.Markdown(elem_classes="vl-status")
    with gr.Accordion(tr("Status", "状态"), open=False):
        details = gr.Markdown()
    for event in language_known:
        event.then(lambda: (status_line(), status_details()), None, [line, details], api_visibility="private",
                   queue=False)
    gr.Timer(10).tick(status_details, None, details, api_visibility="private", queue=False)
