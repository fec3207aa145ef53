"""Baseline for the start-up benchmark: a bare gr.Blocks app with as many tabs as VisionLab."""

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=7870)
parser.add_argument("--tabs", type=int, default=1)
args = parser.parse_args()

with gr.Blocks(title="bare") as demo:
    gr.Markdown("# bare")
    for i in range(args.tabs):
        with gr.Tab(f"Tab {i}"):
            gr.Image()
            gr.Markdown("nothing")
demo.queue().launch(server_name="127.0.0.1", server_port=args.port)
