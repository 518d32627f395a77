"""Rotary position embedding on the time axis, shared by both streams (frame i of audio and video = position i).

Own implementation instead of x-transformers' (which syncs with the host and breaks on meta tensors): the angles are
computed once per forward in fp32 and applied to q and k of every block.
"""

from __future__ import annotations

import torch
from torch import nn


class RotaryEmbedding(nn.Module):
    def __init__(self, dim_head: int, theta: float = 10000.0) -> None:
        super().__init__()
        if dim_head % 2:
            raise ValueError(f"RoPE needs an even head dimension, got {dim_head}")
        inv_freq = 1.0 / theta ** (torch.arange(0, dim_head, 2).float() / dim_head)  # (dh/2,)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin), each (n, dh) in fp32, for positions 0..seq_len-1."""
        pos = torch.arange(seq_len, device=self.inv_freq.device, dtype=torch.float32)  # (n,)
        angles = torch.outer(pos, self.inv_freq.float())  # (n, dh/2)
        angles = angles.repeat_interleave(2, dim=-1)  # (n, dh): pairs (2i, 2i+1) share a frequency
        return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotates consecutive channel pairs of x (b, h, n, dh) by the position angles."""
    cos, sin = rope  # (n, dh) each
    xf = x.float()
    pairs = xf.unflatten(-1, (-1, 2))  # (b, h, n, dh/2, 2)
    rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).flatten(-2)  # (b, h, n, dh)
    return (xf * cos + rotated * sin).to(x.dtype)
