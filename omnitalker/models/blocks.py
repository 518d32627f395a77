"""Transformer blocks: the single-modality DiT block and the two-stream audio-visual fusion block.

Both streams have the same length (visual codes are resampled to the mel rate), so frame i of audio and frame i of
video share RoPE position i. The fusion block keeps separate weights per stream (AdaLN, QKV, output projection, FFN);
only the way the streams exchange information differs between the ablation variants:

- ``mm_attention`` (paper default): one joint attention over the concatenated audio and visual tokens.
- ``cross_attention``: per-stream self-attention plus a cross-attention to the other stream.
- ``add``: the other stream's normed features are added before per-stream self-attention.
- ``linear``: a learned Linear over [own, other] normed features before per-stream self-attention.
- ``none``: no exchange at all (a control, not a paper variant).
"""

from __future__ import annotations

import torch
from torch import nn

from omnitalker.models.adaln import AdaLayerNormZero
from omnitalker.models.attention import QKV, FeedForward, OutProjection, SelfAttention, attend
from omnitalker.models.config import DiTConfig


class DiTBlock(nn.Module):
    """Single-stream DiT block with AdaLN-Zero (F5-TTS ``DiTBlock`` layout)."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.attn_norm = AdaLayerNormZero(cfg.dim)
        self.attn = SelfAttention(cfg.dim, cfg.heads, cfg.dim_head, cfg.dropout, cfg.qk_norm)
        self.ff_norm = nn.LayerNorm(cfg.dim, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(cfg.dim, cfg.ff_mult, cfg.dropout)

    def forward(
        self, x: torch.Tensor, t_emb: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor | None
    ) -> torch.Tensor:
        h, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.attn_norm(x, t_emb)  # h: (b, n, d)
        x = x + gate_msa * self.attn(h, rope, mask)  # (b, n, d)
        h = self.ff_norm(x) * (1 + scale_mlp) + shift_mlp  # (b, n, d)
        return x + gate_mlp * self.ff(h)  # (b, n, d)


class _StreamWeights(nn.Module):
    """The per-stream half of a fusion block."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.attn_norm = AdaLayerNormZero(cfg.dim)
        self.qkv = QKV(cfg.dim, cfg.heads, cfg.dim_head, cfg.qk_norm)
        self.attn_out = OutProjection(cfg.inner_dim, cfg.dim, cfg.dropout)
        self.ff_norm = nn.LayerNorm(cfg.dim, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(cfg.dim, cfg.ff_mult, cfg.dropout)

    def feed_forward(self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        h = self.ff_norm(x) * (1 + scale) + shift  # (b, n, d)
        return x + gate * self.ff(h)  # (b, n, d)


class _CrossAttention(nn.Module):
    """Queries from one stream, keys/values from the other; output scaled by a zero-initialised per-channel gate."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.qkv = QKV(cfg.dim, cfg.heads, cfg.dim_head, cfg.qk_norm)
        self.out = OutProjection(cfg.inner_dim, cfg.dim, cfg.dropout)
        self.gate = nn.Parameter(torch.zeros(cfg.dim))

    def forward(
        self, own: torch.Tensor, other: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor | None
    ) -> torch.Tensor:
        q = self.qkv.queries(own, rope)  # (b, h, n, dh)
        k, v = self.qkv.keys_values(other, rope)  # (b, h, n, dh) each
        return self.gate * self.out(attend(q, k, v, mask))  # (b, n, d)


class FusionBlock(nn.Module):
    """Audio-visual fusion block: two streams with separate weights, exchanging information per ``cfg.fusion``."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.fusion = cfg.fusion
        self.audio = _StreamWeights(cfg)
        self.visual = _StreamWeights(cfg)
        if cfg.fusion == "cross_attention":
            self.audio_cross = _CrossAttention(cfg)
            self.visual_cross = _CrossAttention(cfg)
        elif cfg.fusion == "linear":
            self.audio_mix = nn.Linear(2 * cfg.dim, cfg.dim)
            self.visual_mix = nn.Linear(2 * cfg.dim, cfg.dim)
            for mix in (self.audio_mix, self.visual_mix):  # start as "own features only"
                nn.init.zeros_(mix.weight)
                nn.init.zeros_(mix.bias)
                mix.weight.data[:, : cfg.dim] = torch.eye(cfg.dim)

    def forward(
        self,
        audio: torch.Tensor,
        visual: torch.Tensor,
        t_emb: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n = audio.shape[1]
        h_a, gate_a, shift_mlp_a, scale_mlp_a, gate_mlp_a = self.audio.attn_norm(audio, t_emb)  # h_a: (b, n, d)
        h_v, gate_v, shift_mlp_v, scale_mlp_v, gate_mlp_v = self.visual.attn_norm(visual, t_emb)  # h_v: (b, n, d)

        if self.fusion == "add":
            h_a, h_v = h_a + h_v, h_v + h_a
        elif self.fusion == "linear":
            both = torch.cat([h_a, h_v], dim=-1)  # (b, n, 2d)
            h_a, h_v = self.audio_mix(both), self.visual_mix(torch.cat([h_v, h_a], dim=-1))  # (b, n, d) each

        q_a, k_a, v_a = self.audio.qkv(h_a, rope)  # (b, h, n, dh) each
        q_v, k_v, v_v = self.visual.qkv(h_v, rope)  # (b, h, n, dh) each
        if self.fusion == "mm_attention":
            joint_mask = None if mask is None else torch.cat([mask, mask], dim=1)  # (b, 2n)
            joint = attend(
                torch.cat([q_a, q_v], dim=2), torch.cat([k_a, k_v], dim=2), torch.cat([v_a, v_v], dim=2), joint_mask
            )  # (b, h, 2n, dh)
            out_a, out_v = joint[:, :, :n], joint[:, :, n:]  # (b, h, n, dh) each
        else:
            out_a = attend(q_a, k_a, v_a, mask)  # (b, h, n, dh)
            out_v = attend(q_v, k_v, v_v, mask)  # (b, h, n, dh)
        attn_a = self.audio.attn_out(out_a)  # (b, n, d)
        attn_v = self.visual.attn_out(out_v)  # (b, n, d)
        if self.fusion == "cross_attention":
            attn_a = attn_a + self.audio_cross(h_a, h_v, rope, mask)
            attn_v = attn_v + self.visual_cross(h_v, h_a, rope, mask)

        audio = self.audio.feed_forward(audio + gate_a * attn_a, shift_mlp_a, scale_mlp_a, gate_mlp_a)  # (b, n, d)
        visual = self.visual.feed_forward(visual + gate_v * attn_v, shift_mlp_v, scale_mlp_v, gate_mlp_v)  # (b, n, d)
        return audio, visual
