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
) -> torch.Tensor:
    """Random infilling mask (b, n): per sample, ``frac`` ~ U(frac_range) of its valid frames are masked.

    With ``num_spans > 1`` the masked frames are split into that many spans at random places, separated by random
    unmasked gaps. At least one frame per sample is always masked; padding is never masked.
    """
    lo, hi = frac_range
    if not 0.0 < lo <= hi <= 1.0:
        raise ValueError(f"mask fraction range must satisfy 0 < lo <= hi <= 1, got {frac_range}")
    if num_spans < 1:
        raise ValueError(f"num_spans must be >= 1, got {num_spans}")
    if bool((lengths < 1).any()):
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
    empty = ~mask.any(1)  # rounding can leave a tiny sample without a masked frame
    if bool(empty.any()):
        mask[empty, (lengths[empty] - 1)] = True
    return mask
