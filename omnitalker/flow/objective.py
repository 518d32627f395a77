"""Masked-infilling conditional flow matching on the joint (mel, visual code) sequence (SPEC §4).

Which frames are generated: a single clip gets the paper's random span (70–100 % of its frames); a reference +
target pair from one source video (``ref_lengths > 0``) is masked exactly on its target with probability
``paired_target_prob`` (default 1) — the inference case, reference fully visible — and otherwise gets the same random
span over the whole concatenation. How many items are pairs is the dataset's choice (``data.pairing``/``pair_prob``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from omnitalker.constants import MEL_FPS
from omnitalker.flow.dropout import sample_condition_drop
from omnitalker.flow.host_lengths import HostLengths
from omnitalker.flow.loss import PartWeights, masked_flow_loss
from omnitalker.flow.masking import lengths_to_mask, span_mask, target_mask
from omnitalker.flow.timesteps import sample_time
from omnitalker.models.dit import OmniTalkerDiT


@dataclass(frozen=True)
class ObjectiveConfig:
    mask_frac: tuple[float, float] = (0.7, 1.0)
    num_spans: int = 1
    time_sampler: str = "logit_normal"
    time_mean: float = 0.0
    time_std: float = 1.0
    loss: str = "l1"
    weights: PartWeights = field(default_factory=PartWeights)
    drop_text: float = 0.2
    drop_audio: float = 0.2
    drop_visual: float = 0.2
    drop_all: float = 0.0  # joint drop of all three conditions (trains v(∅) beyond the 0.8 % of independent drops)
    paired_target_prob: float = 1.0  # paired items masked exactly on their target; the rest get the random span
    ref_tail_prob: float = 0.0  # a target-masked item also masks the reference's tail with this probability
    ref_tail_max_s: float = 0.5  # the longest reference tail masked (uniform 1 frame .. this; <= half the reference)

    def __post_init__(self) -> None:
        for name in ("paired_target_prob", "ref_tail_prob", "drop_all"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"objective.{name} must be in [0, 1], got {value}")
        if self.ref_tail_max_s < 0:
            raise ValueError(f"objective.ref_tail_max_s must be >= 0, got {self.ref_tail_max_s}")

    @classmethod
    def from_dict(cls, values: dict) -> ObjectiveConfig:
        values = dict(values)
        if "weights" in values and not isinstance(values["weights"], PartWeights):
            values["weights"] = PartWeights(**values["weights"])
        if "mask_frac" in values:
            values["mask_frac"] = tuple(values["mask_frac"])
        return cls(**values)


@dataclass
class FlowLossOutput:
    loss: torch.Tensor  # scalar, weighted sum of the parts
    parts: dict[str, torch.Tensor]  # mel / expression / pose / eye
    per_sample: torch.Tensor  # (b,) weighted loss per sample (for loss-by-t diagnostics)
    time: torch.Tensor  # (b,) the t drawn for each sample
    loss_mask: torch.Tensor  # (b, n) frames that counted


class FlowMatchingObjective:
    """x_t = (1 − t)·x0 + t·x1 with x0 ~ N(0, I) and target velocity x1 − x0, same t and mask for both streams.

    The context given to the network is the ground truth outside the infilling span and zeros inside it; the loss
    counts only masked, non-padded frames. Text, reference audio and reference visual are each dropped per sample
    (and all together with ``drop_all``). ``ref_lengths`` (b,) marks paired items (0 = single clip).
    """

    def __init__(self, cfg: ObjectiveConfig = ObjectiveConfig()) -> None:
        self.cfg = cfg

    def infill_mask(
        self,
        lengths: torch.Tensor,
        ref_lengths: torch.Tensor | None,
        max_len: int,
        generator: torch.Generator | None = None,
        host: HostLengths | None = None,
    ) -> torch.Tensor:
        """(b, n) True = generated: the target of paired items (see the module docstring), a random span otherwise.

        ``host``: the same lengths as Python ints (already checked); with it nothing is read back from the device.
        """
        cfg = self.cfg
        checked = host is not None
        span = span_mask(lengths, cfg.mask_frac, cfg.num_spans, max_len, generator, check_values=not checked)  # (b, n)
        if ref_lengths is None:
            return span
        ref_lengths = ref_lengths.to(lengths.device)
        paired = ref_lengths > 0  # (b,)
        any_paired = host.any_paired if checked else bool(paired.any())
        if not any_paired or cfg.paired_target_prob == 0:
            return span  # nothing else drawn: single-clip batches consume the generator as before
        use_target = paired & (torch.rand(lengths.shape[0], generator=generator, device=lengths.device)
                               < cfg.paired_target_prob)  # (b,)
        target = target_mask(lengths, ref_lengths, max_len, cfg.ref_tail_prob,
                             round(cfg.ref_tail_max_s * MEL_FPS), generator, check_values=not checked)  # (b, n)
        return torch.where(use_target[:, None], target, span)

    def __call__(
        self,
        model: OmniTalkerDiT,
        mel: torch.Tensor,
        codes: torch.Tensor,
        text: torch.Tensor,
        lengths: torch.Tensor,
        generator: torch.Generator | None = None,
        ref_lengths: torch.Tensor | None = None,
        host: HostLengths | None = None,
    ) -> FlowLossOutput:
        """``host``: ``lengths``/``ref_lengths`` as Python ints (the collate function has them for free); without it
        they are read back from the device once. The padding and pairing decisions are taken from them, so the step
        itself never waits for the device."""
        cfg = self.cfg
        if mel.dim() != 3 or codes.dim() != 3 or mel.shape[:2] != codes.shape[:2]:
            raise ValueError(
                f"mel (b, n, 100) and codes (b, n, 61) must share batch and frame axes, got "
                f"{tuple(mel.shape)} and {tuple(codes.shape)}"
            )
        b, n, _ = mel.shape
        if host is None:
            host = HostLengths.from_tensors(lengths, ref_lengths)
        if len(host.lengths) != b or host.longest > n:
            raise ValueError(f"lengths {list(host.lengths)} do not fit a batch of {b} items x {n} frames")
        device = mel.device
        valid = lengths_to_mask(lengths, n)  # (b, n)
        infill = self.infill_mask(lengths, ref_lengths, n, generator, host)  # (b, n) True = generate

        t = sample_time(b, cfg.time_sampler, cfg.time_mean, cfg.time_std, device, generator)  # (b,)
        noise_a = torch.randn(mel.shape, device=device, generator=generator)  # (b, n, 100)
        noise_v = torch.randn(codes.shape, device=device, generator=generator)  # (b, n, 61)
        tt = t[:, None, None]
        noisy_a = (1 - tt) * noise_a + tt * mel  # (b, n, 100)
        noisy_v = (1 - tt) * noise_v + tt * codes  # (b, n, 61)
        context_a = mel.masked_fill(infill[..., None], 0.0)  # (b, n, 100)
        context_v = codes.masked_fill(infill[..., None], 0.0)  # (b, n, 61)
        drop = sample_condition_drop(b, cfg.drop_text, cfg.drop_audio, cfg.drop_visual, device, generator,
                                     p_all=cfg.drop_all)

        pred_a, pred_v = model(
            noisy_a,
            context_a,
            noisy_v,
            context_v,
            t,
            text,
            mask=valid,
            padded=host.padded(n),
            drop_text=drop.text,
            drop_audio=drop.audio,
            drop_visual=drop.visual,
        )
        loss_mask = infill & valid
        loss, parts, per_sample = masked_flow_loss(
            pred_a, pred_v, mel - noise_a, codes - noise_v, loss_mask, cfg.weights, cfg.loss
        )
        return FlowLossOutput(loss=loss, parts=parts, per_sample=per_sample, time=t, loss_mask=loss_mask)
