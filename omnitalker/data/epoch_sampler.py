"""A shuffling sampler that tells map-style datasets the epoch: it yields ``(index, epoch)`` keys.

The decoder datasets (renderer pairs, vocoder segments) draw their per-item randomness from ``(seed, epoch, index)``,
like ``TalkingHeadDataset``; a key that carries the epoch reaches persistent DataLoader workers too (a ``set_epoch`` on
the dataset in the main process would not). Lightning calls ``set_epoch`` on the sampler every epoch (and forwards it
through its ``DistributedSamplerWrapper`` under DDP). The order itself is a permutation seeded by ``(seed, epoch)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class EpochShuffleSampler(Sampler[tuple[int, int]]):
    def __init__(self, num_items: int, seed: int = 0, shuffle: bool = True) -> None:
        if num_items <= 0:
            raise ValueError(f"EpochShuffleSampler needs at least one item, got {num_items}")
        self.num_items, self.seed, self.shuffle = int(num_items), int(seed), shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_items

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        order = np.random.default_rng([self.seed, epoch, 0x5A3F]).permutation(self.num_items) if self.shuffle else (
            np.arange(self.num_items)
        )
        return iter([(int(i), epoch) for i in order])


def split_key(key: int | tuple[int, int], default_epoch: int) -> tuple[int, int]:
    """A dataset key -> ``(index, epoch)``: plain integer keys use ``default_epoch`` (the dataset's ``set_epoch``)."""
    if isinstance(key, tuple):
        index, epoch = key
        return int(index), int(epoch)
    return int(key), default_epoch
