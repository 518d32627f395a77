"""What the study measures on one clip (generated or ground truth): motion style, voice, audio-visual sync, text.

Style features are split into *dynamic* (how the head, eyes and mouth move) and *static* (where they rest): the
issue's bar is that dynamic style is imitated, since copying a reference's mean pose is trivial.
"""

from __future__ import annotations

import numpy as np

from omnitalker.constants import BLENDSHAPE_NAMES, EYE_SLICE, MEL_FPS, POSE_SLICE
from omnitalker.eval.motion import count_blinks, dominant_frequency

_BS = {name: k for k, name in enumerate(BLENDSHAPE_NAMES)}
BLINK = [_BS["eyeBlinkLeft"], _BS["eyeBlinkRight"]]
JAW = _BS["jawOpen"]
SMILE = [_BS["mouthSmileLeft"], _BS["mouthSmileRight"]]
BROW_UP = [_BS["browInnerUp"], _BS["browOuterUpLeft"], _BS["browOuterUpRight"]]
BROW_DOWN = [_BS["browDownLeft"], _BS["browDownRight"]]
SQUINT = [_BS["eyeSquintLeft"], _BS["eyeSquintRight"]]

DYNAMIC = ("yaw_std", "pitch_std", "roll_std", "head_speed", "head_freq", "blink_per_min", "jaw_std", "jaw_speed")
STATIC = ("yaw_mean", "pitch_mean", "roll_mean", "gaze_yaw", "gaze_pitch", "smile", "brow_up", "brow_down", "squint")


def style_features(codes: np.ndarray, fps: float) -> dict[str, float]:
    """``codes`` (T, 61) raw codes at ``fps`` -> dynamic and static style features (degrees, Hz, per minute)."""
    codes = np.asarray(codes, np.float64)
    rot = np.degrees(codes[:, POSE_SLICE][:, :3])  # (T, 3) yaw, pitch, roll
    gaze = np.degrees(codes[:, EYE_SLICE])  # (T, 4)
    jaw = codes[:, JAW]  # (T,)
    std = rot.std(0)  # (3,)
    minutes = codes.shape[0] / fps / 60.0
    return {
        "yaw_std": std[0], "pitch_std": std[1], "roll_std": std[2],
        "head_speed": float(np.linalg.norm(np.diff(rot, axis=0), axis=1).mean() * fps),
        "head_freq": dominant_frequency(rot[:, 0], fps),
        "blink_per_min": count_blinks(codes[:, BLINK].mean(1), 0.5, 0.3) / minutes,
        "jaw_std": float(jaw.std()), "jaw_speed": float(np.abs(np.diff(jaw)).mean() * fps),
        "yaw_mean": rot[:, 0].mean(), "pitch_mean": rot[:, 1].mean(), "roll_mean": rot[:, 2].mean(),
        "gaze_yaw": gaze[:, [0, 2]].mean(), "gaze_pitch": gaze[:, [1, 3]].mean(),
        "smile": codes[:, SMILE].mean(), "brow_up": codes[:, BROW_UP].mean(),
        "brow_down": codes[:, BROW_DOWN].mean(), "squint": codes[:, SQUINT].mean(),
    }


def mel_energy(mel: np.ndarray) -> np.ndarray:
    """(n, 100) log-mel -> (n,) frame log-energy (log of the mean mel magnitude)."""
    mel = np.asarray(mel, np.float64)
    top = mel.max(1, keepdims=True)
    return (top + np.log(np.exp(mel - top).mean(1, keepdims=True)))[:, 0]


def _pool(signal: np.ndarray, src_fps: float, dst_fps: float, length: int) -> np.ndarray:
    """Average a signal sampled at ``src_fps`` into ``length`` frames at ``dst_fps`` (frame i = [i, i+1)/dst_fps)."""
    idx = np.minimum((np.arange(signal.shape[0]) / src_fps * dst_fps).astype(int), length - 1)
    total = np.bincount(idx, weights=signal, minlength=length)
    count = np.maximum(np.bincount(idx, minlength=length), 1)
    return total / count


def sync_lag(codes: np.ndarray, fps: float, mel: np.ndarray, max_lag: int = 10) -> tuple[float, float]:
    """Lag (frames at ``fps``; positive = mouth after audio) and Pearson r at the best lag between jaw opening and
    audio log-energy, searched over ``±max_lag`` frames. ``codes`` at ``fps``, ``mel`` at the mel rate, same span."""
    jaw = np.asarray(codes, np.float64)[:, JAW]
    energy = _pool(mel_energy(mel), MEL_FPS, fps, jaw.shape[0])  # (T,)
    best = (0.0, -np.inf)
    for lag in range(-max_lag, max_lag + 1):
        a = jaw[lag:] if lag >= 0 else jaw[:lag]
        b = energy[: energy.shape[0] - lag] if lag >= 0 else energy[-lag:]
        if a.shape[0] < 10 or a.std() < 1e-9 or b.std() < 1e-9:
            continue
        r = float(np.corrcoef(a, b)[0, 1])
        if r > best[1]:
            best = (float(lag), r)
    return best if np.isfinite(best[1]) else (float("nan"), float("nan"))


def voiced_spectrum(mel: np.ndarray) -> np.ndarray:
    """(n, 100) log-mel -> (100,) mean log-mel of the louder half of the frames: a crude spectral-envelope voiceprint."""
    mel = np.asarray(mel, np.float64)
    energy = mel_energy(mel)
    return mel[energy >= np.median(energy)].mean(0)


def median_f0(audio: np.ndarray, sample_rate: int) -> float:
    """Median F0 (Hz) over voiced frames (librosa pYIN, 50-500 Hz); NaN when nothing is voiced."""
    import librosa

    f0, voiced, _ = librosa.pyin(np.asarray(audio, np.float32), fmin=50.0, fmax=500.0, sr=sample_rate,
                                 frame_length=1024, hop_length=256)
    f0 = f0[voiced & np.isfinite(f0)]
    return float(np.median(f0)) if f0.size >= 5 else float("nan")


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean per-step Euclidean distance along the DTW path between two log-mel sequences (n, 100), (m, 100)."""
    import librosa

    cost, path = librosa.sequence.dtw(X=np.asarray(a, np.float64).T, Y=np.asarray(b, np.float64).T,
                                      metric="euclidean")
    return float(cost[-1, -1] / len(path))
