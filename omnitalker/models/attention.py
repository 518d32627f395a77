"""Multi-head attention pieces shared by the single-stream and the audio-visual fusion blocks (SDPA + RoPE)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from omnitalker.models.rope import apply_rope


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None) -> torch.Tensor:
    """Scaled dot-product attention; ``key_mask`` (b, s) is True for keys that may be attended (None = all)."""
    attn_mask = None if key_mask is None else key_mask[:, None, None, :]  # (b, 1, 1, s)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (b, h, n, dh)


class QKV(nn.Module):
    """Projects a stream to per-head queries, keys and values, with RoPE on the time axis."""

    def __init__(self, dim: int, heads: int, dim_head: int, qk_norm: bool) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(dim, inner)
        self.to_k = nn.Linear(dim, inner)
        self.to_v = nn.Linear(dim, inner)
        self.q_norm = nn.RMSNorm(dim_head, eps=1e-6) if qk_norm else nn.Identity()
        self.k_norm = nn.RMSNorm(dim_head, eps=1e-6) if qk_norm else nn.Identity()

    def queries(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        q = self.q_norm(rearrange(self.to_q(x), "b n (h d) -> b h n d", h=self.heads))  # (b, h, n, dh)
        return q if rope is None else apply_rope(q, rope)

    def keys_values(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.k_norm(rearrange(self.to_k(x), "b n (h d) -> b h n d", h=self.heads))  # (b, h, n, dh)
        v = rearrange(self.to_v(x), "b n (h d) -> b h n d", h=self.heads)  # (b, h, n, dh)
        return (k if rope is None else apply_rope(k, rope)), v

    def forward(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.queries(x, rope), *self.keys_values(x, rope)


class OutProjection(nn.Module):
    def __init__(self, inner: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.proj = nn.Linear(inner, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, heads_out: torch.Tensor) -> torch.Tensor:
        merged = rearrange(heads_out, "b h n d -> b n (h d)")  # (b, n, inner)
        return self.dropout(self.proj(merged))  # (b, n, dim)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float, qk_norm: bool) -> None:
        super().__init__()
        self.qkv = QKV(dim, heads, dim_head, qk_norm)
        self.out = OutProjection(heads * dim_head, dim, dropout)

    def forward(
        self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None, mask: torch.Tensor | None
    ) -> torch.Tensor:
        q, k, v = self.qkv(x, rope)  # (b, h, n, dh) each
        return self.out(attend(q, k, v, mask))  # (b, n, dim)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, dim * mult), nn.GELU(approximate="tanh"), nn.Dropout(dropout), nn.Linear(dim * mult, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
