#!/usr/bin/env python
"""Leave-one-out landmark error of the face model: for each video, build the face model from all the *other*
videos (``omnitalker.face.build_model``, the same recipe as the shipped asset), fit the held-out video with Eq. 1
(``fit_track``) and report the 2-D landmark error as a fraction of the inter-ocular distance.

    python scripts/face_landmark_loo.py --videos /work/shared/media/video \
        --cache-dir /tmp/omnitalker_face_tracks --out loo.json

This is the number quoted in docs/benchmarks.md ("face fit ... leave-one-out face model"): the mean over all fitted
frames of all held-out videos, with the per-clip means and the per-clip 95th percentiles. Landmark tracks are
cached (.npz), so a rerun only refits. ``--limit N`` / ``--held-out NAME ...`` evaluate a subset only (each clip
still held out from a model built on all the others).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from omnitalker.face.build_model import build_face_model, collect_tracks, list_videos
from omnitalker.face.fitting import FitConfig, fit_track
from omnitalker.face.landmarks import LandmarkerConfig, LandmarkTrack


def leave_one_out(
    tracks: Sequence[LandmarkTrack], names: Sequence[str], held_out: Sequence[int], ridge: float = 1e-2
) -> dict:
    """Per held-out clip: mean / p95 fit error (fraction of IOD) with a model built without that clip."""
    per_clip: list[dict] = []
    errors: list[np.ndarray] = []
    for k in held_out:
        model = build_face_model([t for i, t in enumerate(tracks) if i != k], ridge=ridge)
        result = fit_track(tracks[k], model, FitConfig())
        err = result.fit_error[np.isfinite(result.fit_error)]  # (frames,) fraction of the inter-ocular distance
        errors.append(err)
        per_clip.append(
            {"clip": names[k], "frames": int(err.size), "mean": float(err.mean()), "p95": float(np.percentile(err, 95))}
        )
        print(f"{names[k]}: {err.size} frames, mean {100 * err.mean():.2f} % IOD, p95 {100 * per_clip[-1]['p95']:.2f} %")
    all_err = np.concatenate(errors)
    return {
        "videos_in_pool": len(tracks),
        "held_out_clips": len(per_clip),
        "frames": int(all_err.size),
        "mean_error_iod": float(all_err.mean()),
        "per_clip_mean_range_iod": [min(c["mean"] for c in per_clip), max(c["mean"] for c in per_clip)],
        "per_clip_p95_max_iod": max(c["p95"] for c in per_clip),
        "per_clip": per_clip,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", nargs="+", required=True, help="video files and/or folders of videos")
    parser.add_argument("--cache-dir", default=None, help="where landmark tracks are cached (.npz)")
    parser.add_argument("--landmarker-model", default=None, help="local face_landmarker.task")
    parser.add_argument("--ridge", type=float, default=1e-2)
    parser.add_argument("--limit", type=int, default=None, help="hold out only the first N videos")
    parser.add_argument("--held-out", nargs="+", default=None, help="hold out only these videos (file names)")
    parser.add_argument("--out", default=None, help="write the report as JSON here")
    args = parser.parse_args(argv)
    videos = list_videos(args.videos)
    if len(videos) < 3:
        raise SystemExit(f"leave-one-out needs at least 3 videos, found {len(videos)} in {args.videos}")
    start = time.perf_counter()
    config = LandmarkerConfig(model_path=args.landmarker_model, progress=False)
    tracks = collect_tracks(videos, Path(args.cache_dir) if args.cache_dir else None, config)
    held_out = list(range(len(videos) if args.limit is None else min(args.limit, len(videos))))
    if args.held_out:
        unknown = set(args.held_out) - {v.name for v in videos}
        if unknown:
            raise SystemExit(f"--held-out names not among the videos: {sorted(unknown)}")
        held_out = [i for i in held_out if videos[i].name in set(args.held_out)]
    report = leave_one_out(tracks, [v.name for v in videos], held_out, ridge=args.ridge)
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(
        f"leave-one-out over {report['held_out_clips']} clips ({report['frames']} frames): "
        f"{100 * report['mean_error_iod']:.2f} % IOD (per clip {100 * report['per_clip_mean_range_iod'][0]:.2f}"
        f"-{100 * report['per_clip_mean_range_iod'][1]:.2f} %, p95 <= {100 * report['per_clip_p95_max_iod']:.2f} %)"
    )
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
