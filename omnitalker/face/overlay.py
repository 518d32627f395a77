"""Overlay video: fitted model landmarks (green) and, optionally, detected landmarks (red) drawn on the frames."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from omnitalker.face.video import iter_frames, probe_video, scaled_size


def _draw_points(frame: np.ndarray, points: np.ndarray, color: tuple[int, int, int], radius: int) -> None:
    """Paint (N, 2) pixel points as small squares into frame (H, W, 3) in place, vectorised over points."""
    h, w = frame.shape[:2]
    pts = np.round(points[np.isfinite(points).all(axis=1)]).astype(np.int64)  # (N, 2)
    offsets = np.arange(-radius, radius + 1)
    xs = (pts[:, 0, None, None] + offsets[None, None, :]).clip(0, w - 1)  # (N, 1, k)
    ys = (pts[:, 1, None, None] + offsets[None, :, None]).clip(0, h - 1)  # (N, k, 1)
    xs, ys = np.broadcast_arrays(xs, ys)
    frame[ys.ravel(), xs.ravel()] = color


def write_overlay(
    video_path: str | Path,
    out_path: str | Path,
    fitted_px: np.ndarray,
    observed_px: np.ndarray | None = None,
    max_side: int | None = 720,
) -> None:
    """Write an h264 mp4 (no audio) with the landmarks drawn; positions are in pixels of the original video."""
    import av
    import av.logging

    av.logging.set_level(av.logging.ERROR)  # libx264 statistics are not errors

    info = probe_video(video_path)
    width, height = scaled_size(info.width, info.height, max_side)
    factor = np.array([width / info.width, height / info.height])
    radius = max(1, round(min(width, height) / 400))
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.stem}.tmp{os.getpid()}{out_path.suffix}")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(info.fps or 25.0).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index, rgb in iter_frames(video_path, max_side=max_side):
            if index >= fitted_px.shape[0]:
                break
            frame = rgb.copy()
            if observed_px is not None:
                _draw_points(frame, observed_px[index] * factor, (255, 60, 60), radius)
            _draw_points(frame, fitted_px[index] * factor, (60, 255, 60), radius)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(tmp, out_path)
