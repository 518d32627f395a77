"""One video -> 61-D visual codes: landmarks, single-face checks, Eq. 1 fitting. Used by inference for the
reference clip and by `scripts/extract_codes.py`.

Errors (all `FaceError` subclasses, see `omnitalker.face.errors`): `VideoDecodeError` (unreadable / no video stream),
`ClipTooShortError` (< `min_frames` frames), `NoFaceError` (face in < `min_face_fraction` of the frames),
`MultipleFacesError` (a second, comparably large face in > `max_multi_face_fraction` of the checked frames).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omnitalker.face.errors import ClipTooShortError, MultipleFacesError, NoFaceError
from omnitalker.face.face_model import FaceModel
from omnitalker.face.fitting import FitConfig, FitResult, fit_track
from omnitalker.face.landmarks import LandmarkerConfig, LandmarkTrack, extract_landmarks


@dataclass
class FaceCheckConfig:
    min_frames: int = 8  # fewer frames cannot constrain the per-clip identity / smoothness
    min_face_fraction: float = 0.8  # frames with a tracked face
    min_second_face_ratio: float = 0.2  # a second face counts if its box area is >= this fraction of the largest
    max_multi_face_fraction: float = 0.1  # of the checked frames


@dataclass
class ExtractConfig:
    landmarker: LandmarkerConfig = field(default_factory=LandmarkerConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    checks: FaceCheckConfig = field(default_factory=FaceCheckConfig)
    face_model_path: str | None = None  # None -> the packaged model


def multi_face_fraction(track: LandmarkTrack, min_second_face_ratio: float) -> float:
    """Fraction of the face-counted frames that show a second face at least `min_second_face_ratio` as large."""
    checked = track.num_faces >= 0
    if not checked.any():
        return 0.0
    multi = (track.num_faces >= 2) & (np.nan_to_num(track.second_face_ratio) >= min_second_face_ratio)
    return float(multi[checked].mean())


def check_track(track: LandmarkTrack, checks: FaceCheckConfig, name: str = "clip") -> None:
    """Raise the documented error when `track` is not one dominant face through (most of) the clip."""
    if track.num_frames < checks.min_frames:
        raise ClipTooShortError(f"{name}: {track.num_frames} frames, at least {checks.min_frames} are needed")
    face_fraction = float(track.detected.mean())
    if face_fraction < checks.min_face_fraction:
        raise NoFaceError(
            f"{name}: a face was tracked in {face_fraction:.0%} of {track.num_frames} frames "
            f"(minimum {checks.min_face_fraction:.0%})"
        )
    multi = multi_face_fraction(track, checks.min_second_face_ratio)
    if multi > checks.max_multi_face_fraction:
        raise MultipleFacesError(
            f"{name}: several faces in {multi:.0%} of the checked frames (maximum {checks.max_multi_face_fraction:.0%})"
        )


def extract_codes_with_fit(
    video_path: str | Path, config: ExtractConfig | None = None, face_model: FaceModel | None = None
) -> tuple[LandmarkTrack, FitResult]:
    """Landmarks + checks + fit; returns the raw track and the full fit result (for overlays / diagnostics)."""
    config = config or ExtractConfig()
    model = face_model or (FaceModel.load(config.face_model_path) if config.face_model_path else FaceModel.default())
    track = extract_landmarks(video_path, config.landmarker)
    check_track(track, config.checks, name=str(video_path))
    return track, fit_track(track, model, config.fit)


def extract_codes(
    video_path: str | Path, config: ExtractConfig | None = None, face_model: FaceModel | None = None
) -> tuple[np.ndarray, float, dict]:
    """Visual codes of one video: (codes (T, 61) float32 at the native fps, fps, report with fit quality)."""
    track, result = extract_codes_with_fit(video_path, config, face_model)
    report = result.report()
    report.update(
        video=str(video_path),
        face_fraction=float(track.detected.mean()),
        multi_face_fraction=multi_face_fraction(track, (config or ExtractConfig()).checks.min_second_face_ratio),
        width=track.width,
        height=track.height,
    )
    return result.codes, result.fps, report
