"""Flow time: training distributions of t and the inference time grids."""

from __future__ import annotations

import math

import torch

TIME_SAMPLERS = ("logit_normal", "uniform")
TIME_GRIDS = ("uniform", "sway")


def sample_time(
    batch: int,
    kind: str = "logit_normal",
    mean: float = 0.0,
    std: float = 1.0,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(b,) training times in (0, 1): logit-normal sigmoid(N(mean, std)) (paper) or uniform."""
    if kind == "logit_normal":
        return torch.sigmoid(mean + std * torch.randn(batch, device=device, generator=generator))
    if kind == "uniform":
        return torch.rand(batch, device=device, generator=generator)
    raise ValueError(f"unknown time sampler {kind!r}; choose one of {TIME_SAMPLERS}")


def time_grid(steps: int, kind: str = "sway", sway_coef: float = -1.0, device: torch.device | str | None = None):
    """(steps + 1,) increasing times from 0 to 1 for the ODE solver.

    ``sway`` is F5-TTS's sway sampling t + s·(cos(πt/2) − 1 + t); s < 0 spends more steps near the noisy end.
    """
    if steps < 1:
        raise ValueError(f"need at least one sampling step, got {steps}")
    t = torch.linspace(0.0, 1.0, steps + 1, device=device)
    if kind == "uniform":
        return t
    if kind == "sway":
        if not -1.0 <= sway_coef <= 1.0:
            raise ValueError(f"sway coefficient must be in [-1, 1] to keep the grid monotone, got {sway_coef}")
        return t + sway_coef * (torch.cos(math.pi / 2 * t) - 1 + t)
    raise ValueError(f"unknown time grid {kind!r}; choose one of {TIME_GRIDS}")
