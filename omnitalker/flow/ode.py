"""Fixed-grid ODE integration of a velocity field over flow time 0 -> 1 (state = a tuple of tensors)."""

from __future__ import annotations

from collections.abc import Callable

import torch

State = tuple[torch.Tensor, ...]
VelocityFn = Callable[[State, torch.Tensor], State]
ODE_METHODS = ("euler", "midpoint")


def integrate(velocity: VelocityFn, x0: State, grid: torch.Tensor, method: str = "euler") -> State:
    """Integrates dx/dt = velocity(x, t) along ``grid`` (steps + 1 increasing times).

    Euler costs one velocity evaluation per step, midpoint two (second order).
    """
    if method not in ODE_METHODS:
        raise ValueError(f"unknown ODE method {method!r}; choose one of {ODE_METHODS}")
    if grid.dim() != 1 or grid.numel() < 2:
        raise ValueError(f"time grid must be 1-D with at least 2 points, got shape {tuple(grid.shape)}")
    x = x0
    for k in range(grid.numel() - 1):
        t, dt = grid[k], grid[k + 1] - grid[k]
        v = velocity(x, t)
        if method == "midpoint":
            x_mid = tuple(xi + 0.5 * dt * vi for xi, vi in zip(x, v))
            v = velocity(x_mid, t + 0.5 * dt)
        x = tuple(xi + dt * vi for xi, vi in zip(x, v))
    return x
