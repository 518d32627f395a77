"""Input-side embeddings: sinusoidal features, timestep MLP, convolutional positions, per-stream input projection."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_features(x: torch.Tensor, dim: int, scale: float = 1000.0, max_period: float = 10000.0) -> torch.Tensor:
    """(b,) values -> (b, dim) [sin | cos] features; ``scale`` stretches t in [0, 1] to a useful frequency range."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=x.device, dtype=torch.float32) / (half - 1))
    args = scale * x.float()[:, None] * freqs[None]  # (b, half)
    return torch.cat([args.sin(), args.cos()], dim=-1)  # (b, dim)


def sinusoidal_positions(num_positions: int, dim: int, theta: float = 10000.0) -> torch.Tensor:
    """Absolute positions (num_positions, dim) as [cos | sin] (the F5-TTS text-position table)."""
    freqs = 1.0 / theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim)  # (dim/2,)
    angles = torch.outer(torch.arange(num_positions).float(), freqs)  # (n, dim/2)
    return torch.cat([angles.cos(), angles.sin()], dim=-1)  # (n, dim)


class TimestepEmbedding(nn.Module):
    """Flow time t in [0, 1] -> (b, dim) conditioning vector for every AdaLN."""

    def __init__(self, dim: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        feats = sinusoidal_features(t, self.freq_dim).to(self.mlp[0].weight.dtype)  # (b, freq_dim)
        return self.mlp(feats)  # (b, dim)


class ConvPositionEmbedding(nn.Module):
    """Relative position information from two grouped 1-D convolutions; padded frames are zeroed in and out."""

    def __init__(self, dim: int, kernel_size: int = 31, groups: int = 16) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"conv position kernel must be odd, got {kernel_size}")
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad)
        self.conv2 = nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=pad)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is not None:
            x = x.masked_fill(~mask[..., None], 0.0)  # (b, n, d)
        h = x.transpose(1, 2)  # (b, d, n)
        h = F.mish(self.conv1(h))  # (b, d, n)
        if mask is not None:
            h = h.masked_fill(~mask[:, None, :], 0.0)  # padding must not leak into the second conv
        h = F.mish(self.conv2(h))  # (b, d, n)
        h = h.transpose(1, 2)  # (b, n, d)
        if mask is not None:
            h = h.masked_fill(~mask[..., None], 0.0)
        return h


class StreamInputEmbedding(nn.Module):
    """One stream's input: Linear(concat(noisy x, context x, text)) -> dim, plus a residual conv position embedding."""

    def __init__(self, feat_dim: int, text_dim: int, dim: int, conv_kernel: int, conv_groups: int) -> None:
        super().__init__()
        self.feat_dim = feat_dim
        self.proj = nn.Linear(2 * feat_dim + text_dim, dim)
        self.conv_pos = ConvPositionEmbedding(dim, conv_kernel, conv_groups)

    def forward(
        self, noisy: torch.Tensor, context: torch.Tensor, text: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        h = self.proj(torch.cat([noisy, context, text], dim=-1))  # (b, n, dim)
        return h + self.conv_pos(h, mask)  # (b, n, dim)
