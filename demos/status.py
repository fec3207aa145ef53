"""The status panel under the header: device, online or offline, models in memory, memory used."""

from __future__ import annotations

import sys
from pathlib import Path

import gradio as gr


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
    where = "online: real models download from the Hugging Face Hub on first use" if hub.online else (
        f"offline ({hub.reason}): the bundled ShapesWorld models answer")
    return f"Device: `{get_device()}` · {where}"


def status_details() -> str:
    """The panel: the models in memory (least recently used first) and the memory in use."""
    from visionlab.models import REGISTRY
    from visionlab.models.loader import loaded_keys

    models = ", ".join(REGISTRY[k].title for k in loaded_keys()) or "none yet (each loads on first use)"
    rss = resident_mb()
    memory = f"{rss:,.0f} MiB resident" if rss is not None else "unknown"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        memory += f"; GPU {torch.cuda.memory_allocated() / 2**20:,.0f} MiB allocated"
    return f"- **Models in memory:** {models}\n- **Memory:** {memory}"


def build(demo: gr.Blocks) -> None:
    """The one-line status under the title, and a panel that refreshes itself every 10 s."""
    line = gr.Markdown(elem_classes="vl-status")
    with gr.Accordion("Status / 状态", open=False):
        details = gr.Markdown()
    # Filled in when a page opens: finding the device imports torch, which start-up skips.
    demo.load(status_line, None, line, api_visibility="private", queue=False)
    gr.Timer(10).tick(status_details, None, details, api_visibility="private", queue=False)
    demo.load(status_details, None, details, api_visibility="private", queue=False)
