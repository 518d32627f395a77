"""Flow-matching regression loss on masked, non-padded frames, weighted per part of the two streams (paper Eq. 3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from omnitalker.constants import EXPRESSION_SLICE, EYE_SLICE, POSE_SLICE


@dataclass(frozen=True)
class PartWeights:
    """Loss weight per part (SPEC §4: mel 0.1, expression 3.0, head pose 0.5, eye 0.5)."""

    mel: float = 0.1
    expression: float = 3.0
    pose: float = 0.5
    eye: float = 0.5


VISUAL_PARTS = {"expression": EXPRESSION_SLICE, "pose": POSE_SLICE, "eye": EYE_SLICE}


def masked_flow_loss(
    pred_audio: torch.Tensor,
    pred_visual: torch.Tensor,
    target_audio: torch.Tensor,
    target_visual: torch.Tensor,
    loss_mask: torch.Tensor,
    weights: PartWeights = PartWeights(),
    kind: str = "l1",
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """Returns (weighted total, per-part batch means, per-sample weighted loss (b,)).

    Each part's loss is the mean elementwise error over the frames where ``loss_mask`` (b, n) is True; frames outside
    it (the visible context and the padding) contribute nothing, whatever their values.
    """
    if kind == "l1":
        err_fn = lambda a, b: (a - b).abs()
    elif kind == "mse":
        err_fn = lambda a, b: (a - b).square()
    else:
        raise ValueError(f"unknown loss {kind!r}; choose 'l1' or 'mse'")
    # The frame counts are exact integers in float32 (up to 2**24 frames); in bf16 (what the predictions are under
    # autocast) every count above 256 would be rounded, mis-weighting each sample by up to 0.4 %.
    m = loss_mask.to(torch.float32)[..., None]  # (b, n, 1)
    frames = m.sum(dim=(1, 2)).clamp(min=1)  # (b,) masked frames per sample, float32
    total_frames = frames.sum()

    def part(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Zero the unused frames before the error so NaN/inf garbage in padding cannot leak through 0 * nan.
        keep = m.bool()  # (b, n, 1)
        err = err_fn(torch.where(keep, pred.float(), 0.0), torch.where(keep, target.float(), 0.0))
        per_sample = err.sum(dim=(1, 2))  # (b,)
        dims = pred.shape[-1]
        return per_sample.sum() / (total_frames * dims), per_sample / (frames * dims)

    parts: dict[str, torch.Tensor] = {}
    per_sample_total = torch.zeros_like(frames, dtype=torch.float32)
    mel, mel_ps = part(pred_audio, target_audio)
    parts["mel"] = mel
    per_sample_total = per_sample_total + weights.mel * mel_ps
    for name, sl in VISUAL_PARTS.items():
        value, ps = part(pred_visual[..., sl], target_visual[..., sl])
        parts[name] = value
        per_sample_total = per_sample_total + getattr(weights, name) * ps
    total = sum(getattr(weights, name) * value for name, value in parts.items())
    return total, parts, per_sample_total
