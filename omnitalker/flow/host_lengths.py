"""Item lengths of a batch as plain Python ints, known on the host where the batch is made.

The training hot path asks three questions of the lengths every step — is there padding, is any item a reference +
target pair, how many real frames — and must not answer them by reading a device tensor back (each read drains the
accelerator's queue). The collate function already has the lengths as Python ints; :class:`HostLengths` carries them
along and checks their values once, here, instead of on the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class HostLengths:
    lengths: tuple[int, ...]  # (b,) valid frames per item
    ref_lengths: tuple[int, ...]  # (b,) reference frames per item (0 = single clip)

    def __post_init__(self) -> None:
        if len(self.lengths) == 0:
            raise ValueError("a batch needs at least one item")
        if len(self.ref_lengths) != len(self.lengths):
            raise ValueError(f"got {len(self.lengths)} lengths but {len(self.ref_lengths)} reference lengths")
        for k, (length, ref) in enumerate(zip(self.lengths, self.ref_lengths)):
            if length < 1:
                raise ValueError(f"item {k}: every sample needs at least one valid frame, got length {length}")
            if not 0 <= ref < length:
                raise ValueError(f"item {k}: every reference must be shorter than its item "
                                 f"(0 <= ref_length < length), got {ref} and {length}")

    @classmethod
    def from_lists(cls, lengths: Sequence[int], ref_lengths: Sequence[int] | None = None) -> HostLengths:
        lengths = tuple(int(v) for v in lengths)
        refs = tuple(int(v) for v in ref_lengths) if ref_lengths is not None else (0,) * len(lengths)
        return cls(lengths, refs)

    @classmethod
    def from_tensors(cls, lengths: torch.Tensor, ref_lengths: torch.Tensor | None = None) -> HostLengths:
        """For callers without host-side lengths: one read-back per tensor (instead of one per question)."""
        return cls.from_lists(lengths.tolist(), None if ref_lengths is None else ref_lengths.tolist())

    @property
    def total(self) -> int:
        """Real (non-padded) frames in the batch."""
        return sum(self.lengths)

    @property
    def longest(self) -> int:
        return max(self.lengths)

    @property
    def any_paired(self) -> bool:
        return any(r > 0 for r in self.ref_lengths)

    def padded(self, frames: int) -> bool:
        """Whether a (b, frames) batch of these items has padding frames."""
        return min(self.lengths) < frames
