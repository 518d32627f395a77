"""Throughput of the face pipeline per CPU core: decoding + MediaPipe landmarks, and Eq. 1 fitting.

    python scripts/benchmark_face.py [video=/work/shared/media/video/mimictalk_Trump_10s.mp4] [frames=250] [max_side=1280]

Runs single-threaded (torch and MediaPipe's XNNPACK on one core as far as they allow) and prints frames/s for each
stage and for both together; a data-preparation worker uses one core, so frames/s per core x cores ~ throughput.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
from omegaconf import OmegaConf

from omnitalker.face.face_model import FaceModel
from omnitalker.face.fitting import FitConfig, fit_track
from omnitalker.face.landmarks import LandmarkerConfig, extract_landmarks


def main(argv: list[str]) -> None:
    args = OmegaConf.merge(
        OmegaConf.create(
            {
                "video": "/work/shared/media/video/mimictalk_Trump_10s.mp4",
                "frames": 250,
                "max_side": 1280,
                "iterations": FitConfig.iterations,
                "repeats": 1,
            }
        ),
        OmegaConf.from_dotlist(argv),
    )
    torch.set_num_threads(1)
    model = FaceModel.default()
    cpu = time.process_time()
    wall = time.time()
    track = extract_landmarks(args.video, LandmarkerConfig(max_side=args.max_side), end_frame=args.frames)
    lm_wall, lm_cpu = time.time() - wall, time.process_time() - cpu
    n = track.num_frames
    fit_times = []
    for _ in range(args.repeats):
        wall = time.time()
        fit_track(track, model, FitConfig(iterations=args.iterations))
        fit_times.append(time.time() - wall)
    fit_wall = min(fit_times)
    result = {
        "video": args.video,
        "frames": n,
        "resolution": f"{track.width}x{track.height}",
        "max_side": args.max_side,
        "landmarks_fps_wall": round(n / lm_wall, 1),
        "landmarks_fps_per_cpu_second": round(n / lm_cpu, 1),  # counts all threads MediaPipe/FFmpeg used
        "fit_fps": round(n / fit_wall, 1),
        "total_fps_per_core": round(n / (lm_cpu + fit_wall), 1),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
