"""Per-sample condition dropout for multi-condition classifier-free guidance."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ConditionDrop:
    """(b,) booleans; True = that condition reaches the network in its null form for that sample."""

    text: torch.Tensor
    audio: torch.Tensor
    visual: torch.Tensor


def sample_condition_drop(
    batch: int,
    p_text: float,
    p_audio: float,
    p_visual: float,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> ConditionDrop:
    """Each condition of each sample is dropped independently with its own probability (SPEC §4: p = 0.2 each)."""
    for name, p in (("text", p_text), ("audio", p_audio), ("visual", p_visual)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"drop probability for {name} must be in [0, 1], got {p}")
    u = torch.rand(3, batch, device=device, generator=generator)  # (3, b)
    return ConditionDrop(text=u[0] < p_text, audio=u[1] < p_audio, visual=u[2] < p_visual)
