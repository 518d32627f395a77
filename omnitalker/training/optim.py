"""AdamW with linear warm-up followed by linear or cosine decay (SPEC §4: lr 1e-4, warm-up, grad-clip 1.0)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 0.01
    warmup_steps: int = 20_000
    total_steps: int = 750_000
    decay: str = "cosine"  # cosine | linear | constant
    min_lr_ratio: float = 0.01

    def __post_init__(self) -> None:
        if self.decay not in ("cosine", "linear", "constant"):
            raise ValueError(f"unknown lr decay {self.decay!r}; choose cosine, linear or constant")
        if self.warmup_steps < 1 or self.total_steps < 1 or self.lr <= 0:
            raise ValueError(f"need lr > 0, warmup_steps >= 1 and total_steps >= 1, got {self}")

    @classmethod
    def from_dict(cls, values: dict) -> OptimConfig:
        values = dict(values)
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)


def lr_factor(step: int, cfg: OptimConfig) -> float:
    """Multiplier of the peak lr at optimizer step ``step``."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.decay == "constant":
        return 1.0
    span = max(cfg.total_steps - cfg.warmup_steps, 1)
    progress = min((step - cfg.warmup_steps) / span, 1.0)
    if cfg.decay == "linear":
        shape = 1.0 - progress
    elif cfg.decay == "cosine":
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:  # pragma: no cover - rejected by OptimConfig
        raise ValueError(f"unknown lr decay {cfg.decay!r}")
    return cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * shape


def build_optimizer(
    params, cfg: OptimConfig, fused: bool = False
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    optimizer = torch.optim.AdamW(
        params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay, fused=fused or None
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, cfg))
    return optimizer, scheduler
