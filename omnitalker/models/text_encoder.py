"""ConvNeXt-V2 text encoder: token ids padded to the frame count -> (b, n, text_dim) features (F5-TTS v1 design)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from omnitalker.models.embeddings import sinusoidal_positions


class GlobalResponseNorm(nn.Module):
    """GRN of ConvNeXt-V2: channel re-weighting by the L2 energy over time; identity at init."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        if valid is not None:  # the energy is a sum over time: padded frames must not contribute
            x = x.masked_fill(~valid[..., None], 0.0)  # (b, n, d)
        energy = torch.norm(x, p=2, dim=1, keepdim=True)  # (b, 1, d)
        normed = energy / (energy.mean(dim=-1, keepdim=True) + 1e-6)  # (b, 1, d)
        return self.gamma * (x * normed) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    def __init__(self, dim: int, hidden_dim: int, kernel_size: int = 7) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, hidden_dim)
        self.grn = GlobalResponseNorm(hidden_dim)
        self.pwconv2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        h = self.dwconv(x.transpose(1, 2)).transpose(1, 2)  # (b, n, d)
        h = self.pwconv2(self.grn(F.gelu(self.pwconv1(self.norm(h))), valid))  # (b, n, d)
        return x + h


class TextEncoder(nn.Module):
    """Token ids -> per-frame text features.

    Input ids use -1 for padding; they are shifted by +1 so that 0 is the filler token, truncated or filler-padded to
    the frame count ``seq_len``. Filler positions are zero before and after every block, which keeps the features of a
    sample independent of how much padding its batch has.
    """

    def __init__(self, vocab_size: int, dim: int, num_blocks: int, ff_mult: int, max_positions: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size + 1, dim)  # row 0 = filler
        self.register_buffer("positions", sinusoidal_positions(max_positions, dim), persistent=False)
        self.blocks = nn.ModuleList(ConvNeXtV2Block(dim, dim * ff_mult) for _ in range(num_blocks))
        self.check_values = True  # the id-range check reads back from the device; see OmniTalkerDiT.set_value_checks

    def forward(
        self, text: torch.Tensor, seq_len: int, drop: torch.Tensor | None = None, valid: torch.Tensor | None = None
    ) -> torch.Tensor:
        """ids (b, l) -> (b, seq_len, dim); ``valid`` (b, seq_len) marks non-padded frames, ``drop`` (b,) drops text."""
        if text.dim() != 2:
            raise ValueError(f"text ids must be (batch, tokens), got shape {tuple(text.shape)}")
        if seq_len > self.positions.shape[0]:
            raise ValueError(f"sequence of {seq_len} frames exceeds text_max_positions={self.positions.shape[0]}")
        if (self.check_values and text.numel() and text.device.type != "meta"
                and (text.max() >= self.vocab_size or text.min() < -1)):
            raise ValueError(
                f"text ids must lie in [-1, {self.vocab_size - 1}] (vocabulary of {self.vocab_size}); "
                f"got range [{int(text.min())}, {int(text.max())}] — is the checkpoint's vocabulary the one used?"
            )
        ids = (text + 1)[:, :seq_len]  # (b, <=n), 0 = filler
        ids = F.pad(ids, (0, seq_len - ids.shape[1]), value=0)  # (b, n)
        if drop is not None:
            ids = ids.masked_fill(drop[:, None], 0)  # dropped text = all filler
        filler = ids == 0  # (b, n)
        h = self.embed(ids) + self.positions[:seq_len].to(self.embed.weight.dtype)  # (b, n, d)
        h = h.masked_fill(filler[..., None], 0.0)
        for block in self.blocks:
            h = block(h, valid).masked_fill(filler[..., None], 0.0)  # (b, n, d)
        return h
