"""Lip-sync scores of the generated clip: SyncNet Sync-C / Sync-D ("syncnet") and an offline landmark score
("sync_landmark", NOT comparable with Sync-C; its computation is in :mod:`omnitalker.eval.sync_landmark`).
"""

from __future__ import annotations

import numpy as np

from omnitalker.eval.audio_clips import resample
from omnitalker.eval.metric import Clip, EvalItem, Measurement, Metric, MetricError, register
from omnitalker.eval.sync_landmark import MOUTH_SOURCES, landmark_sync, mouth_features, track_faces
from omnitalker.eval.syncnet import SYNCNET_FPS, SYNCNET_SR, load_syncnet, sync_scores


def _check_audio(clip: Clip, name: str, item_id: str) -> np.ndarray:
    if clip.audio is None or clip.sample_rate <= 0 or len(clip.audio) == 0:
        raise MetricError(f"{name}: item {item_id} has no generated audio")
    return np.asarray(clip.audio, dtype=np.float64).reshape(-1)


def _fill_nan(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    if not ok.any():
        raise MetricError("no frame with a face to crop")
    return np.interp(np.arange(len(x)), np.flatnonzero(ok), x[ok])


@register("sync_landmark")
class LandmarkSync(Metric):
    """Offline lip-sync stand-in: held-out ridge correlation of mouth features with the speech envelope over audio
    offsets (see :mod:`omnitalker.eval.sync_landmark`). ``mouth``: auto (frames if the clip has them, else its
    codes) | video | codes. Clips shorter than ``min_seconds`` are refused."""

    name = "sync_landmark"

    def __init__(self, max_offset: int = 15, mouth: str = "auto", min_seconds: float = 5.0) -> None:
        if mouth not in MOUTH_SOURCES:
            raise MetricError(f"sync_landmark: mouth must be one of {MOUTH_SOURCES}, got {mouth!r}")
        self.max_offset, self.mouth, self.min_seconds = int(max_offset), mouth, float(min_seconds)

    @property
    def info(self) -> dict[str, str]:
        return {"model": "offline, not SyncNet: ridge CV of MediaPipe mouth features vs 300-3000 Hz envelope, "
                         "1.5-8 Hz", "mouth": self.mouth}

    def measure(self, item: EvalItem) -> Measurement:
        audio = _check_audio(item.generated, self.name, item.id)
        clip = item.generated
        seconds = len(clip.frames) / clip.fps if clip.frames is not None and clip.fps > 0 else (
            len(clip.codes) / clip.codes_fps if clip.codes is not None and clip.codes_fps > 0 else 0.0)
        if 0 < seconds < self.min_seconds:  # refused before the landmarker runs
            raise MetricError(f"sync_landmark: the clip is {seconds:.1f} s; at least {self.min_seconds:g} s are "
                              "needed for a meaningful score")
        features, fps, source = mouth_features(item.generated, self.mouth)  # (T, F)
        r = landmark_sync(features, fps, audio, item.generated.sample_rate, self.max_offset, self.min_seconds)
        scalars = {f"sync_landmark_{k}": v for k, v in r.items()}
        return Measurement(scalars=scalars, arrays={"sync_landmark_mouth": features.astype(np.float32),
                                                    "sync_landmark_from_video": np.array([source == "video"])})


def syncnet_crops(frames: np.ndarray, fps: float, crop_scale: float = 0.4) -> np.ndarray:
    """(T, H, W, 3) RGB at ``fps`` -> (T', 224, 224, 3) BGR face crops at 25 fps, cropped like syncnet_python's
    pipeline (box half-size and centre median-filtered over 13 frames, crop_scale margin) on MediaPipe face boxes."""
    import cv2
    from scipy.signal import medfilt

    if abs(fps - SYNCNET_FPS) > 1e-3:  # nearest-frame resampling to SyncNet's 25 fps
        count = int(np.floor(len(frames) * SYNCNET_FPS / fps))
        frames = frames[np.minimum(np.round(np.arange(count) * fps / SYNCNET_FPS).astype(int), len(frames) - 1)]
    boxes = track_faces(frames, SYNCNET_FPS).face_boxes()  # (T, 4) with NaN where no face
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
        audio = resample(audio, clip.sample_rate, SYNCNET_SR).astype(np.float64)  # (n,) at SyncNet's 16 kHz
        r = sync_scores(self.model, crops, audio, self.vshift)
        return Measurement(scalars={"sync_c": r["sync_c"], "sync_d": r["sync_d"], "sync_offset": r["offset"]})
