"""Motion-style statistics of a visual-code track (SPEC §2 layout): what Figs. 2, 3 and 9 show, as numbers.

- head amplitude: standard deviation of yaw / pitch / roll (degrees), their mean and yaw alone;
- head speed: mean angular speed of the rotation (degrees per second);
- head frequency: dominant frequency of the yaw track (Hz, the strongest non-DC bin of its spectrum);
- blink rate: blinks per minute (eyeBlink L/R mean rising above ``on`` after having been below ``off``);
- gaze bias: mean gaze yaw / pitch over both eyes (degrees).
"""

from __future__ import annotations

import numpy as np

from omnitalker.constants import BLENDSHAPE_NAMES, EYE_SLICE, POSE_SLICE

BLINK = [BLENDSHAPE_NAMES.index("eyeBlinkLeft"), BLENDSHAPE_NAMES.index("eyeBlinkRight")]
STAT_KEYS = ("head_amp_deg", "yaw_amp_deg", "head_speed_deg_s", "head_freq_hz", "blink_per_min",
             "gaze_yaw_bias_deg", "gaze_pitch_bias_deg")


def dominant_frequency(signal: np.ndarray, fps: float) -> float:
    """Frequency (Hz) of the strongest non-DC spectral peak of a 1-D signal (linear trend removed)."""
    x = np.asarray(signal, np.float64)
    if x.shape[0] < 4:
        return float("nan")
    t = np.arange(x.shape[0])
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    if np.abs(x).max() < 1e-9:  # no oscillation at all (a still head): no dominant frequency
        return 0.0
    power = np.abs(np.fft.rfft(x * np.hanning(x.shape[0]))) ** 2  # (T//2+1,)
    freqs = np.fft.rfftfreq(x.shape[0], d=1.0 / fps)
    return float(freqs[1 + int(np.argmax(power[1:]))])


def count_blinks(blink: np.ndarray, on: float, off: float) -> int:
    """Rising crossings of ``on`` by a blink score, re-armed only after it fell below ``off`` (hysteresis)."""
    count, armed = 0, True
    for value in np.asarray(blink, np.float64):
        if armed and value >= on:
            count, armed = count + 1, False
        elif not armed and value <= off:
            armed = True
    return count


def motion_stats(codes: np.ndarray, fps: float, blink_on: float = 0.5, blink_off: float = 0.3) -> dict[str, float]:
    """``codes`` (T, 61) at ``fps`` -> the statistics named in :data:`STAT_KEYS`."""
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or codes.shape[1] != 61 or codes.shape[0] < 2 or fps <= 0:
        raise ValueError(f"need codes (T >= 2, 61) and fps > 0, got {codes.shape} at {fps}")
    rot = np.degrees(codes[:, POSE_SLICE][:, :3])  # (T, 3) yaw, pitch, roll
    gaze = np.degrees(codes[:, EYE_SLICE])  # (T, 4) yaw_l, pitch_l, yaw_r, pitch_r
    amp = rot.std(axis=0)  # (3,)
    speed = np.linalg.norm(np.diff(rot, axis=0), axis=1) * fps  # (T-1,)
    blink = codes[:, BLINK].mean(axis=1)  # (T,)
    minutes = codes.shape[0] / fps / 60.0
    return {
        "head_amp_deg": float(amp.mean()),
        "yaw_amp_deg": float(amp[0]),
        "head_speed_deg_s": float(speed.mean()),
        "head_freq_hz": dominant_frequency(rot[:, 0], fps),
        "blink_per_min": count_blinks(blink, blink_on, blink_off) / minutes,
        "gaze_yaw_bias_deg": float(gaze[:, [0, 2]].mean()),
        "gaze_pitch_bias_deg": float(gaze[:, [1, 3]].mean()),
    }

