"""python -m omnitalker.demo [key=value ...]: serve the web demo (see configs/demo.yaml and docs/demo.md).

    python -m omnitalker.demo                                   # the README quick-start models
    python -m omnitalker.demo dit=run/last.ckpt renderer=renderer_dir vocoder=vocos vocoder_path=vocos_dir port=8000

A bad setting or model prints one line and exits with status 1 (OMNITALKER_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import logging
import os
import socket
import sys

USAGE = __doc__


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve(overrides: list[str], block: bool = True):
    """Load the models once and start the server; returns (blocks, local url)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no usage reports leave the machine
    from omnitalker.demo.app import build_app, theme
    from omnitalker.demo.config import DemoSettings, load_config
    from omnitalker.demo.features import detect
    from omnitalker.demo.service import DemoService
    from omnitalker.inference.cli_config import pipeline_config
    from omnitalker.inference.pipeline import OmniTalkerPipeline

    cfg = load_config(overrides)
    settings = DemoSettings.from_config(cfg)
    pipeline = OmniTalkerPipeline(pipeline_config(cfg))
    features = detect(pipeline)
    settings.outputs.mkdir(parents=True, exist_ok=True)
    service = DemoService(pipeline, settings, features)
    blocks = build_app(service)
    port = settings.port or free_port(settings.host)
    print(f"OmniTalker demo: optional features: {features.describe()}", flush=True)
    blocks.queue(default_concurrency_limit=1, max_size=16)
    _, url, _ = blocks.launch(server_name=settings.host, server_port=port, share=False,
                              inbrowser=settings.open_browser, allowed_paths=[str(settings.outputs.resolve())],
                              max_file_size=f"{settings.max_upload_mb}mb", theme=theme(), ssr_mode=False,
                              show_error=False, quiet=True, prevent_thread_lock=True)
    print(f"OmniTalker demo running on {url} (Ctrl+C stops it)", flush=True)
    if block:
        blocks.block_thread()
    return blocks, url


def main(argv: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        print(USAGE)
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        serve(argv)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # startup errors (missing checkpoint, bad override, busy port) are one line
        if os.environ.get("OMNITALKER_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
