"""Sizes and limits of the GPU report: the paper sizes on a GPU, tiny sizes for ``--smoke`` on a CPU."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("dit_sampling", "renderer", "training", "end_to_end", "streaming")


@dataclass(frozen=True)
class ReportSettings:
    smoke: bool
    model: str  # configs/model/<model>.yaml (DiT architecture and sampler)
    renderer: str  # small | paper (lean budget sizes)
    reference_seconds: float
    generated_seconds: float
    fps: float
    steps: int  # Euler steps of the sampler
    repeats: int  # timed runs after one warm-up
    render_batch: int
    render_iters: int
    train_batch: int
    train_frames: int  # frames per training sample
    train_warmup: int
    train_iters: int
    compile: bool  # also time torch.compile variants
    compile_mode: str
    vocab_size: int
    # per-section wall-clock limits in seconds (the whole report stays under 10 minutes on an H100/H200)
    limits: dict[str, int] = field(default_factory=dict)

    def arch(self) -> dict[str, Any]:
        cfg = yaml.safe_load((ROOT / "configs" / "model" / f"{self.model}.yaml").read_text())
        return dict(cfg["arch"])

    def sampler(self) -> dict[str, Any]:
        cfg = yaml.safe_load((ROOT / "configs" / "model" / f"{self.model}.yaml").read_text())
        return dict(cfg["sampler"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PAPER = ReportSettings(
    smoke=False, model="omnitalker_0.8b", renderer="paper", reference_seconds=5.0, generated_seconds=10.0, fps=25.0,
    steps=16, repeats=3, render_batch=16, render_iters=5, train_batch=8, train_frames=1600, train_warmup=3,
    train_iters=10, compile=True, compile_mode="default", vocab_size=2545,
    limits={"dit_sampling": 180, "renderer": 90, "training": 110, "end_to_end": 130, "streaming": 60},
)

SMOKE = ReportSettings(
    smoke=True, model="tiny", renderer="small", reference_seconds=1.5, generated_seconds=1.0, fps=25.0, steps=2,
    repeats=1, render_batch=2, render_iters=1, train_batch=2, train_frames=48, train_warmup=1, train_iters=1,
    compile=False, compile_mode="default", vocab_size=64,
    limits={"dit_sampling": 90, "renderer": 90, "training": 90, "end_to_end": 120, "streaming": 120},
)


def settings_for(smoke: bool) -> ReportSettings:
    return SMOKE if smoke else PAPER
