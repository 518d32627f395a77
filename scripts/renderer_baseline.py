#!/usr/bin/env python
"""Held-out L1 of the copy-the-source baseline (and optionally of a trained renderer) on the renderer's validation
pairs, exactly as ``scripts/train_renderer.py`` builds them from the same overrides:

    python scripts/renderer_baseline.py experiment=renderer_smoke [--renderer RUN/renderer] [more overrides ...]

The baseline answers "does the renderer beat copying the (upsampled) source frame?": it predicts every driving
frame as the source frame resized to the output size. ``--renderer`` (an exported renderer directory) scores that
renderer on the same pairs; its number equals the run's ``val_l1_end`` in metrics.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from train_renderer import build_loaders  # the trainer's own loader construction

from omnitalker.render import load_renderer
from omnitalker.render.config import RendererConfig
from omnitalker.render.data import resize_frames


@torch.no_grad()
def held_out_l1(loader, output_size: int, renderer=None) -> dict[str, float]:
    """Mean absolute error over all held-out pairs (batch means weighted by batch size, as Lightning logs val/l1)."""
    total = {"copy_source": 0.0, "renderer": 0.0}
    count = 0
    for batch in loader:
        b = batch["source"].shape[0]
        copied = resize_frames(batch["source"].float(), output_size)  # (B, 3, out, out)
        total["copy_source"] += float((copied - batch["driving"]).abs().mean()) * b
        if renderer is not None:
            image = renderer(batch["source"], batch["source_codes"], batch["driving_codes"]).image  # (B, 3, out, out)
            total["renderer"] += float((image - batch["driving"]).abs().mean()) * b
        count += b
    out = {"pairs": count, "copy_source_l1": total["copy_source"] / count}
    if renderer is not None:
        out["renderer_l1"] = total["renderer"] / count
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renderer", default=None, help="an exported renderer directory to score on the same pairs")
    args, overrides = parser.parse_known_args(argv)
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train_renderer", overrides=overrides)
    rcfg = RendererConfig.from_dict(dict(cfg.model.renderer))
    _, val_loader = build_loaders(cfg, rcfg.input_size, rcfg.output_size)
    renderer = None
    if args.renderer:
        renderer = load_renderer(args.renderer).eval()
        if (renderer.cfg.input_size, renderer.cfg.output_size) != (rcfg.input_size, rcfg.output_size):
            raise SystemExit(
                f"{args.renderer} is a {renderer.cfg.input_size}->{renderer.cfg.output_size} renderer, the overrides "
                f"describe {rcfg.input_size}->{rcfg.output_size}; pass the run's model overrides too"
            )
    result = held_out_l1(val_loader, rcfg.output_size, renderer)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
