"""Forward-pass FLOPs of the DiT: an analytic formula and a measured count, so users can budget GPUs.

Formula (b = batch, n = frames, one forward, multiply-add = 2 FLOPs):
    FLOPs ≈ 2·b·n·P_token + 2·b·P_sample + A
where P_token counts the weights applied at every frame (every Linear/Conv1d except the per-sample timestep MLP and
AdaLN modulations, which make up P_sample; a 'same'-padded conv applies all its weights at each frame) and A is the
attention matmuls
(QKᵀ and AV): per MM-attention fusion block 2·2·b·(2n)²·inner, per single-stream or per-stream self-attention
2·2·b·n²·inner (inner = heads·dim_head; a cross-attention adds another 2·2·b·n²·inner per stream).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from omnitalker.models.adaln import AdaLayerNormFinal, AdaLayerNormZero
from omnitalker.models.dit import OmniTalkerDiT
from omnitalker.models.embeddings import TimestepEmbedding


def weight_counts(model: OmniTalkerDiT) -> tuple[int, int]:
    """(P_token, P_sample): matmul weights applied per frame and once per sample."""
    per_sample: set[int] = set()
    for module in model.modules():
        if isinstance(module, (TimestepEmbedding, AdaLayerNormZero, AdaLayerNormFinal)):
            per_sample.update(id(m) for m in module.modules())
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d))]
    p_token = sum(m.weight.numel() for m in layers if id(m) not in per_sample)
    p_sample = sum(m.weight.numel() for m in layers if id(m) in per_sample)
    return p_token, p_sample


def analytic_forward_flops(model: OmniTalkerDiT, frames: int, batch: int = 1) -> int:
    cfg = model.cfg
    b, n, inner = batch, frames, cfg.inner_dim
    attn = 0
    for _ in range(cfg.fusion_depth):
        if cfg.fusion == "mm_attention":
            attn += 4 * b * (2 * n) ** 2 * inner
        else:
            attn += 2 * 4 * b * n**2 * inner
            if cfg.fusion == "cross_attention":
                attn += 2 * 4 * b * n**2 * inner
    attn += (cfg.audio_depth + cfg.visual_depth) * 4 * b * n**2 * inner
    p_token, p_sample = weight_counts(model)
    return 2 * b * n * p_token + 2 * b * p_sample + attn


def counted_forward_flops(model: OmniTalkerDiT, frames: int, batch: int = 1, vocab_tokens: int = 64) -> int:
    """FLOPs counted by torch's FlopCounterMode on the meta device (no memory, no compute)."""
    cfg = model.cfg
    device = next(model.parameters()).device
    shape_a, shape_v = (batch, frames, cfg.mel_dim), (batch, frames, cfg.code_dim)
    args = (
        torch.zeros(shape_a, device=device),
        torch.zeros(shape_a, device=device),
        torch.zeros(shape_v, device=device),
        torch.zeros(shape_v, device=device),
        torch.zeros(batch, device=device),
        torch.zeros(batch, min(vocab_tokens, frames), dtype=torch.long, device=device),
    )
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(*args)
    return counter.get_total_flops()
