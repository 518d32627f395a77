"""Inference controls (issue 13 §1): each control's effect on codes, measured with the evaluation's motion
statistics; the state carried across chunks equals one pass; clear errors for bad values; audio untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omnitalker.constants import BLENDSHAPE_NAMES, EYE_SLICE, MEL_FPS, POSE_SLICE
from omnitalker.controls import LIMITS, ControlApplier, ControlError, Controls, apply_controls
from omnitalker.controls.apply import gaze_camera_error_deg
from omnitalker.eval.motion import motion_stats

JAW = BLENDSHAPE_NAMES.index("jawOpen")
SMILE = [BLENDSHAPE_NAMES.index(n) for n in ("mouthSmileLeft", "mouthSmileRight")]
BLINK = [BLENDSHAPE_NAMES.index(n) for n in ("eyeBlinkLeft", "eyeBlinkRight")]


def talking_codes(seconds: float = 20.0, fps: float = MEL_FPS, seed: int = 0) -> np.ndarray:
    """(T, 61) a plausible track: swaying head about an offset pose, speech-rate jaw, wandering gaze, a few blinks."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * fps)) / fps
    codes = np.zeros((t.size, 61), np.float32)
    codes[:, :51] = 0.05 + 0.02 * rng.random(51)
    codes[:, JAW] = 0.15 + 0.12 * np.sin(2 * np.pi * 4.0 * t) ** 2
    for dim, (amp, freq, offset) in enumerate([(0.08, 0.3, 0.1), (0.05, 0.45, -0.05), (0.03, 0.2, 0.02)]):
        codes[:, 51 + dim] = offset + amp * np.sin(2 * np.pi * freq * t + dim)
    codes[:, 54:57] = 0.02 * np.sin(2 * np.pi * 0.25 * t)[:, None]
    codes[:, EYE_SLICE] = 0.1 * np.sin(2 * np.pi * 0.15 * t)[:, None]
    for onset in (2.0, 7.5, 13.0):
        codes[:, BLINK] = np.maximum(codes[:, BLINK], (0.9 * np.exp(-((t - onset) / 0.06) ** 2))[:, None])
    return codes


def jaw_range(codes: np.ndarray) -> float:
    return float(np.ptp(codes[:, JAW]))


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_head_amplitude_scales_the_measured_yaw_and_pitch_std(factor):
    codes = talking_codes()
    out = apply_controls(codes, Controls(head=factor), centre_pose=codes[:, POSE_SLICE].mean(0))
    before, after = np.degrees(codes[:, 51:53].std(0)), np.degrees(out[:, 51:53].std(0))  # yaw, pitch
    np.testing.assert_allclose(after / before, factor, rtol=1e-4)
    ratio = motion_stats(out, MEL_FPS)["head_amp_deg"] / motion_stats(codes, MEL_FPS)["head_amp_deg"]
    assert ratio == pytest.approx(factor, rel=1e-4)
    np.testing.assert_allclose(out[:, 51:57].mean(0), codes[:, 51:57].mean(0), atol=1e-6)  # about its own mean
    np.testing.assert_array_equal(out[:, :51], codes[:, :51])  # nothing else moved


def test_head_std_factor_holds_for_any_fixed_centre():
    codes = talking_codes()
    out = apply_controls(codes, Controls(head=2.0), centre_pose=np.zeros(6))  # e.g. a reference's mean pose
    np.testing.assert_allclose(out[:, 51:54].std(0) / codes[:, 51:54].std(0), 2.0, rtol=1e-4)


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_lip_amplitude_scales_the_jaw_open_range(factor):
    codes = talking_codes()
    out = apply_controls(codes, Controls(lip=factor))
    assert jaw_range(out) / jaw_range(codes) == pytest.approx(factor, rel=1e-5)
    np.testing.assert_array_equal(out[:, SMILE], codes[:, SMILE])  # smiles are expression, not articulation
    np.testing.assert_array_equal(out[:, 51:], codes[:, 51:])


def test_gaze_lock_brings_the_gaze_to_the_camera():
    codes = talking_codes()
    out = apply_controls(codes, Controls(gaze_lock=True))
    assert gaze_camera_error_deg(codes) > 5.0
    assert gaze_camera_error_deg(out) < 0.5
    np.testing.assert_array_equal(out[:, POSE_SLICE], codes[:, POSE_SLICE])  # the head keeps moving


def test_gaze_lock_follows_the_scaled_head():
    codes = talking_codes()
    assert gaze_camera_error_deg(apply_controls(codes, Controls(gaze_lock=True, head=2.0))) < 0.5


@pytest.mark.parametrize("emotion, raised, lowered", [
    ("happy", ["mouthSmileLeft", "cheekSquintRight"], []),
    ("sad", ["browInnerUp", "mouthFrownLeft"], []),
    ("angry", ["browDownLeft", "noseSneerRight"], []),
    ("surprised", ["eyeWideLeft", "browOuterUpRight"], []),
])
def test_emotion_presets_raise_their_blendshapes_with_intensity(emotion, raised, lowered):
    codes = talking_codes()
    idx = [BLENDSHAPE_NAMES.index(n) for n in raised]
    weak = apply_controls(codes, Controls(emotion=emotion, emotion_intensity=0.5))
    strong = apply_controls(codes, Controls(emotion=emotion, emotion_intensity=1.0))
    assert np.all(strong[:, idx].mean(0) > weak[:, idx].mean(0) + 0.05)
    assert np.all(weak[:, idx].mean(0) > codes[:, idx].mean(0) + 0.05)
    assert strong[:, :51].min() >= 0 and strong[:, :51].max() <= 1


def test_expression_offsets_both_signs():
    codes = talking_codes()
    smile = apply_controls(codes, Controls(smile=0.5))
    frown = apply_controls(codes, Controls(smile=-0.5))
    frown_idx = [BLENDSHAPE_NAMES.index(n) for n in ("mouthFrownLeft", "mouthFrownRight")]
    assert smile[:, SMILE].mean() == pytest.approx(codes[:, SMILE].mean() + 0.5, abs=1e-5)
    assert frown[:, frown_idx].mean() == pytest.approx(codes[:, frown_idx].mean() + 0.5, abs=1e-5)
    brow = apply_controls(codes, Controls(brow=0.4))[:, BLENDSHAPE_NAMES.index("browInnerUp")]
    assert brow.mean() > codes[:, BLENDSHAPE_NAMES.index("browInnerUp")].mean() + 0.3
    wide = apply_controls(codes, Controls(eye_open=0.4))[:, BLENDSHAPE_NAMES.index("eyeWideLeft")]
    assert wide.mean() > codes[:, BLENDSHAPE_NAMES.index("eyeWideLeft")].mean() + 0.3


@pytest.mark.parametrize("rate", [0.0, 10.0, 30.0])
def test_blink_rate_sets_the_measured_blinks_per_minute(rate):
    codes = talking_codes(seconds=120.0)
    assert motion_stats(codes, MEL_FPS)["blink_per_min"] == pytest.approx(1.5)  # 3 blinks in 2 min
    out = apply_controls(codes, Controls(blink_rate=rate), seed=3)
    measured = motion_stats(out, MEL_FPS)["blink_per_min"]
    assert measured == pytest.approx(rate, abs=max(1.0, 0.2 * rate))


def test_chunked_application_equals_one_pass():
    codes = talking_codes(seconds=12.0)
    controls = Controls(lip=1.7, head=0.6, smile=0.2, emotion="surprised", emotion_intensity=0.8, blink_rate=25,
                        gaze_lock=True)
    centre = codes[:400, POSE_SLICE].mean(0)
    whole = apply_controls(codes, controls, centre_pose=centre, seed=5)
    applier = ControlApplier(controls, centre_pose=centre, seed=5)
    cuts = [0, 1, 37, 200, 201, 640, len(codes)]
    chunks = [applier.push(torch.from_numpy(codes[a:b])) for a, b in zip(cuts[:-1], cuts[1:])]
    assert all(isinstance(c, torch.Tensor) for c in chunks)
    np.testing.assert_array_equal(torch.cat(chunks).numpy(), whole)


def test_without_a_centre_the_first_chunk_sets_it_once():
    codes = talking_codes()
    applier = ControlApplier(Controls(head=2.0))
    first = applier.push(codes[:300])
    np.testing.assert_allclose(first[:, POSE_SLICE].mean(0), codes[:300, POSE_SLICE].mean(0), atol=1e-6)
    rest = applier.push(codes[300:])
    np.testing.assert_array_equal(np.concatenate([first, rest]),
                                  apply_controls(codes, Controls(head=2.0), centre_pose=codes[:300, 51:57].mean(0)))


def test_reference_centre():
    codes = talking_codes()
    reference = codes[:200] + np.float32(0.1)
    out = ControlApplier.for_reference(Controls(head=0.0), torch.from_numpy(reference)).push(codes)
    np.testing.assert_allclose(out[:, POSE_SLICE], np.broadcast_to(reference[:, 51:57].mean(0), (len(codes), 6)),
                               atol=1e-6)  # head 0: a still head at the person's reference pose


def test_default_controls_change_nothing():
    codes = talking_codes()
    np.testing.assert_array_equal(apply_controls(codes, Controls()), codes)
    assert not Controls().changes_codes and not Controls(rate=1.5).changes_codes and Controls(lip=0.9).changes_codes
    assert Controls(rate=1.2).visual_only is False and Controls(lip=2).visual_only


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_out_of_range_values_are_refused_with_the_limit_named(name):
    low, high = LIMITS[name]
    with pytest.raises(ControlError, match=rf"controls\.{name}=.*outside its range \[{low:g}, {high:g}\]"):
        Controls(**{name: high + 1.0})
    with pytest.raises(ControlError, match=name):
        Controls(**{name: float("nan")})
    Controls(**{name: low})  # the limits themselves are allowed
    Controls(**{name: high})


def test_bad_types_and_names_are_refused():
    with pytest.raises(ControlError, match="emotion='bored' is unknown; choose one of angry, happy"):
        Controls(emotion="bored")
    with pytest.raises(ControlError, match="gaze_lock"):
        Controls(gaze_lock="yes")
    with pytest.raises(ControlError, match="lip must be a finite number"):
        Controls(lip="big")
    with pytest.raises(ControlError, match="unknown control.*smil"):
        Controls.from_dict({"smil": 0.5})
    assert Controls.from_dict({"emotion": "HAPPY", "blink_rate": None}).emotion == "happy"
    with pytest.raises(ValueError):  # ControlError is a ValueError and an InferenceInputError
        Controls(head=-1)


def test_rate_is_applied_to_the_duration_plan():
    from omnitalker.inference.duration import plan_duration

    slow = plan_duration("one two three four", "five six seven", 300, speed=1.0 * Controls(rate=0.5).rate)
    fast = plan_duration("one two three four", "five six seven", 300, speed=1.0 * Controls(rate=2.0).rate)
    assert slow.new_frames == pytest.approx(4 * fast.new_frames, rel=0.02)
