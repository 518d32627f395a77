"""Adaptive LayerNorm conditioned on the timestep embedding (DiT's AdaLN-Zero)."""

from __future__ import annotations

import torch
from torch import nn


class AdaLayerNormZero(nn.Module):
    """LayerNorm modulated by t; returns the normed input plus the gates/shift/scale for the FFN branch.

    The modulation Linear is zero-initialised, so every block starts as the identity (residual branches gated by 0).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mods = self.modulation(t_emb)[:, None]  # (b, 1, 6d)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mods.chunk(6, dim=-1)  # each (b, 1, d)
        h = self.norm(x) * (1 + scale_msa) + shift_msa  # (b, n, d)
        return h, gate_msa, shift_mlp, scale_mlp, gate_mlp


class AdaLayerNormFinal(nn.Module):
    """Shift/scale-only AdaLN before the output head (zero-initialised)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, x: torch.Tensor, t_emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.modulation(t_emb)[:, None].chunk(2, dim=-1)  # (b, 1, d) each
        return self.norm(x) * (1 + scale) + shift  # (b, n, d)
