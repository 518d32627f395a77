"""A mesh rig for one real face image: MediaPipe's 478 landmarks fitted with the face model (Eq. 1), plus a head ring
that follows the head rigidly and static frame anchors, triangulated once (Delaunay) over the source image (the iris
landmarks left out: the irises are drawn as discs, `eyes.py`).

Driving positions of the landmarks are the source landmarks moved by what the face model says changes between the
source code and a driving code (expression, gaze, head pose), so a driving code equal to the source code reproduces
the image exactly. Each point of the head ring (hair, ears, the jaw line's surroundings) moves with the face-oval
landmark it was scaled out from; the frame border stays put.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import Delaunay

from omnitalker.face.errors import MultipleFacesError, NoFaceError
from omnitalker.face.extract import FaceCheckConfig, multi_face_fraction
from omnitalker.face.face_model import FaceModel
from omnitalker.face.fitting import FitConfig, fit_track
from omnitalker.face.landmarks import LandmarkerConfig, track_frames
from omnitalker.meshrender.eyes import IRIS_POINTS

# MediaPipe face-mesh topology: face oval, inner lips (corner to corner), both from MediaPipe's published connections
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
             149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
HEAD_RING_SCALE = 1.45  # head ring: the face oval scaled about its centre (covers hair, ears, the neck below the chin)
MIN_FACE_PX = 48.0  # a smaller face (landmark box side) cannot be animated recognisably


class FaceImageError(ValueError):
    """The identity image cannot drive a mesh rig (no face, several faces, a face too small); the message says why."""


@dataclass
class ImageRig:
    """``points`` (P, 2) source pixels: 478 landmarks, then the head ring, then the frame anchors; ``triangles``
    (T, 3); ``movable`` (P,) bool; the fitted ``source_code`` (61,), ``identity`` (478, 3), ``scale_ref``,
    ``centre_ref`` (2,) of the face model fit; ``size`` (H, W) of the image."""

    points: torch.Tensor
    triangles: torch.Tensor
    movable: torch.Tensor
    ring: slice
    source_code: torch.Tensor
    identity: torch.Tensor
    scale_ref: float
    centre_ref: torch.Tensor
    size: tuple[int, int]
    mouth_open_px: float  # inner-lip gap of the source image (a source with an open mouth shows its own interior)


def _frame_anchors(height: int, width: int, per_side: int = 4) -> np.ndarray:
    t = np.linspace(0.0, 1.0, per_side + 1)[:-1]
    xs, ys = t * (width - 1), t * (height - 1)
    top = np.stack([xs, np.zeros_like(xs)], 1)
    right = np.stack([np.full_like(ys, width - 1), ys], 1)
    bottom = np.stack([(width - 1) - xs, np.full_like(xs, height - 1)], 1)
    left = np.stack([np.zeros_like(ys), (height - 1) - ys], 1)
    return np.concatenate([top, right, bottom, left])  # (4 * per_side, 2)


def build_image_rig(image: np.ndarray, face_model: FaceModel, landmarker: LandmarkerConfig | None = None,
                    checks: FaceCheckConfig | None = None, name: str = "identity image") -> ImageRig:
    """``image`` (H, W, 3) uint8 RGB -> rig; raises :class:`FaceImageError` for an unusable image."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise FaceImageError(f"{name}: expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    checks = checks or FaceCheckConfig()
    config = landmarker or LandmarkerConfig()
    config = LandmarkerConfig(**{**config.__dict__, "count_faces_every": 1})
    track = track_frames([(0, image)], fps=25.0, width=width, height=height, config=config, total=1)
    if not bool(track.detected[0]):
        raise FaceImageError(f"{name}: no face found (it must be clearly visible and at least "
                             f"{MIN_FACE_PX:.0f} px across)")
    if multi_face_fraction(track, checks.min_second_face_ratio) > 0:
        raise FaceImageError(f"{name}: several faces found; give an image with one dominant face")
    landmarks = track.landmarks[0, :, :2].astype(np.float64)  # (478, 2) pixels
    side = float(np.max(landmarks.max(0) - landmarks.min(0)))
    if side < MIN_FACE_PX:
        raise FaceImageError(f"{name}: the face is {side:.0f} px across; at least {MIN_FACE_PX:.0f} px is needed")
    try:
        fit = fit_track(track, face_model, FitConfig(iterations=200))
    except (NoFaceError, MultipleFacesError) as exc:
        raise FaceImageError(f"{name}: {exc}") from exc

    oval = landmarks[list(FACE_OVAL)]  # (36, 2)
    centre = oval.mean(0)
    ring = centre + HEAD_RING_SCALE * (oval - centre)  # (36, 2)
    ring = np.clip(ring, 0.0, [width - 1.0, height - 1.0])
    anchors = _frame_anchors(height, width)  # (16, 2)
    points = np.concatenate([landmarks, ring, anchors])  # (P, 2)
    meshed = np.setdiff1d(np.arange(len(points)), IRIS_POINTS)  # the irises are drawn as discs (eyes.py), not warped
    triangles = meshed[Delaunay(points[meshed]).simplices]  # (T, 3) indices into points
    movable = np.zeros(len(points), dtype=bool)
    movable[: len(landmarks) + len(ring)] = True
    gap = landmarks[list(LOWER_INNER_LIP[1:-1])][:, 1] - landmarks[list(UPPER_INNER_LIP[1:-1])][:, 1]
    return ImageRig(
        points=torch.from_numpy(points).float(),
        triangles=torch.from_numpy(triangles.astype(np.int64)),
        movable=torch.from_numpy(movable),
        ring=slice(len(landmarks), len(landmarks) + len(ring)),
        source_code=torch.from_numpy(fit.codes[0]).float(),
        identity=torch.from_numpy(fit.identity).float(),
        scale_ref=float(fit.scale_ref),
        centre_ref=torch.from_numpy(np.asarray(fit.centre_ref, dtype=np.float32)),
        size=(height, width),
        mouth_open_px=float(np.max(gap)),
    )
