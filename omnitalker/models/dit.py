"""OmniTalker's dual-branch MM-DiT: fused audio-visual blocks, then audio-only and visual-only blocks.

Predicts the flow-matching velocity of both streams at once. Shapes (b = batch, n = frames at the mel rate 93.75 Hz):
noisy/context audio (b, n, 100), noisy/context visual (b, n, 61), text ids (b, l) padded with -1, time (b,),
frame mask (b, n) True on valid frames.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from omnitalker.models.adaln import AdaLayerNormFinal
from omnitalker.models.blocks import DiTBlock, FusionBlock
from omnitalker.models.config import DiTConfig
from omnitalker.models.embeddings import StreamInputEmbedding, TimestepEmbedding
from omnitalker.models.rope import RotaryEmbedding
from omnitalker.models.text_encoder import TextEncoder


class OmniTalkerDiT(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.time_embed = TimestepEmbedding(cfg.dim)
        self.text_encoder = TextEncoder(
            cfg.text_vocab_size, cfg.text_dim, cfg.text_conv_layers, cfg.text_ff_mult, cfg.text_max_positions
        )
        self.audio_in = StreamInputEmbedding(cfg.mel_dim, cfg.text_dim, cfg.dim, cfg.conv_pos_kernel, cfg.conv_pos_groups)
        self.visual_in = StreamInputEmbedding(
            cfg.code_dim, cfg.text_dim, cfg.dim, cfg.conv_pos_kernel, cfg.conv_pos_groups
        )
        self.rotary = RotaryEmbedding(cfg.dim_head)
        self.fusion_blocks = nn.ModuleList(FusionBlock(cfg) for _ in range(cfg.fusion_depth))
        self.audio_blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.audio_depth))
        self.visual_blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.visual_depth))
        self.audio_norm_out = AdaLayerNormFinal(cfg.dim)
        self.audio_proj_out = nn.Linear(cfg.dim, cfg.mel_dim)
        self.visual_norm_out = AdaLayerNormFinal(cfg.dim)
        self.visual_proj_out = nn.Linear(cfg.dim, cfg.code_dim)
        for head in (self.audio_proj_out, self.visual_proj_out):  # zero-init: the untrained model predicts v = 0
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.set_value_checks(True)

    def set_value_checks(self, enabled: bool) -> None:
        """Checks of input *values* (every sample has a valid frame, text ids in the vocabulary) read tensors back
        from the device, which stalls a GPU step; training turns them off because its data was checked where it was
        made (collate, vocabulary). Shape checks always run: they cost nothing."""
        self.check_values = bool(enabled)
        self.text_encoder.check_values = bool(enabled)

    def encode_text(
        self,
        text: torch.Tensor,
        seq_len: int,
        drop_text: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Text ids (b, l) -> (b, seq_len, text_dim); computed once per sampling call and reused at every step."""
        return self.text_encoder(text, seq_len, drop_text, mask)

    def forward(
        self,
        noisy_audio: torch.Tensor,
        context_audio: torch.Tensor,
        noisy_visual: torch.Tensor,
        context_visual: torch.Tensor,
        time: torch.Tensor | float,
        text: torch.Tensor | None = None,
        *,
        text_emb: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        padded: bool | None = None,
        drop_text: torch.Tensor | None = None,
        drop_audio: torch.Tensor | None = None,
        drop_visual: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocities (b, n, 100) and (b, n, 61).

        ``padded``: whether ``mask`` has any False frame, when the caller knows it from host-side lengths (False lets
        attention run unmasked); None reads it from the mask (a device read-back). A caller passing it vouches for
        the lengths it came from, so the per-forward value check of the mask is skipped too.

        ``drop_*`` are per-sample booleans (b,): a dropped condition reaches the network in its null form (text as
        all-filler tokens, reference audio/visual context as zeros). Pass either ``text`` ids or a precomputed
        ``text_emb`` from :meth:`encode_text` (whose dropping was already applied there).
        """
        b, n = self._check_inputs(noisy_audio, context_audio, noisy_visual, context_visual, text, text_emb,
                                  mask, check_values=self.check_values and padded is None)
        time = torch.as_tensor(time, device=noisy_audio.device, dtype=torch.float32)
        time = time.expand(b) if time.dim() == 0 else time  # (b,)
        if drop_audio is not None:
            context_audio = context_audio.masked_fill(drop_audio[:, None, None], 0.0)  # (b, n, 100)
        if drop_visual is not None:
            context_visual = context_visual.masked_fill(drop_visual[:, None, None], 0.0)  # (b, n, 61)
        if text_emb is None:
            text_emb = self.encode_text(text, n, drop_text, mask)  # (b, n, text_dim)
        elif drop_text is not None:
            text_emb = text_emb.masked_fill(drop_text[:, None, None], 0.0)
        if mask is not None and not (padded if padded is not None else not bool(mask.all())):
            mask = None  # no padding: let SDPA pick its fastest kernel

        t_emb = self.time_embed(time)  # (b, d)
        audio = self.audio_in(noisy_audio, context_audio, text_emb, mask)  # (b, n, d)
        visual = self.visual_in(noisy_visual, context_visual, text_emb, mask)  # (b, n, d)
        rope = self.rotary(n)  # (cos, sin) (n, dh): the same positions 0..n-1 for both streams

        for block in self.fusion_blocks:
            audio, visual = self._run(block, audio, visual, t_emb, rope, mask)
        for block in self.audio_blocks:
            audio = self._run(block, audio, t_emb, rope, mask)
        for block in self.visual_blocks:
            visual = self._run(block, visual, t_emb, rope, mask)

        v_audio = self.audio_proj_out(self.audio_norm_out(audio, t_emb))  # (b, n, 100)
        v_visual = self.visual_proj_out(self.visual_norm_out(visual, t_emb))  # (b, n, 61)
        return v_audio, v_visual

    def _run(self, block: nn.Module, *args: torch.Tensor | None):
        if self.cfg.checkpoint_activations and self.training:
            return checkpoint(block, *args, use_reentrant=False)
        return block(*args)

    def _check_inputs(
        self,
        noisy_audio: torch.Tensor,
        context_audio: torch.Tensor,
        noisy_visual: torch.Tensor,
        context_visual: torch.Tensor,
        text: torch.Tensor | None,
        text_emb: torch.Tensor | None,
        mask: torch.Tensor | None,
        check_values: bool = True,
    ) -> tuple[int, int]:
        cfg = self.cfg
        if noisy_audio.dim() != 3:
            raise ValueError(f"noisy_audio must be (batch, frames, {cfg.mel_dim}), got {tuple(noisy_audio.shape)}")
        b, n, _ = noisy_audio.shape
        expected = {
            "noisy_audio": (noisy_audio, (b, n, cfg.mel_dim)),
            "context_audio": (context_audio, (b, n, cfg.mel_dim)),
            "noisy_visual": (noisy_visual, (b, n, cfg.code_dim)),
            "context_visual": (context_visual, (b, n, cfg.code_dim)),
        }
        if text_emb is not None:
            expected["text_emb"] = (text_emb, (b, n, cfg.text_dim))
        if mask is not None:
            expected["mask"] = (mask, (b, n))
        for name, (tensor, shape) in expected.items():
            if tuple(tensor.shape) != shape:
                raise ValueError(f"{name} must have shape {shape} (batch, frames, dim), got {tuple(tensor.shape)}")
        if (text is None) == (text_emb is None):
            raise ValueError("pass exactly one of `text` (token ids) or `text_emb` (from encode_text)")
        if text is not None and (text.dim() != 2 or text.shape[0] != b):
            raise ValueError(f"text ids must be (batch={b}, tokens), got {tuple(text.shape)}")
        if mask is not None and mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
        if mask is not None and check_values and not bool(mask.any(dim=1).all()):
            raise ValueError("every sample needs at least one valid frame in `mask`")
        return b, n


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def parameter_breakdown(model: OmniTalkerDiT) -> dict[str, int]:
    """Parameters per component, for budgeting and for the paper's ~0.8B check."""
    parts = {
        "text_encoder": model.text_encoder,
        "time_embed": model.time_embed,
        "audio_input": model.audio_in,
        "visual_input": model.visual_in,
        "fusion_blocks": model.fusion_blocks,
        "audio_blocks": model.audio_blocks,
        "visual_blocks": model.visual_blocks,
        "output_heads": nn.ModuleList(
            [model.audio_norm_out, model.audio_proj_out, model.visual_norm_out, model.visual_proj_out]
        ),
    }
    counts = {name: count_parameters(module) for name, module in parts.items()}
    counts["total"] = count_parameters(model)
    return counts
