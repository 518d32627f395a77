"""The offline landmark lip-sync score behind the ``sync_landmark`` metric (NOT SyncNet, not comparable with Sync-C).

Mouth features per video frame from our face pipeline — inner-lip aperture and mouth width from the MediaPipe
landmarks (divided by the eye-corner distance, so framing does not matter) and the ``jawOpen`` blendshape; or, for a
clip that has only visual codes, the codes' mouth blendshapes — against the audio's 300–3000 Hz log-RMS envelope
sampled at the video frame rate. Both are band-passed to 1.5–8 Hz (the syllable rate), which removes slow loudness
and posture drifts and leaves the open/close rhythm of speech.

For every audio offset k in ±max_offset frames (k > 0: the audio comes k frames late, mouth[t] pairs with
envelope[t + k]) a ridge regression from the mouth features to the envelope is fitted with cross-validation over
contiguous folds; the mean held-out correlation is the score at that offset (a regression, not one feature's
correlation, because which mouth feature carries the rhythm varies between people and framings; held out, so more
features cannot inflate the score). Reported: offset = argmax, peak = the best held-out correlation (the number that
separates true from 1-s-shifted audio on 10 of 11 real clips, docs/evaluation_video.md), and confidence = peak −
median over offsets (SyncNet's definition of Sync-C on a correlation scale; it does not separate them, 5 of 11).
"""

from __future__ import annotations

import numpy as np

from omnitalker.constants import CODE_NAMES
from omnitalker.eval.metric import Clip, MetricError

# MediaPipe FaceMesh indices: inner lips (upper, lower), mouth corners (left, right), outer eye corners
UPPER_LIP, LOWER_LIP, MOUTH_LEFT, MOUTH_RIGHT, EYE_OUTER_R, EYE_OUTER_L = 13, 14, 61, 291, 33, 263
VIDEO_FEATURES = ("lip_aperture", "mouth_width", "jawOpen")
CODE_FEATURES = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthStretchRight")
MOUTH_SOURCES = ("auto", "video", "codes")
SPEECH_BAND_HZ = (300.0, 3000.0)  # audio band of the envelope
RHYTHM_BAND_HZ = (1.5, 8.0)  # syllable-rate band both series are filtered to
MIN_DETECTED = 0.5  # a face must be found in at least this fraction of the frames


def _fill_nan(x: np.ndarray, what: str) -> np.ndarray:
    """(T, F) with NaN rows -> linearly interpolated over time; MetricError when too few frames have a face."""
    ok = np.isfinite(x).all(axis=1)
    if ok.mean() < MIN_DETECTED:
        raise MetricError(f"sync_landmark: a face was found in {ok.sum()} of {len(ok)} frames of the {what}; at least "
                          f"{MIN_DETECTED:.0%} are needed to measure the mouth")
    t = np.arange(len(x))
    return np.stack([np.interp(t, np.flatnonzero(ok), col[ok]) for col in x.T], axis=1)


def track_faces(frames: np.ndarray, fps: float):
    """(T, H, W, 3) RGB frames -> the face pipeline's landmark track (MediaPipe, no face counting): the one tracker
    of the evaluation's video metrics (sync_landmark here, the SyncNet crops in `sync.py`)."""
    from omnitalker.face.landmarks import LandmarkerConfig, track_frames

    h, w = frames.shape[1:3]
    return track_frames(enumerate(frames), fps, w, h, LandmarkerConfig(count_faces_every=0), total=len(frames))


def video_mouth_features(frames: np.ndarray, fps: float) -> np.ndarray:
    """(T, H, W, 3) RGB frames -> (T, 3) lip aperture, mouth width (both / eye-corner distance) and jawOpen."""
    from omnitalker.constants import BLENDSHAPE_NAMES

    track = track_faces(frames, fps)
    xy = track.landmarks[..., :2].astype(np.float64)  # (T, 478, 2) pixels, NaN where no face

    def dist(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(xy[:, a] - xy[:, b], axis=1)  # (T,)

    eyes = np.maximum(dist(EYE_OUTER_R, EYE_OUTER_L), 1e-6)
    jaw = track.blendshapes[:, BLENDSHAPE_NAMES.index("jawOpen")].astype(np.float64)
    features = np.stack([dist(UPPER_LIP, LOWER_LIP) / eyes, dist(MOUTH_LEFT, MOUTH_RIGHT) / eyes, jaw], axis=1)
    return _fill_nan(features, "video")  # (T, 3)


def mouth_features(clip: Clip, source: str = "auto") -> tuple[np.ndarray, float, str]:
    """((T, F) mouth features, their frame rate, which source) of a clip. ``auto``: the frames when the clip has
    them (what the viewer sees), else its visual codes."""
    if source not in MOUTH_SOURCES:
        raise MetricError(f"sync_landmark: mouth must be one of {MOUTH_SOURCES}, got {source!r}")
    has_frames = clip.frames is not None and clip.fps > 0 and len(clip.frames) > 0
    has_codes = clip.codes is not None and clip.codes_fps > 0 and len(clip.codes) > 0
    if source == "video" or (source == "auto" and has_frames):
        if not has_frames:
            raise MetricError("sync_landmark: mouth=video needs the clip's frames")
        return video_mouth_features(np.asarray(clip.frames), float(clip.fps)), float(clip.fps), "video"
    if not has_codes:
        raise MetricError("sync_landmark: the clip has neither frames nor visual codes to read the mouth from")
    codes = np.asarray(clip.codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] != len(CODE_NAMES):
        raise MetricError(f"sync_landmark: codes must be (T, {len(CODE_NAMES)}), got {codes.shape}")
    columns = [CODE_NAMES.index(n) for n in CODE_FEATURES]
    return _fill_nan(codes[:, columns], "codes"), float(clip.codes_fps), "codes"


def bandpass(x: np.ndarray, fps: float, band: tuple[float, float] = RHYTHM_BAND_HZ) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth band-pass along axis 0 (the upper edge is clipped below Nyquist)."""
    from scipy.signal import butter, sosfiltfilt

    high = min(band[1], 0.45 * fps)
    sos = butter(2, [band[0], high], btype="bandpass", fs=fps, output="sos")
    return sosfiltfilt(sos, x, axis=0)


def audio_envelope(audio: np.ndarray, sr: int, fps: float, num_frames: int) -> np.ndarray:
    """(num_frames,) log-RMS of the 300–3000 Hz band in a 2-frame window centred on each video frame."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [SPEECH_BAND_HZ[0], min(SPEECH_BAND_HZ[1], 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    speech = sosfiltfilt(sos, np.asarray(audio, np.float64))  # (n,)
    hop = sr / fps
    half = max(1, round(hop))
    padded = np.pad(speech, (half, half + int(np.ceil(hop)) + 1))
    starts = np.round((np.arange(num_frames) + 0.5) * hop).astype(int)  # window [centre - hop, centre + hop)
    idx = starts[:, None] + np.arange(2 * half)[None, :]  # (T, 2 hop) into padded
    idx = np.minimum(idx, len(padded) - 1)
    rms = np.sqrt(np.mean(padded[idx] ** 2, axis=1))  # (T,)
    return np.log10(np.maximum(rms, 1e-5))


def heldout_correlation(x: np.ndarray, y: np.ndarray, folds: int = 5, ridge: float = 1.0) -> float:
    """Mean over contiguous folds of the correlation of y (N,) with its ridge prediction from x (N, F), the ridge
    fitted on the other folds. Per fold, so a level difference between training and held-out part (pooled
    out-of-fold predictions are biased towards negative correlations) does not enter."""
    edges = np.linspace(0, len(y), folds + 1).astype(int)
    scores = []
    for a, b in zip(edges[:-1], edges[1:]):
        train = np.ones(len(y), bool)
        train[a:b] = False
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-8
        xt = (x[train] - mu) / sd  # (n, F) standardised on the training part only
        w = np.linalg.solve(xt.T @ xt + ridge * np.eye(x.shape[1]), xt.T @ (y[train] - y[train].mean()))  # (F,)
        pred = ((x[a:b] - mu) / sd) @ w  # (b - a,)
        ok = pred.std() > 1e-12 and y[a:b].std() > 1e-12
        scores.append(float(np.corrcoef(pred, y[a:b])[0, 1]) if ok else 0.0)
    return float(np.mean(scores))


def offset_scores(mouth: np.ndarray, envelope: np.ndarray, max_offset: int, folds: int = 5) -> np.ndarray:
    """(2 max_offset + 1,) held-out correlation of envelope[t + k] predicted from mouth[t], k = -max..max."""
    out = np.empty(2 * max_offset + 1)
    for j, k in enumerate(range(-max_offset, max_offset + 1)):
        x = mouth[max(0, -k) : len(mouth) - max(0, k)]  # (N, F)
        y = envelope[max(0, k) : len(envelope) - max(0, -k)]  # (N,)
        out[j] = heldout_correlation(x, y, folds)
    return out


def landmark_sync(mouth: np.ndarray, fps: float, audio: np.ndarray, sr: int, max_offset: int = 15,
                  min_seconds: float = 5.0) -> dict[str, float]:
    """Offset (frames, k > 0 = audio late), peak held-out correlation and confidence of (T,) or (T, F) mouth
    features at ``fps`` against the audio."""
    mouth = np.asarray(mouth, np.float64)
    mouth = mouth[:, None] if mouth.ndim == 1 else mouth  # (T, F)
    seconds = len(mouth) / fps if fps > 0 else 0.0
    if seconds < min_seconds or len(mouth) < 4 * max_offset:
        raise MetricError(f"sync_landmark: the clip is {seconds:.1f} s ({len(mouth)} frames); at least "
                          f"{min_seconds:g} s and {4 * max_offset} frames are needed for a meaningful score")
    audio = np.asarray(audio, np.float64).reshape(-1)
    if len(audio) < 0.5 * seconds * sr:
        raise MetricError(f"sync_landmark: the audio ({len(audio) / sr:.1f} s) covers less than half the video "
                          f"({seconds:.1f} s)")
    envelope = bandpass(audio_envelope(audio, sr, fps, len(mouth)), fps)  # (T,)
    scores = offset_scores(bandpass(mouth, fps), envelope, max_offset)
    best = int(np.argmax(scores))
    return {"offset": float(best - max_offset), "peak": float(scores[best]),
            "confidence": float(scores[best] - np.median(scores))}
