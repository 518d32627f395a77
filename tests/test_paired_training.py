"""Paired training trains what inference does: reference visible, target generated, pose in the reference's frame."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from conftest import make_tiny_model, random_batch, tiny_config

from omnitalker.constants import MEL_FPS
from omnitalker.flow.masking import lengths_to_mask, target_mask
from omnitalker.flow.objective import FlowMatchingObjective, ObjectiveConfig

torch.set_num_threads(1)


# ---------------------------------------------------------------- masking
def test_paired_items_mask_exactly_the_target_and_singles_keep_the_random_span():
    lengths = torch.tensor([120, 90, 100, 64] * 64)  # (256,)
    ref_lengths = torch.tensor([50, 0, 30, 0] * 64)  # paired, single, paired, single
    obj = FlowMatchingObjective(ObjectiveConfig())
    mask = obj.infill_mask(lengths, ref_lengths, 120, torch.Generator().manual_seed(0))  # (256, 120)
    frames = torch.arange(120)[None, :]
    paired = ref_lengths > 0
    expected = (frames >= ref_lengths[:, None]) & (frames < lengths[:, None])
    assert torch.equal(mask[paired], expected[paired]), "a paired item generates its target and nothing else"
    single = ~paired
    frac = mask[single].sum(1).float() / lengths[single]
    assert (frac >= 0.69).all() and (frac <= 1.0).all() and frac.std() > 0.05  # the paper's random 70-100 % span
    assert not (mask & ~lengths_to_mask(lengths, 120)).any()
    # the old behaviour (random span over the whole concatenation) is still one setting away
    legacy = FlowMatchingObjective(ObjectiveConfig(paired_target_prob=0.0))
    span = legacy.infill_mask(lengths, ref_lengths, 120, torch.Generator().manual_seed(0))
    assert not torch.equal(span[paired], expected[paired])


def test_paired_target_prob_mixes_the_two_masks():
    lengths = torch.full((4000,), 100)
    ref_lengths = torch.full((4000,), 40)
    obj = FlowMatchingObjective(ObjectiveConfig(paired_target_prob=0.3))
    mask = obj.infill_mask(lengths, ref_lengths, 100, torch.Generator().manual_seed(1))
    exact = (mask == (torch.arange(100)[None, :] >= 40)).all(1).float().mean().item()
    assert abs(exact - 0.3) < 0.03


def test_reference_tail_is_masked_with_its_probability_and_bounded_length():
    b = 4000
    lengths = torch.full((b,), 300)
    ref_lengths = torch.full((b,), 200)
    tail_max = int(round(0.2 * MEL_FPS))  # 19 frames
    mask = target_mask(lengths, ref_lengths, 300, tail_prob=0.25, tail_max_frames=tail_max,
                       generator=torch.Generator().manual_seed(2))
    start = mask.float().argmax(1)  # (b,) first masked frame
    assert torch.equal(mask, torch.arange(300)[None, :] >= start[:, None]), "one contiguous span up to the end"
    tail = 200 - start
    assert (tail >= 0).all() and (tail <= tail_max).all()
    assert abs((tail > 0).float().mean().item() - 0.25) < 0.03
    assert tail[tail > 0].float().mean().item() == pytest.approx((1 + tail_max) / 2, abs=1.0)  # uniform 1..max
    short = target_mask(torch.tensor([12]), torch.tensor([4]), tail_prob=1.0, tail_max_frames=100)
    assert short[0, :2].tolist() == [False, False], "at most half of the reference is ever masked"
    with pytest.raises(ValueError, match="shorter than its item"):
        target_mask(torch.tensor([10]), torch.tensor([10]))


def test_objective_trains_the_target_of_paired_items():
    model = make_tiny_model()
    mel, codes, text, lengths = random_batch(b=2, n=32, lengths=[32, 28])
    obj = FlowMatchingObjective(ObjectiveConfig(drop_text=0.0, drop_audio=0.0, drop_visual=0.0))
    out = obj(model, mel, codes, text, lengths, generator=torch.Generator().manual_seed(0),
              ref_lengths=torch.tensor([12, 0]))
    assert out.loss_mask[0].tolist() == [False] * 12 + [True] * 20
    assert 0.69 * 28 <= out.loss_mask[1].sum() <= 28
    # the visible reference reaches the network: changing it changes the loss on the target
    mel2 = mel.clone()
    mel2[0, :12] += 3.0
    out2 = obj(model, mel2, codes, text, lengths, generator=torch.Generator().manual_seed(0),
               ref_lengths=torch.tensor([12, 0]))
    assert not torch.allclose(out.per_sample[0], out2.per_sample[0])


def test_training_step_hands_the_reference_lengths_to_the_objective():
    from omnitalker.data.normalization import CodeNormalizer
    from omnitalker.training.module import OmniTalkerModule

    arch = {k: v for k, v in dataclasses.asdict(tiny_config()).items() if k != "text_vocab_size"}
    module = OmniTalkerModule(arch=arch, objective={}, sampler={}, optim={"warmup_steps": 1, "total_steps": 10},
                              vocab_symbols=[" "] + list("abcdefghij"),
                              normalizer_state=CodeNormalizer.identity().state_dict(), ema={"enabled": False})
    seen = {}

    class Stop(Exception):
        pass

    def spy(*args, **kwargs):
        seen.update(kwargs)
        raise Stop

    module.objective = spy
    mel, codes, text, lengths = random_batch(b=2, n=20, vocab=10)
    batch = {"mel": mel, "codes": codes, "text": text, "lengths": lengths, "ref_lengths": torch.tensor([7, 0]),
             "clip_ids": [["a", "b"], ["c"]]}
    with pytest.raises(Stop):
        module.training_step(batch, 0)
    assert seen["ref_lengths"].tolist() == [7, 0]


def test_objective_config_rejects_bad_probabilities():
    with pytest.raises(ValueError, match="paired_target_prob"):
        ObjectiveConfig(paired_target_prob=1.5)
    with pytest.raises(ValueError, match="drop_all"):
        ObjectiveConfig.from_dict({"drop_all": -0.1})
