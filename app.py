"""VisionLab: an interactive lesson on how vision models see.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--device cpu|cuda|mps]
                  [--offline] [--preload]
"""

from __future__ import annotations

import argparse
import os
import threading

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home, offline is normal

CSS = """
.vl-status {font-size: 0.9em; opacity: 0.85}
footer {display: none !important}
"""


def build_app():
    """The whole Blocks app: a header, then one tab per module in `demos.TABS`."""
    import gradio as gr

    from demos import TABS, connect_tabs, i18n, presenter, status, tab_id
    from demos.gradio_fixes import atomic_cache_writes
    from demos.i18n import tr

    atomic_cache_writes()

    with gr.Blocks(title="VisionLab") as demo:
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                gr.Markdown(tr("# VisionLab\nHow modern vision models see, live. Upload a picture or pick an example.",
                               "# VisionLab\n现代视觉模型怎样“看”，现场演示。上传一张图片，或者选一个示例。"))
            with gr.Column(scale=1, min_width=200):
                language_known = i18n.build(demo)
        with gr.Row(equal_height=False):
            with gr.Column(scale=4):
                status.build(language_known)
            with gr.Column(scale=2, min_width=260):
                presenter.build(demo)
        with gr.Tabs() as tabs:
            handles = {}
            for module, en, zh in TABS:
                with gr.Tab(tr(en, zh), id=tab_id(module)):
                    handles[tab_id(module)] = module.build() or {}
        connect_tabs(handles, tabs)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="VisionLab: how vision models see.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve on a public gradio.live link")
    parser.add_argument("--device", choices=["cuda", "mps", "cpu"], help="default: cuda, then mps, then cpu")
    parser.add_argument("--offline", action="store_true", help="never contact the Hugging Face Hub")
    parser.add_argument("--preload", action="store_true",
                        help="load the default models (and the examples' embeddings) before serving")
    args = parser.parse_args(argv)
    from visionlab.models.hub import start_probe

    start_probe(force_offline=args.offline)  # the hub probe runs while the imports below do

    from demos.common import EXAMPLES_DIR
    from visionlab.models.device import set_device
    from visionlab.models.hub import hub_status

    hub_status(force_offline=args.offline)
    set_device(args.device)  # None: cuda, then mps, then cpu (torch is imported when first asked)
    from demos import startup
    from visionlab.models.gpu import on_zero_gpu

    if on_zero_gpu():
        startup.serve_on_zero_gpu()   # in this thread, before launch: never inside a GPU worker
    elif args.preload:
        startup.load(startup.default_keys())
        startup.warm_examples()
    demo = build_app()
    demo.queue(default_concurrency_limit=2, max_size=64)
    from starlette.middleware import Middleware

    from demos.body_limit import BodyLimit
    from demos.i18n import I18N
    from demos.presenter import CSS as PRESENTER_CSS

    demo.launch(server_name=args.host, server_port=args.port, share=args.share, css=CSS + PRESENTER_CSS,
                max_file_size="10mb", allowed_paths=[str(EXAMPLES_DIR)], i18n=I18N, prevent_thread_lock=True,
                app_kwargs={"middleware": [Middleware(BodyLimit)]})
    if not (on_zero_gpu() or args.preload):
        # Lazy loading: warm the defaults once the page is served, so the warm-up does not slow
        # the start (2 cores); a request that comes first waits only for what is left.
        threading.Thread(target=startup.warm_up, name="warm-up", daemon=True).start()
    demo.block_thread()


if __name__ == "__main__":
    main()
