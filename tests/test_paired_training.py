"""Paired training trains what inference does: reference visible, target generated, pose in the reference's frame."""

from __future__ import annotations

import dataclasses

import numpy as np
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
    tail_max = round(0.2 * MEL_FPS)  # 19 frames
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


# ---------------------------------------------------------------- pose continuity across a same-video pair
PX_PER_FACE_UNIT = 90.0  # the simulated camera: a session's face-unit pose -> pixels
CAMERA_CENTRE = np.array([250.0, 270.0])


def _fit_like_normalisation(codes: np.ndarray) -> tuple[np.ndarray, dict]:
    """What ``omnitalker.face.fitting.fit_track`` does to a clip: translation and scale measured against the clip's
    own median head centre and median scale (its ``centre_ref``/``scale_ref``), which data preparation stores."""
    pixels = PX_PER_FACE_UNIT * codes[:, 54:56].astype(np.float64) + CAMERA_CENTRE  # (T, 2) head centre, px
    scale = PX_PER_FACE_UNIT * np.exp(codes[:, 56].astype(np.float64))  # (T,) px per face unit
    scale_ref, centre_ref = float(np.median(scale)), np.median(pixels, axis=0)
    out = codes.copy()
    out[:, 54:56] = (pixels - centre_ref) / scale_ref
    out[:, 56] = np.log(scale / scale_ref)
    return out, {"scale_ref": scale_ref, "centre_ref": centre_ref.tolist()}


@pytest.fixture(scope="module")
def session_pair(tmp_path_factory):
    """Two consecutive clips cut from one synthetic session (real speech, continuous head motion), each with its
    pose normalised per clip as the face fitting does, written to a two-clip corpus."""
    from data_prep.synthetic import ARCHETYPES, generate_session
    from omnitalker.data.corpus import ClipRecord, CorpusWriter

    session = generate_session(ARCHETYPES[1], 1, 0, clips_per_source=2, seed=4)
    spf = session.speech.samples_per_frame
    session.codes[:, 54:56] += np.linspace(0.0, 0.6, session.codes.shape[0])[:, None]  # the head drifts sideways
    session.codes[:, 56] += np.linspace(0.0, 0.3, session.codes.shape[0])  # and comes closer
    root = tmp_path_factory.mktemp("pair") / "corpus"
    with CorpusWriter(root, fsync=False) as writer:
        for clip in session.speech.clips:
            codes, refs = _fit_like_normalisation(session.codes[clip.start_frame:clip.end_frame])
            writer.add(ClipRecord(
                clip_id=f"c{clip.index}", source_id="session", speaker_id="spk", language="en", text=clip.text,
                codes=codes, fps=session.speech.fps, mel=None, extra=refs,
                audio=session.speech.audio[clip.start_frame * spf:clip.end_frame * spf]))
    return root


def test_same_video_pair_is_continuous_at_the_boundary(session_pair):
    from omnitalker.data.corpus import CorpusReader
    from omnitalker.data.dataset import TalkingHeadDataset
    from omnitalker.data.normalization import CodeNormalizer
    from omnitalker.text import Vocab

    reader = CorpusReader(session_pair)
    ds = TalkingHeadDataset(reader, Vocab.build(reader.index.text), CodeNormalizer.identity(), pairing="same_video")
    item = ds[1]  # reference c0, target c1: the target starts where the reference ends in the session
    assert item["clip_ids"] == ["c0", "c1"]
    r = item["ref_length"]
    pose = item["codes"][:, 54:57].numpy()  # (T, 3) tx, ty, tz at the mel rate
    steps = np.abs(np.diff(pose, axis=0))  # (T - 1, 3)
    jump = steps[r - 1]  # last reference frame -> first target frame
    within = np.delete(steps, r - 1, axis=0)
    p99 = np.percentile(within, 99, axis=0)
    print(f"boundary jump {jump}, within-clip p99 {p99}")
    assert (jump <= p99).all(), f"pose jumps by {jump} at the boundary (within-clip p99 {p99})"


def test_pose_frame_change_keeps_the_head_where_it_was_in_pixels():
    from omnitalker.data.pose_frame import PoseFrame, PoseFrameError, reexpress_pose

    rng = np.random.default_rng(0)
    codes = rng.normal(0, 0.1, (40, 61)).astype(np.float32)
    a, b = PoseFrame((310.0, 200.0), 80.0), PoseFrame((290.5, 215.0), 95.0)
    moved = reexpress_pose(codes, a, b)
    np.testing.assert_allclose(b.scale * moved[:, 54:56] + b.centre, a.scale * codes[:, 54:56] + a.centre, atol=1e-3)
    np.testing.assert_allclose(b.scale * np.exp(moved[:, 56]), a.scale * np.exp(codes[:, 56]), rtol=1e-5)
    np.testing.assert_array_equal(moved[:, :54], codes[:, :54])  # expression and rotation untouched
    np.testing.assert_array_equal(moved[:, 57:], codes[:, 57:])
    np.testing.assert_allclose(reexpress_pose(moved, b, a), codes, atol=1e-5)
    assert PoseFrame.from_extra({"start_s": 1.0}) is None
    with pytest.raises(PoseFrameError, match="clip x"):
        PoseFrame.from_extra({"scale_ref": 80.0}, "x")
    with pytest.raises(PoseFrameError, match="bad pose references"):
        PoseFrame.from_extra({"scale_ref": -1.0, "centre_ref": [1, 2]}, "x")
