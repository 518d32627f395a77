"""DynamicFrameBatchSampler: budget, coverage, DDP disjointness, epochs, exact resumption, bucketing."""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.data import DataLoader

from omnitalker.data.batching import DynamicFrameBatchSampler


def _lengths(n: int = 1000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(50, 1500, size=n)


def _all_ranks(lengths, num_replicas: int, **kwargs) -> list[list[list[int]]]:
    return [list(DynamicFrameBatchSampler(lengths, num_replicas=num_replicas, rank=r, **kwargs))
            for r in range(num_replicas)]


@pytest.mark.parametrize("max_frames,max_samples,bucket_size", [(3000, None, 256), (12_800, 16, 2048), (1500, 4, 1)])
def test_budget_is_never_exceeded(max_frames, max_samples, bucket_size):
    lengths = _lengths()
    sampler = DynamicFrameBatchSampler(lengths, max_frames=max_frames, max_samples=max_samples,
                                       bucket_size=bucket_size)
    batches = list(sampler)
    assert len(batches) == len(sampler) > 0
    for batch in batches:
        assert len(batch) * lengths[batch].max() <= max_frames
        assert max_samples is None or len(batch) <= max_samples
    # greedy packing really fills batches: the mean budget use is high, not 1 item per batch
    assert sampler.stats()["budget_utilisation"] > 0.6


@pytest.mark.parametrize("num_replicas", [1, 3, 4, 7])
def test_every_item_exactly_once_across_ranks(num_replicas):
    lengths = _lengths(503)
    per_rank = _all_ranks(lengths, num_replicas, max_frames=4000, max_samples=8, seed=3)
    counts = {len(batches) for batches in per_rank}
    assert len(counts) == 1  # equal number of batches per rank: DDP never waits on a rank that ran out
    flat = [i for batches in per_rank for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))  # each exactly once, ranks disjoint
    rank_sets = [{i for batch in batches for i in batch} for batches in per_rank]
    for a in range(num_replicas):
        for b in range(a + 1, num_replicas):
            assert not rank_sets[a] & rank_sets[b]


def test_drop_last_and_tiny_datasets():
    lengths = _lengths(101)
    per_rank = _all_ranks(lengths, 4, max_frames=3000, drop_last=True)
    assert len({len(b) for b in per_rank}) == 1
    flat = [i for batches in per_rank for batch in batches for i in batch]
    assert len(flat) == len(set(flat)) <= len(lengths)
    # fewer items than ranks: the only case where items repeat, so that every rank still gets a batch
    per_rank = _all_ranks([100, 200], 3, max_frames=1000)
    assert [len(b) for b in per_rank] == [1, 1, 1]
    assert {i for batches in per_rank for batch in batches for i in batch} == {0, 1}


def test_too_long_items_are_skipped_with_a_count():
    lengths = np.array([100, 5000, 200, 7000, 300])
    sampler = DynamicFrameBatchSampler(lengths, max_frames=1000)
    with pytest.warns(UserWarning, match="skipping 2 of 5 items"):
        batches = list(sampler)
    assert sorted(i for b in batches for i in b) == [0, 2, 4]
    assert sampler.num_skipped == 2


def test_new_order_each_epoch_and_deterministic():
    lengths = _lengths()
    sampler = DynamicFrameBatchSampler(lengths, max_frames=6000, seed=1)
    epoch0 = list(sampler)
    assert list(sampler) == epoch0  # same epoch, same plan
    assert list(DynamicFrameBatchSampler(lengths, max_frames=6000, seed=1)) == epoch0  # other process, same plan
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert epoch1 != epoch0
    assert sorted(i for b in epoch1 for i in b) == sorted(i for b in epoch0 for i in b)
    assert list(DynamicFrameBatchSampler(lengths, max_frames=6000, seed=2)) != epoch0


def test_mid_epoch_resume_yields_exactly_the_remaining_batches():
    lengths = _lengths()
    kwargs = dict(max_frames=5000, max_samples=12, num_replicas=2, rank=1, seed=7)
    reference = DynamicFrameBatchSampler(lengths, **kwargs)
    reference.set_epoch(3)
    full = list(reference)

    sampler = DynamicFrameBatchSampler(lengths, **kwargs)
    sampler.set_epoch(3)
    iterator = iter(sampler)
    consumed = [next(iterator) for _ in range(5)]
    state = sampler.state_dict()
    assert state["epoch"] == 3 and state["batches_done"] == 5

    resumed = DynamicFrameBatchSampler(lengths, **kwargs)
    resumed.load_state_dict(state)
    resumed.set_epoch(3)  # a trainer re-selecting the same epoch must not restart it
    assert len(resumed) == len(full)
    rest = list(resumed)
    assert consumed + rest == full
    assert list(resumed) == full  # the following pass over that epoch is complete again
    # a trainer that knows how many batches it consumed (DataLoader prefetch) passes that count
    assert sampler.state_dict(batches_done=2)["batches_done"] == 2

    with pytest.raises(ValueError, match="num_replicas"):
        DynamicFrameBatchSampler(lengths, **{**kwargs, "num_replicas": 4, "rank": 0}).load_state_dict(state)
    with pytest.raises(ValueError, match="lengths differ"):
        DynamicFrameBatchSampler(lengths[:-1], **kwargs).load_state_dict(state)


def test_bucketing_reduces_padding():
    lengths = _lengths(2000)
    unbucketed = DynamicFrameBatchSampler(lengths, max_frames=12_800, bucket_size=1)
    bucketed = DynamicFrameBatchSampler(lengths, max_frames=12_800, bucket_size=512)
    assert bucketed.padding_fraction < 0.5 * unbucketed.padding_fraction
    assert bucketed.padding_fraction < 0.05
    # padding fraction is what it claims: 1 - real / padded frames over the epoch's batches
    batches = list(bucketed)
    padded = sum(len(b) * lengths[b].max() for b in batches)
    assert bucketed.padding_fraction == pytest.approx(1 - lengths[np.concatenate(batches)].sum() / padded)
    assert len(batches) < len(list(unbucketed))


class _Echo:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key):
        return key


def test_epoch_dependent_lengths_and_dataloader():
    base = _lengths(200)

    def lengths_for(epoch: int) -> np.ndarray:
        return base + 10 * epoch

    sampler = DynamicFrameBatchSampler(lengths_for, max_frames=3000, tag_epoch=True)
    sampler.set_epoch(2)
    loader = DataLoader(_Echo(len(base)), batch_sampler=sampler, collate_fn=lambda items: items)
    batches = list(loader)
    assert len(batches) == len(sampler)
    for batch in batches:
        indices = [i for i, _ in batch]
        assert {e for _, e in batch} == {2}
        assert len(indices) * lengths_for(2)[indices].max() <= 3000


def test_bad_arguments():
    with pytest.raises(ValueError, match="rank"):
        DynamicFrameBatchSampler([1, 2], max_frames=10, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="max_frames"):
        DynamicFrameBatchSampler([1, 2], max_frames=0)
