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
    p_all: float = 0.0,
) -> ConditionDrop:
    """Which conditions each sample loses (SPEC §4: each of text, audio, visual independently with p = 0.2).

    ``p_all`` adds a joint drop: with that probability a sample loses all three conditions together, otherwise the
    independent draws apply. So P(all dropped) = p_all + (1 − p_all)·p_text·p_audio·p_visual (0.8 % with the paper's
    0.2 each and p_all = 0, which is the only training signal for the guidance's unconditional branch v(∅)), and
    each condition's marginal drop rate is p_all + (1 − p_all)·p.
    """
    for name, p in (("text", p_text), ("audio", p_audio), ("visual", p_visual), ("all", p_all)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"drop probability for {name} must be in [0, 1], got {p}")
    u = torch.rand(3, batch, device=device, generator=generator)  # (3, b)
    if p_all > 0:  # drawn only when used, so p_all = 0 consumes the generator exactly as before
        joint = torch.rand(batch, device=device, generator=generator) < p_all  # (b,)
    else:
        joint = torch.zeros(batch, dtype=torch.bool, device=device)
    return ConditionDrop(text=(u[0] < p_text) | joint, audio=(u[1] < p_audio) | joint,
                         visual=(u[2] < p_visual) | joint)
