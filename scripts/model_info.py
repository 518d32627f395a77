"""Parameter counts per component and forward/sampling FLOPs of a model configuration, to budget GPUs.

    python scripts/model_info.py model=omnitalker_0.8b reference_seconds=5 generated_seconds=10
"""

from __future__ import annotations

import hydra
import torch
from omegaconf import DictConfig

from omnitalker.constants import MEL_FPS
from omnitalker.flow.guidance import FULL_BRANCHES, TWO_PASS_BRANCHES
from omnitalker.models.dit import parameter_breakdown
from omnitalker.models.factory import build_dit
from omnitalker.models.flops import analytic_forward_flops, counted_forward_flops


def describe(cfg: DictConfig) -> str:
    with torch.device("meta"):  # shapes only: the 0.8B model costs no memory here
        model = build_dit(cfg.model.arch)
    counts = parameter_breakdown(model)
    lines = [f"model: {cfg.model.name}  (fusion: {model.cfg.fusion})", "", f"{'component':<16}{'parameters':>16}"]
    lines += [f"{name:<16}{value:>16,}" for name, value in counts.items() if name != "total"]
    lines += [f"{'total':<16}{counts['total']:>16,}   ({counts['total'] / 1e9:.3f} B)", ""]

    frames = round((cfg.reference_seconds + cfg.generated_seconds) * MEL_FPS)
    fwd = analytic_forward_flops(model, frames, cfg.batch)
    lines.append(
        f"one forward, batch {cfg.batch}, {cfg.reference_seconds:g} s reference + {cfg.generated_seconds:g} s generated "
        f"= {frames} frames at {MEL_FPS} Hz:"
    )
    lines.append(f"  formula 2bn·P_tok + 2b·P_smp + attn: {fwd / 1e12:9.3f} TFLOPs  (P_token = weights used per frame)")
    if cfg.count:
        lines.append(f"  counted (FlopCounterMode, meta)   : {counted_forward_flops(model, frames, cfg.batch) / 1e12:9.3f} TFLOPs")
    sampler = cfg.model.sampler
    branches = {"full": len(FULL_BRANCHES), "two_pass": len(TWO_PASS_BRANCHES), "none": 1}[sampler.cfg_mode]
    evals = sampler.steps * (2 if sampler.method == "midpoint" else 1)
    total = fwd * branches * evals
    lines.append(
        f"sampling: {sampler.steps} {sampler.method} steps x {branches} guidance branches ({sampler.cfg_mode}) "
        f"= {total / 1e12:.1f} TFLOPs, {total / 1e12 / max(cfg.generated_seconds, 1e-9):.1f} TFLOPs per generated second"
    )
    lines.append(f"training step (fwd + bwd ≈ 3x forward) per {frames}-frame sample: {3 * fwd / 1e12:.2f} TFLOPs")
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path="../configs", config_name="model_info")
def main(cfg: DictConfig) -> None:
    print(describe(cfg))


if __name__ == "__main__":
    main()
