"""Sampling audio and visual codes from the trained DiT: noise -> ODE -> guided velocity -> reference pasted back."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from omnitalker.flow.guidance import (
    CFG_MODES,
    FULL_BRANCHES,
    TWO_PASS_BRANCHES,
    GuidanceWeights,
    combine_guidance,
)
from omnitalker.flow.masking import lengths_to_mask
from omnitalker.flow.ode import State, integrate
from omnitalker.flow.timesteps import time_grid
from omnitalker.models.dit import OmniTalkerDiT


@dataclass(frozen=True)
class SamplerConfig:
    steps: int = 16
    method: str = "euler"
    grid: str = "sway"
    sway_coef: float = -1.0
    cfg_mode: str = "full"  # "full" (4 branches), "two_pass" (∅ and all), "none"
    guidance: GuidanceWeights = field(default_factory=GuidanceWeights)
    two_pass_strength: float = 2.0

    def __post_init__(self) -> None:
        if self.cfg_mode not in CFG_MODES:
            raise ValueError(f"unknown cfg_mode {self.cfg_mode!r}; choose one of {CFG_MODES}")

    @classmethod
    def from_dict(cls, values: dict) -> SamplerConfig:
        values = dict(values)
        if "guidance" in values and not isinstance(values["guidance"], GuidanceWeights):
            values["guidance"] = GuidanceWeights(**values["guidance"])
        return cls(**values)


@dataclass(frozen=True)
class GuidanceBatch:
    """Conditioning of all guidance branches, stacked branch-major: (k*b, ...) tensors and per-row drop flags."""

    num_branches: int
    context_audio: torch.Tensor  # (k*b, n, 100)
    context_visual: torch.Tensor  # (k*b, n, 61)
    text_emb: torch.Tensor  # (k*b, n, text_dim)
    mask: torch.Tensor | None  # (k*b, n), None when no sample is padded (known on the host: see FlowSampler.sample)
    drop_text: torch.Tensor  # (k*b,)
    drop_audio: torch.Tensor  # (k*b,)
    drop_visual: torch.Tensor  # (k*b,)


def per_sample_noise(
    lengths: torch.Tensor, n: int, dim: int, seeds: list[int], device: torch.device
) -> torch.Tensor:
    """(b, n, dim) Gaussian noise where each sample depends only on its own seed and length (not the batch)."""
    out = torch.zeros(len(seeds), n, dim, device=device)
    for i, (seed, length) in enumerate(zip(seeds, lengths.tolist())):
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        out[i, :length] = torch.randn(length, dim, generator=gen).to(device)
    return out


class FlowSampler:
    """Generates the masked part of (mel, visual code) sequences given the visible reference and the text."""

    def __init__(self, model: OmniTalkerDiT, cfg: SamplerConfig = SamplerConfig()) -> None:
        self.model = model
        self.cfg = cfg

    def prepare_branches(
        self,
        context_audio: torch.Tensor,
        context_visual: torch.Tensor,
        text_emb: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> GuidanceBatch:
        """The conditioning of every guidance branch stacked into one batch; constant over the ODE steps, so it is
        built once per sampling call."""
        b = context_audio.shape[0]
        branches = {"full": FULL_BRANCHES, "two_pass": TWO_PASS_BRANCHES, "none": ((False, False, False),)}[
            self.cfg.cfg_mode
        ]
        k = len(branches)
        flags = torch.tensor(branches, device=context_audio.device).repeat_interleave(b, dim=0)  # (k*b, 3)
        rep = lambda x: x.repeat(k, *([1] * (x.dim() - 1))) if x is not None else None  # noqa: E731
        return GuidanceBatch(
            k, rep(context_audio), rep(context_visual), rep(text_emb), rep(mask), flags[:, 0], flags[:, 1], flags[:, 2]
        )

    def guided_velocity(self, state: State, t: torch.Tensor, branches: GuidanceBatch) -> State:
        """One guided velocity evaluation; all guidance branches run as one batched forward pass."""
        cfg = self.cfg
        x_audio, x_visual = state
        k = branches.num_branches
        v_audio, v_visual = self.model(
            x_audio.repeat(k, 1, 1),
            branches.context_audio,
            x_visual.repeat(k, 1, 1),
            branches.context_visual,
            t.expand(k * x_audio.shape[0]),
            text_emb=branches.text_emb,
            mask=branches.mask,
            padded=branches.mask is not None,  # decided once per call: no read-back of the mask at every step
            drop_text=branches.drop_text,
            drop_audio=branches.drop_audio,
            drop_visual=branches.drop_visual,
        )  # (k*b, n, 100), (k*b, n, 61)
        va, vv = v_audio.chunk(k), v_visual.chunk(k)
        if cfg.cfg_mode == "full":
            w = cfg.guidance
            return combine_guidance(*va, w), combine_guidance(*vv, w)
        if cfg.cfg_mode == "two_pass":
            s = cfg.two_pass_strength
            return va[0] + s * (va[1] - va[0]), vv[0] + s * (vv[1] - vv[0])
        return va[0], vv[0]

    @torch.no_grad()
    def sample(
        self,
        context_audio: torch.Tensor,
        context_visual: torch.Tensor,
        reference_lengths: torch.Tensor,
        total_lengths: torch.Tensor,
        text: torch.Tensor,
        seeds: list[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (mel (b, n, 100), codes (b, n, 61)) for the whole sequence, reference frames pasted back.

        ``context_*`` hold the reference in frames [0, reference_lengths) (anything after is ignored);
        ``total_lengths`` = reference + generated frames per sample; ``text`` = reference transcript followed by the
        text to speak, as ids padded with -1. Padding frames of the output are zero.
        """
        cfg = self.cfg
        b, n, _ = context_audio.shape
        device = context_audio.device
        if bool((reference_lengths >= total_lengths).any()) or bool((reference_lengths < 0).any()):
            raise ValueError("each sample must generate at least one frame: need 0 <= reference_length < total_length")
        if int(total_lengths.max()) > n:
            raise ValueError(f"total length {int(total_lengths.max())} exceeds the context length {n}")
        valid = lengths_to_mask(total_lengths, n)  # (b, n)
        reference = lengths_to_mask(reference_lengths, n)  # (b, n)
        context_audio = context_audio.masked_fill(~reference[..., None], 0.0)  # (b, n, 100)
        context_visual = context_visual.masked_fill(~reference[..., None], 0.0)  # (b, n, 61)
        seeds = list(range(b)) if seeds is None else seeds
        x0 = (
            per_sample_noise(total_lengths, n, context_audio.shape[-1], seeds, device),  # (b, n, 100)
            per_sample_noise(total_lengths, n, context_visual.shape[-1], [s + 7919 for s in seeds], device),
        )
        # The one read-back of the call: whether any sample is padded. Each ODE step then tells the DiT (padded=),
        # which skips its own per-forward checks of the mask (every sample has a valid frame: checked above).
        mask = None if bool(valid.all()) else valid
        text_emb = self.model.encode_text(text, n, mask=mask)  # (b, n, text_dim), once per call, not per step

        branches = self.prepare_branches(context_audio, context_visual, text_emb, mask)

        def velocity(state: State, t: torch.Tensor) -> State:
            return self.guided_velocity(state, t, branches)

        grid = time_grid(cfg.steps, cfg.grid, cfg.sway_coef, device)
        audio, visual = integrate(velocity, x0, grid, cfg.method)
        audio = torch.where(reference[..., None], context_audio, audio).masked_fill(~valid[..., None], 0.0)
        visual = torch.where(reference[..., None], context_visual, visual).masked_fill(~valid[..., None], 0.0)
        return audio, visual
