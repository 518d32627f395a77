"""Floating-point operations of the renderer per module, counted by torch's FlopCounterMode on the meta device
(no weights are run, so the paper-size count takes seconds on a CPU)."""

from __future__ import annotations

import copy

import torch
from torch.utils.flop_counter import FlopCounterMode

from omnitalker.constants import CODE_DIM
from omnitalker.render.renderer import Renderer


def renderer_flops(renderer: Renderer) -> dict[str, float]:
    """FLOPs (multiply-add = 2) of one frame: ``appearance`` (once per identity), ``dense_motion``,
    ``warp_features``, ``generator`` and ``per_frame`` (everything but the appearance)."""
    cfg = renderer.cfg
    with torch.no_grad():
        kp = renderer.keypoints(torch.zeros(1, CODE_DIM)).to("meta")  # (1, K, 3)
    meta = copy.deepcopy(renderer).to("meta")
    source = torch.empty(1, 3, cfg.input_size, cfg.input_size, device="meta")
    counts: dict[str, float] = {}

    def count(name: str, fn, *args):
        with FlopCounterMode(display=False) as counter:
            out = fn(*args)
        counts[name] = float(counter.get_total_flops())
        return out

    with torch.no_grad():
        volume = count("appearance", meta.appearance, source)  # (1, C, D, h, w)
        deformation, occlusion = count("dense_motion", meta.warping.dense_motion, volume, kp, kp)
        features = count("warp_features", meta.warping.warp_features, volume, deformation, occlusion)
        count("generator", meta.generator, features)
    counts["per_frame"] = counts["dense_motion"] + counts["warp_features"] + counts["generator"]
    return counts
