"""Multi-condition classifier-free guidance (SPEC §5, our reading of the paper's Eq. 4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

CFG_MODES = ("full", "two_pass", "none")


@dataclass(frozen=True)
class GuidanceWeights:
    """α_T (text), α_A (reference audio), α_V (reference visual); paper: 2.0 / 2.0 / 2.5."""

    text: float = 2.0
    audio: float = 2.0
    visual: float = 2.5


def combine_guidance(
    v_null: torch.Tensor, v_t: torch.Tensor, v_ta: torch.Tensor, v_tav: torch.Tensor, w: GuidanceWeights
) -> torch.Tensor:
    """v = v(∅) + α_T·[v(T) − v(∅)] + α_A·[v(T,A) − v(T)] + α_V·[v(T,A,V) − v(T,A)]; all α = 1 gives v(T,A,V)."""
    return v_null + w.text * (v_t - v_null) + w.audio * (v_ta - v_t) + w.visual * (v_tav - v_ta)


# Which conditions each guidance branch drops: (text, audio, visual), in the batch order used by the sampler.
FULL_BRANCHES = ((True, True, True), (False, True, True), (False, False, True), (False, False, False))
TWO_PASS_BRANCHES = ((True, True, True), (False, False, False))
