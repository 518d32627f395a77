"""Architecture hyper-parameters of the dual-branch MM-DiT (paper Appendix A, Table 5; SPEC §3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from omnitalker.constants import CODE_DIM, N_MELS

FusionKind = Literal["mm_attention", "cross_attention", "add", "linear", "none"]
FUSION_KINDS: tuple[str, ...] = ("mm_attention", "cross_attention", "add", "linear", "none")


@dataclass(frozen=True)
class DiTConfig:
    """Everything needed to build :class:`omnitalker.models.dit.OmniTalkerDiT`.

    The defaults are the paper configuration (~0.8B parameters). ``fusion="none"`` is not a paper variant: it is the
    no-fusion control used by tests and ablations (two independent towers sharing only text and time).
    """

    dim: int = 1024
    fusion_depth: int = 22
    audio_depth: int = 4
    visual_depth: int = 4
    heads: int = 16
    dim_head: int = 64
    ff_mult: int = 2
    dropout: float = 0.1
    text_vocab_size: int = 2545  # symbols in vocab.txt; the embedding has one more row for the filler token
    text_dim: int = 512
    text_conv_layers: int = 4
    text_ff_mult: int = 2
    text_max_positions: int = 8192
    conv_pos_kernel: int = 31
    conv_pos_groups: int = 16
    mel_dim: int = N_MELS
    code_dim: int = CODE_DIM
    fusion: FusionKind = "mm_attention"
    qk_norm: bool = False
    checkpoint_activations: bool = False

    def __post_init__(self) -> None:
        if self.fusion not in FUSION_KINDS:
            raise ValueError(f"unknown fusion strategy {self.fusion!r}; choose one of {FUSION_KINDS}")
        for name in ("dim", "heads", "dim_head", "ff_mult", "text_vocab_size", "text_dim", "mel_dim", "code_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DiTConfig.{name} must be positive, got {getattr(self, name)}")
        for name in ("fusion_depth", "audio_depth", "visual_depth", "text_conv_layers"):
            if getattr(self, name) < 0:
                raise ValueError(f"DiTConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.dim % self.conv_pos_groups:
            raise ValueError(f"dim={self.dim} must be divisible by conv_pos_groups={self.conv_pos_groups}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def inner_dim(self) -> int:
        return self.heads * self.dim_head

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DiTConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown DiTConfig keys: {sorted(unknown)}")
        return cls(**values)
