"""E-FID / P-FID and the motion-style statistics: known answers on synthetic code tracks with chosen styles."""

from __future__ import annotations

import numpy as np
import pytest

from omnitalker.constants import BLENDSHAPE_NAMES, EXPRESSION_SLICE, EYE_SLICE, POSE_SLICE
from omnitalker.eval.metric import Clip, EvalItem, MetricError, build_metric
from omnitalker.eval.motion import count_blinks, dominant_frequency, motion_stats
from omnitalker.eval.style import PoseFID  # noqa: F401  (registers efid / pfid / motion)

FPS = 25.0


def style_track(seconds: float, yaw_amp_deg: float, freq_hz: float, smile: float, blinks: int, gaze_deg: float,
                seed: int) -> np.ndarray:
    """(T, 61) codes of a synthetic speaker: sinusoidal yaw, a constant smile with jitter, blinks, gaze offset."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FPS)) / FPS
    codes = np.zeros((t.size, 61), np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    codes[:, 51] = np.radians(yaw_amp_deg) * np.sin(2 * np.pi * freq_hz * t + phase)  # yaw
    codes[:, 52] = np.radians(yaw_amp_deg / 3) * np.sin(2 * np.pi * freq_hz / 2 * t)  # pitch
    codes[:, 54:57] = rng.normal(0, 0.01, (t.size, 3))  # translation jitter
    for name in ("mouthSmileLeft", "mouthSmileRight"):
        codes[:, BLENDSHAPE_NAMES.index(name)] = np.clip(smile + rng.normal(0, 0.03, t.size), 0, 1)
    codes[:, BLENDSHAPE_NAMES.index("jawOpen")] = np.clip(rng.uniform(0, 0.4, t.size), 0, 1)
    centres = np.linspace(0, t.size, blinks + 2)[1:-1].astype(int)
    for c in centres:  # 4-frame blinks
        codes[c - 2 : c + 2, BLENDSHAPE_NAMES.index("eyeBlinkLeft")] = 0.9
        codes[c - 2 : c + 2, BLENDSHAPE_NAMES.index("eyeBlinkRight")] = 0.9
    codes[:, 57:61] = np.radians(gaze_deg) + rng.normal(0, 0.005, (t.size, 4))
    return codes


def item(i: int, generated: np.ndarray, reference: np.ndarray) -> EvalItem:
    return EvalItem(f"it{i}", "en", Clip(codes=generated, codes_fps=FPS), Clip(codes=reference, codes_fps=FPS))


CALM = {"yaw_amp_deg": 3.0, "freq_hz": 0.3, "smile": 0.1, "blinks": 4, "gaze_deg": 0.0}
LIVELY = {"yaw_amp_deg": 15.0, "freq_hz": 1.2, "smile": 0.6, "blinks": 12, "gaze_deg": 8.0}


def set_distance(name: str, pairs, **options) -> float:
    metric = build_metric(name, codes="dit", **options)
    return metric.aggregate([metric.measure(item(i, g, r)) for i, (g, r) in enumerate(pairs)])[name]


@pytest.mark.parametrize("name", ["efid", "pfid"])
def test_identical_sets_give_zero(name):
    pairs = [(style_track(6, **CALM, seed=s),) * 2 for s in range(3)]
    assert set_distance(name, pairs) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("name", ["efid", "pfid"])
def test_same_style_is_closer_than_another_style(name):
    refs = [style_track(6, **CALM, seed=s) for s in range(3)]
    same = set_distance(name, [(style_track(6, **CALM, seed=10 + s), r) for s, r in enumerate(refs)])
    other = set_distance(name, [(style_track(6, **LIVELY, seed=10 + s), r) for s, r in enumerate(refs)])
    assert same < 0.2 * other, (same, other)


def test_features_are_the_papers_parts():
    codes = np.random.default_rng(0).normal(size=(10, 61)).astype(np.float32)
    e = build_metric("efid", codes="dit").features(codes)
    np.testing.assert_array_equal(e, np.concatenate([codes[:, EXPRESSION_SLICE], codes[:, EYE_SLICE]], 1))
    assert build_metric("pfid", codes="dit").features(codes).shape == (10, 6)
    np.testing.assert_array_equal(build_metric("pfid", codes="dit", pose="rotation").features(codes),
                                  codes[:, POSE_SLICE][:, :3])
    # a pose change moves P-FID only, an expression change E-FID only
    ref = style_track(4, **CALM, seed=0)
    moved = ref.copy()
    moved[:, 51] += 0.3
    assert set_distance("efid", [(moved, ref)]) == pytest.approx(0.0, abs=1e-9)
    assert set_distance("pfid", [(moved, ref)]) == pytest.approx(0.09, rel=1e-3)  # |Δμ|² = 0.3²


def test_pooled_over_items_not_per_item_mean():
    # two items whose generated sides are swapped styles: pooled sets are identical -> 0 (a per-item mean is not)
    a, b = style_track(5, **CALM, seed=1), style_track(5, **LIVELY, seed=2)
    assert set_distance("efid", [(a, b), (b, a)]) == pytest.approx(0.0, abs=1e-9)


def test_options_and_missing_inputs_are_clear_errors():
    with pytest.raises(MetricError, match="codes must be"):
        build_metric("efid", codes="frames")
    with pytest.raises(MetricError, match="pose must be"):
        build_metric("pfid", pose="yaw")
    ref = style_track(2, **CALM, seed=0)
    with pytest.raises(MetricError, match="no visual codes"):
        build_metric("efid", codes="dit").measure(EvalItem("x", "en", Clip(), Clip(codes=ref, codes_fps=FPS)))
    with pytest.raises(MetricError, match="no frames"):
        build_metric("pfid", codes="video").measure(EvalItem("x", "en", Clip(codes=ref), Clip(codes=ref)))
    with pytest.raises(MetricError, match="no target"):
        build_metric("efid", codes="dit", against="target").measure(item(0, ref, ref))
    assert build_metric("efid", codes="video").info["codes"] == "video"


def test_motion_statistics_known_answers():
    codes = style_track(30, yaw_amp_deg=10.0, freq_hz=0.5, smile=0.2, blinks=5, gaze_deg=4.0, seed=0)
    stats = motion_stats(codes, FPS)
    assert stats["yaw_amp_deg"] == pytest.approx(10.0 / np.sqrt(2), rel=0.02)
    assert stats["head_freq_hz"] == pytest.approx(0.5, abs=1 / 30)
    assert stats["blink_per_min"] == pytest.approx(10.0)  # 5 blinks in 30 s
    assert stats["gaze_yaw_bias_deg"] == pytest.approx(4.0, abs=0.05)
    assert stats["gaze_pitch_bias_deg"] == pytest.approx(4.0, abs=0.05)
    # mean angular speed of yaw A·sin(ωt) (pitch adds a little): ≥ 2πfA·(2/π) = 4fA
    assert stats["head_speed_deg_s"] == pytest.approx(4 * 0.5 * 10.0, rel=0.15)
    still = motion_stats(np.full((50, 61), 0.1), FPS)
    assert still["head_amp_deg"] == pytest.approx(0.0, abs=1e-9) and still["blink_per_min"] == 0.0
    assert still["head_speed_deg_s"] == 0.0 and still["head_freq_hz"] == 0.0


def test_blink_hysteresis_and_frequency_helpers():
    # a score hovering around the threshold counts once until it falls below `off`
    assert count_blinks(np.array([0, 0.6, 0.45, 0.55, 0.2, 0.7, 0.1]), on=0.5, off=0.3) == 2
    t = np.arange(200) / 20.0
    assert dominant_frequency(np.sin(2 * np.pi * 2.0 * t) + 0.1 * t, 20.0) == pytest.approx(2.0, abs=0.1)


def test_motion_metric_reports_both_sides():
    gen, ref = style_track(10, **LIVELY, seed=0), style_track(10, **CALM, seed=1)
    metric = build_metric("motion", codes="dit")
    m = metric.measure(item(0, gen, ref))
    assert m.scalars["gen_blink_per_min"] == pytest.approx(12 * 6)
    assert m.scalars["ref_blink_per_min"] == pytest.approx(4 * 6)
    assert m.scalars["abs_diff_yaw_amp_deg"] > 5
    assert m.arrays["generated_pose"].shape == (250, 6) and m.arrays["reference_gaze"].shape == (250, 4)
