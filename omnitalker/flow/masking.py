"""Masked-infilling spans: which frames the model must generate (True) and which it sees as context (False)."""

from __future__ import annotations

import torch


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """(b,) lengths -> (b, n) bool, True on valid (non-padded) frames."""
    n = int(lengths.max()) if max_len is None else max_len
    return torch.arange(n, device=lengths.device)[None, :] < lengths[:, None]


def span_mask(
    lengths: torch.Tensor,
    frac_range: tuple[float, float] = (0.7, 1.0),
    num_spans: int = 1,
    max_len: int | None = None,
    generator: torch.Generator | None = None,
    check_values: bool = True,
) -> torch.Tensor:
    """Random infilling mask (b, n): per sample, ``frac`` ~ U(frac_range) of its valid frames are masked.

    With ``num_spans > 1`` the masked frames are split into that many spans at random places, separated by random
    unmasked gaps. At least one frame per sample is always masked; padding is never masked. ``check_values=False``
    skips the check that every length is >= 1 (a device read-back) for callers that checked on the host
    (:class:`~omnitalker.flow.host_lengths.HostLengths`); pass ``max_len`` too, or the longest length is read back.
    """
    lo, hi = frac_range
    if not 0.0 < lo <= hi <= 1.0:
        raise ValueError(f"mask fraction range must satisfy 0 < lo <= hi <= 1, got {frac_range}")
    if num_spans < 1:
        raise ValueError(f"num_spans must be >= 1, got {num_spans}")
    if check_values and bool((lengths < 1).any()):
        raise ValueError("every sample needs at least one valid frame")
    device = lengths.device
    b = lengths.shape[0]
    n = int(lengths.max()) if max_len is None else max_len
    rand = lambda *shape: torch.rand(*shape, generator=generator, device=device)

    length = lengths.float()  # (b,)
    masked = (lo + (hi - lo) * rand(b)) * length  # (b,) frames to mask
    # Split the masked total into num_spans pieces and the unmasked rest into num_spans + 1 gaps.
    span_w = rand(b, num_spans) + 1e-3  # (b, k)
    gap_w = rand(b, num_spans + 1) + 1e-3  # (b, k+1)
    spans = masked[:, None] * span_w / span_w.sum(1, keepdim=True)  # (b, k)
    gaps = (length - masked)[:, None] * gap_w / gap_w.sum(1, keepdim=True)  # (b, k+1)
    # Interleave gap, span, gap, span, ..., gap and take the boundaries.
    pieces = torch.stack([gaps[:, :-1], spans], dim=-1).flatten(1)  # (b, 2k)
    bounds = torch.cumsum(pieces, dim=1).round().long()  # (b, 2k): end of gap_j, end of span_j
    starts, ends = bounds[:, 0::2], bounds[:, 1::2]  # (b, k) each
    frames = torch.arange(n, device=device)[None, :, None]  # (1, n, 1)
    mask = ((frames >= starts[:, None]) & (frames < ends[:, None])).any(-1)  # (b, n)
    mask &= lengths_to_mask(lengths, n)
    empty = ~mask.any(1)  # (b,) rounding can leave a tiny sample without a masked frame: mask its last one
    mask |= empty[:, None] & (frames[..., 0] == (lengths - 1)[:, None])  # (b, n), no read-back
    return mask


def target_mask(
    lengths: torch.Tensor,
    ref_lengths: torch.Tensor,
    max_len: int | None = None,
    tail_prob: float = 0.0,
    tail_max_frames: int = 0,
    generator: torch.Generator | None = None,
    check_values: bool = True,
) -> torch.Tensor:
    """Mask (b, n) of a reference + target item: True on the target ``[ref_length, length)``, as at inference.

    With probability ``tail_prob`` a sample also masks the last ``U{1..tail_max_frames}`` frames of its reference
    (never more than half of it), so the model also learns to continue from a reference cut mid-sound. Samples with
    ``ref_length == 0`` (single clips) come out fully masked over their valid frames; padding is never masked.
    ``check_values=False`` skips the (device read-back) check of the lengths, for callers that checked on the host.
    """
    if not 0.0 <= tail_prob <= 1.0:
        raise ValueError(f"reference tail probability must be in [0, 1], got {tail_prob}")
    if tail_max_frames < 0:
        raise ValueError(f"tail_max_frames must be >= 0, got {tail_max_frames}")
    if check_values and (bool((ref_lengths < 0).any()) or bool((ref_lengths >= lengths).any())):
        raise ValueError("every reference must be shorter than its item (0 <= ref_length < length)")
    device = lengths.device
    n = int(lengths.max()) if max_len is None else max_len
    start = ref_lengths.clone()  # (b,) first generated frame
    if tail_prob > 0 and tail_max_frames > 0:
        take = torch.rand(lengths.shape[0], generator=generator, device=device) < tail_prob  # (b,)
        limit = torch.minimum(ref_lengths // 2, torch.full_like(ref_lengths, tail_max_frames))  # (b,)
        tail = 1 + (torch.rand(lengths.shape[0], generator=generator, device=device) * limit).floor().long()  # <= limit
        start = start - torch.where(take & (limit > 0), tail, 0)  # (b,)
    frames = torch.arange(n, device=device)[None, :]  # (1, n)
    return (frames >= start[:, None]) & (frames < lengths[:, None])  # (b, n)
