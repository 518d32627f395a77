"""Dynamic batching by padded frame count (paper: 12,800 mel frames per GPU), bucketed, DDP-aware and resumable.

A batch's cost is ``batch_size * longest_item`` padded frames, which is what occupies accelerator memory, so that is
what the budget bounds. Each epoch: shuffle the items (seeded by ``seed`` and the epoch), cut the order into
buckets of ``bucket_size`` items, sort each bucket by length, pack the resulting order greedily into batches,
shuffle the batches, then deal them round-robin to the DDP ranks. Every rank computes the same plan, so ranks never
communicate and always agree.

Equal work per rank (DDP hangs otherwise): if the batch count is not a multiple of ``num_replicas``, then with
``drop_last=False`` the batches holding the most items are split in two until it is (smaller batches stay within
budget and every item is still used exactly once); only when there are fewer items than ranks are batches
repeated. With ``drop_last=True`` the surplus batches (random ones, different every epoch) are dropped instead.
Items longer than ``max_frames`` cannot fit any batch: they are skipped with a warning that counts them (they are
never cropped: the transcript covers the whole clip).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler

Lengths = Sequence[int] | np.ndarray | Callable[[int], Sequence[int]]


class DynamicFrameBatchSampler(Sampler[list[int]]):
    """Yield lists of item indices whose padded size ``len(batch) * max(lengths[batch])`` is <= ``max_frames``.

    ``lengths`` is a sequence (length of item i in frames) or a callable ``epoch -> sequence`` for datasets whose
    item lengths change per epoch (e.g. ``TalkingHeadDataset.lengths`` with reference/target pairing).
    ``max_samples`` caps the items per batch (None: no cap). ``bucket_size``: items sorted together (larger = less
    padding, less randomness; 1 = no bucketing). ``len(sampler)`` = batches per rank in the current epoch.
    ``tag_epoch=True`` yields ``(index, epoch)`` pairs so that persistent DataLoader workers know the epoch.

    Resumption: ``state_dict()`` records the epoch and the batches this rank has consumed; after
    ``load_state_dict`` the next iteration yields exactly the remaining batches of that epoch. A DataLoader
    prefetches ahead of the training step, so a trainer should pass the count it really consumed:
    ``state_dict(batches_done=n)``.
    """

    def __init__(
        self,
        lengths: Lengths,
        max_frames: int,
        max_samples: int | None = None,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        shuffle: bool = True,
        bucket_size: int = 2048,
        drop_last: bool = False,
        tag_epoch: bool = False,
    ) -> None:
        if int(max_frames) < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        if max_samples is not None and int(max_samples) < 1:
            raise ValueError(f"max_samples must be >= 1 or None, got {max_samples}")
        if int(num_replicas) < 1 or not 0 <= int(rank) < int(num_replicas):
            raise ValueError(f"need num_replicas >= 1 and 0 <= rank < num_replicas, got {num_replicas=} {rank=}")
        if int(bucket_size) < 1:
            raise ValueError(f"bucket_size must be >= 1, got {bucket_size}")
        self._lengths = lengths
        self.max_frames = int(max_frames)
        self.max_samples = None if max_samples is None else int(max_samples)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.bucket_size = int(bucket_size)
        self.drop_last = drop_last
        self.tag_epoch = tag_epoch
        self.epoch = 0
        self.batches_done = 0
        self._plan_cache: tuple[int, list[np.ndarray], dict[str, Any]] | None = None

    # --- epochs and state ---------------------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch to iterate; switching to another epoch restarts it from its first batch."""
        if int(epoch) != self.epoch:
            self.epoch = int(epoch)
            self.batches_done = 0

    def state_dict(self, batches_done: int | None = None) -> dict[str, Any]:
        lengths = self.lengths_for_epoch(self.epoch)
        return {
            "epoch": self.epoch,
            "batches_done": self.batches_done if batches_done is None else int(batches_done),
            "seed": self.seed, "num_replicas": self.num_replicas, "rank": self.rank,
            "max_frames": self.max_frames, "max_samples": self.max_samples, "bucket_size": self.bucket_size,
            "shuffle": self.shuffle, "drop_last": self.drop_last,
            "num_items": len(lengths), "total_frames": int(lengths.sum()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume at ``state["batches_done"]`` of ``state["epoch"]``; the plan settings must match (else the
        remaining batches would not be the ones the interrupted run would have seen)."""
        for key in ("seed", "num_replicas", "max_frames", "max_samples", "bucket_size", "shuffle", "drop_last"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(f"cannot resume: sampler state has {key}={state[key]!r}, this sampler has "
                                 f"{getattr(self, key)!r}")
        self.epoch = int(state["epoch"])
        lengths = self.lengths_for_epoch(self.epoch)
        if "num_items" in state and (state["num_items"], state["total_frames"]) != (len(lengths), int(lengths.sum())):
            raise ValueError("cannot resume: the dataset's item lengths differ from the saved run's")
        done = int(state["batches_done"])
        if not 0 <= done <= len(self):
            raise ValueError(f"cannot resume: batches_done={done} outside [0, {len(self)}]")
        self.batches_done = done

    # --- plan ---------------------------------------------------------------------------------------------------
    def lengths_for_epoch(self, epoch: int) -> np.ndarray:
        lengths = self._lengths(epoch) if callable(self._lengths) else self._lengths
        lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        return lengths

    def _plan(self) -> tuple[list[np.ndarray], dict[str, Any]]:
        """Batches of all ranks for the current epoch (cached), rank r taking batches[r::num_replicas]."""
        if self._plan_cache is not None and self._plan_cache[0] == self.epoch:
            return self._plan_cache[1], self._plan_cache[2]
        lengths = self.lengths_for_epoch(self.epoch)
        rng = np.random.default_rng([self.seed, self.epoch])
        fits = (lengths >= 1) & (lengths <= self.max_frames)
        skipped = int((~fits).sum())
        if skipped:
            warnings.warn(f"DynamicFrameBatchSampler: skipping {skipped} of {len(lengths)} items longer than "
                          f"max_frames={self.max_frames} (longest {int(lengths.max())}) or empty", stacklevel=3)
        order = np.flatnonzero(fits)
        if self.shuffle:
            order = rng.permutation(order)
        if self.bucket_size > 1:  # sort each bucket by length (ascending) so neighbours have similar lengths
            bucket_of = np.arange(len(order)) // self.bucket_size
            order = order[np.lexsort((lengths[order], bucket_of))]
        batches = self._balance(self._pack(order, lengths[order]), rng)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        sizes = np.fromiter((len(b) for b in batches), dtype=np.int64, count=len(batches))  # (num_batches,)
        if len(batches):
            flat = lengths[np.concatenate(batches)]  # item lengths in batch order
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            real, padded = int(flat.sum()), int((np.maximum.reduceat(flat, starts) * sizes).sum())
        else:
            real = padded = 0
        stats = {
            "num_batches": len(batches), "num_items": int(sizes.sum()), "skipped": skipped,
            "padding_fraction": 1.0 - real / padded if padded else 0.0,
            "mean_batch_size": float(sizes.mean()) if len(batches) else 0.0,
            "budget_utilisation": padded / (len(batches) * self.max_frames) if batches else 0.0,
        }
        self._plan_cache = (self.epoch, batches, stats)
        return batches, stats

    def _pack(self, indices: np.ndarray, item_lengths: np.ndarray) -> list[np.ndarray]:
        """Greedy, in order: close the batch when one more item would break the padded budget or the size cap."""
        cap = self.max_samples or len(indices)
        max_frames = self.max_frames
        cuts, start, longest = [], 0, 0
        for k, length in enumerate(item_lengths.tolist()):
            longest = max(longest, length)
            if k > start and (k - start + 1 > cap or (k - start + 1) * longest > max_frames):
                cuts.append(k)
                start, longest = k, length
        return np.split(indices, cuts) if len(indices) else []

    def _balance(self, batches: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        surplus = len(batches) % self.num_replicas
        if surplus == 0 or not batches:
            return batches
        if self.drop_last:
            keep = np.sort(rng.permutation(len(batches))[: len(batches) - surplus])
            return [batches[i] for i in keep]
        need = self.num_replicas - surplus
        while need > 0:
            largest = int(np.argmax([len(b) for b in batches]))
            if len(batches[largest]) < 2:
                break
            batch = batches[largest]
            half = len(batch) // 2
            batches[largest] = batch[:half]
            batches.append(batch[half:])
            need -= 1
        for k in range(need):  # fewer items than ranks: nothing left to split, repeat batches
            batches.append(batches[k % len(batches)])
        return batches

    # --- Sampler protocol ---------------------------------------------------------------------------------------
    def rank_batches(self) -> list[np.ndarray]:
        return self._plan()[0][self.rank::self.num_replicas]

    def __len__(self) -> int:
        return len(self.rank_batches())

    def __iter__(self) -> Iterator[list[int]] | Iterator[list[tuple[int, int]]]:
        batches = self.rank_batches()
        epoch = self.epoch
        for batch in batches[self.batches_done:]:
            self.batches_done += 1
            yield [(i, epoch) for i in batch.tolist()] if self.tag_epoch else batch.tolist()
        self.batches_done = 0

    @property
    def padding_fraction(self) -> float:
        """Fraction of padded frames in the current epoch's batches (all ranks): 1 - real / (size * longest)."""
        return self._plan()[1]["padding_fraction"]

    @property
    def num_skipped(self) -> int:
        return self._plan()[1]["skipped"]

    def stats(self) -> dict[str, Any]:
        """Plan summary for the current epoch: batches, items, skipped, padding fraction, mean batch size, budget
        utilisation (padded frames / (batches * max_frames))."""
        return dict(self._plan()[1])
