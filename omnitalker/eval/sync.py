"""Lip-sync scores of the generated clip: SyncNet Sync-C / Sync-D ("syncnet") and an offline landmark score
("sync_landmark", NOT comparable with Sync-C).

sync_landmark: mouth opening per video frame (the ``jawOpen`` column of the clip's codes when it has them, else the
MediaPipe ``jawOpen`` blendshape of our face pipeline on the frames) against the audio's log-RMS envelope sampled at
the video frame rate (window = 2 frames, centred on each frame). Both are standardised after removing a 1 s moving
average; the Pearson correlation is computed for every audio offset k in ±max_offset (k > 0: the audio comes k frames
late, mouth[t] matches envelope[t + k]). Reported: the best offset, the peak correlation and the confidence = peak −
median over offsets (the same definition SyncNet uses for Sync-C, on a correlation scale).
"""

from __future__ import annotations

import numpy as np

from omnitalker.constants import CODE_NAMES
from omnitalker.eval.metric import Clip, EvalItem, Measurement, Metric, MetricError, register
from omnitalker.eval.syncnet import SYNCNET_FPS, SYNCNET_SR, load_syncnet, sync_scores

JAW_OPEN = CODE_NAMES.index("jawOpen")


def _check_audio(clip: Clip, name: str, item_id: str) -> np.ndarray:
    if clip.audio is None or clip.sample_rate <= 0 or len(clip.audio) == 0:
        raise MetricError(f"{name}: item {item_id} has no generated audio")
    return np.asarray(clip.audio, dtype=np.float64).reshape(-1)


def _track(frames: np.ndarray, fps: float):
    from omnitalker.face.landmarks import LandmarkerConfig, track_frames

    h, w = frames.shape[1:3]
    return track_frames(enumerate(frames), fps, w, h, LandmarkerConfig(count_faces_every=0))


def _fill_nan(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    if not ok.any():
        raise MetricError("no frame with a face to measure the mouth opening")
    return np.interp(np.arange(len(x)), np.flatnonzero(ok), x[ok])


def mouth_opening(clip: Clip) -> tuple[np.ndarray, float]:
    """(T,) mouth opening and its frame rate: codes' jawOpen if present, else the landmarker's on the frames."""
    if clip.codes is not None and clip.codes_fps > 0:
        return _fill_nan(np.asarray(clip.codes, dtype=np.float64)[:, JAW_OPEN]), float(clip.codes_fps)
    if clip.frames is None or clip.fps <= 0:
        raise MetricError("sync_landmark: the generated clip has neither codes nor frames")
    track = _track(np.asarray(clip.frames), clip.fps)
    return _fill_nan(track.blendshapes[:, JAW_OPEN].astype(np.float64)), float(clip.fps)


def audio_envelope(audio: np.ndarray, sr: int, fps: float, num_frames: int) -> np.ndarray:
    """(num_frames,) log-RMS of the audio in a 2-frame window centred on each video frame (silence = -10)."""
    hop = sr / fps
    centres = (np.arange(num_frames) + 0.5) * hop
    half = round(hop)
    padded = np.pad(audio, (half, half + int(np.ceil(hop)) + 1))
    idx = np.round(centres).astype(int)[:, None] + np.arange(2 * half)[None, :]  # (T, 2 hop) into padded
    rms = np.sqrt(np.mean(padded[idx] ** 2, axis=1))
    return np.log10(np.maximum(rms, 1e-10))


def _standardise(x: np.ndarray, fps: float) -> np.ndarray:
    width = max(1, round(fps))
    trend = np.convolve(np.pad(x, (width // 2, width - 1 - width // 2), mode="edge"), np.ones(width) / width, "valid")
    y = x - trend
    return (y - y.mean()) / max(y.std(), 1e-8)


def offset_correlations(mouth: np.ndarray, envelope: np.ndarray, max_offset: int) -> np.ndarray:
    """(2 max_offset + 1,) Pearson r of mouth[t] with envelope[t + k] for k = -max_offset..max_offset."""
    out = np.full(2 * max_offset + 1, np.nan)
    for j, k in enumerate(range(-max_offset, max_offset + 1)):
        a = mouth[max(0, -k) : len(mouth) - max(0, k)]
        b = envelope[max(0, k) : len(envelope) - max(0, -k)]
        if len(a) >= 3 and a.std() > 0 and b.std() > 0:
            out[j] = float(np.corrcoef(a, b)[0, 1])
    return out


def landmark_sync(mouth: np.ndarray, fps: float, audio: np.ndarray, sr: int, max_offset: int = 15) -> dict[str, float]:
    if len(mouth) < 2 * max_offset + 10:
        raise MetricError(f"sync_landmark: {len(mouth)} frames is too short for offsets ±{max_offset}")
    env = audio_envelope(audio, sr, fps, len(mouth))
    corr = offset_correlations(_standardise(mouth, fps), _standardise(env, fps), max_offset)
    best = int(np.nanargmax(corr))
    return {
        "offset": float(best - max_offset),
        "peak": float(corr[best]),
        "confidence": float(corr[best] - np.nanmedian(corr)),
    }


@register("sync_landmark")
class LandmarkSync(Metric):
    name = "sync_landmark"

    def __init__(self, max_offset: int = 15) -> None:
        self.max_offset = int(max_offset)

    @property
    def info(self) -> dict[str, str]:
        return {"model": "MediaPipe jawOpen vs audio log-RMS (offline; not SyncNet)"}

    def measure(self, item: EvalItem) -> Measurement:
        audio = _check_audio(item.generated, self.name, item.id)
        mouth, fps = mouth_opening(item.generated)
        r = landmark_sync(mouth, fps, audio, item.generated.sample_rate, self.max_offset)
        return Measurement(
            scalars={f"sync_landmark_{k}": v for k, v in r.items()}, arrays={"sync_landmark_mouth": mouth}
        )


def syncnet_crops(frames: np.ndarray, fps: float, crop_scale: float = 0.4) -> np.ndarray:
    """(T, H, W, 3) RGB at ``fps`` -> (T', 224, 224, 3) BGR face crops at 25 fps, cropped like syncnet_python's
    pipeline (box half-size and centre median-filtered over 13 frames, crop_scale margin) on MediaPipe face boxes."""
    import cv2
    from scipy.signal import medfilt

    if abs(fps - SYNCNET_FPS) > 1e-3:  # nearest-frame resampling to SyncNet's 25 fps
        count = int(np.floor(len(frames) * SYNCNET_FPS / fps))
        frames = frames[np.minimum(np.round(np.arange(count) * fps / SYNCNET_FPS).astype(int), len(frames) - 1)]
    boxes = _track(frames, SYNCNET_FPS).face_boxes()  # (T, 4) with NaN where no face
    boxes = np.stack([_fill_nan(boxes[:, i]) for i in range(4)], 1)
    size = medfilt(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / 2, 13)
    cx, cy = medfilt((boxes[:, 0] + boxes[:, 2]) / 2, 13), medfilt((boxes[:, 1] + boxes[:, 3]) / 2, 13)
    out = np.zeros((len(frames), 224, 224, 3), np.uint8)
    for i, frame in enumerate(frames):
        bs = size[i]
        pad = int(bs * (1 + 2 * crop_scale))
        padded = cv2.copyMakeBorder(frame[..., ::-1], pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(110, 110, 110))
        my, mx = cy[i] + pad, cx[i] + pad
        face = padded[
            int(my - bs) : int(my + bs * (1 + 2 * crop_scale)),
            int(mx - bs * (1 + crop_scale)) : int(mx + bs * (1 + crop_scale)),
        ]
        out[i] = cv2.resize(face, (224, 224))
    return out


def resample_audio(audio: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return audio
    import librosa

    return librosa.resample(audio, orig_sr=sr, target_sr=target)


@register("syncnet")
class SyncNetMetric(Metric):
    """Sync-C (higher = better synced) and Sync-D (lower = better) with a local syncnet_v2.model."""

    name = "syncnet"

    def __init__(self, syncnet_path: str | None = None, vshift: int = 15, device: str = "cpu") -> None:
        if not syncnet_path:
            raise MetricError("syncnet: syncnet_path (a local syncnet_v2.model) is required; no offline copy exists")
        self.model = load_syncnet(syncnet_path).to(device)
        self.vshift, self.path = int(vshift), syncnet_path

    @property
    def info(self) -> dict[str, str]:
        return {"model": f"SyncNet {self.path}"}

    def measure(self, item: EvalItem) -> Measurement:
        audio = _check_audio(item.generated, self.name, item.id)
        clip = item.generated
        if clip.frames is None or clip.fps <= 0:
            raise MetricError(f"syncnet: item {item.id} has no generated frames")
        crops = syncnet_crops(np.asarray(clip.frames), clip.fps)
        r = sync_scores(self.model, crops, resample_audio(audio, clip.sample_rate, SYNCNET_SR), self.vshift)
        return Measurement(scalars={"sync_c": r["sync_c"], "sync_d": r["sync_d"], "sync_offset": r["offset"]})
