"""Minimal video reading with PyAV for the face pipeline: probe a file and stream RGB frames (optionally downscaled).

Decoding errors are turned into `VideoDecodeError` naming the file, never a raw PyAV traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnitalker.face.errors import VideoDecodeError


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    fps: float
    num_frames: int  # container estimate (exact count is only known after decoding)
    duration: float  # seconds
    codec: str
    has_audio: bool
    audio_sample_rate: int | None


def _open(path: str | Path):
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(f"video file {path} does not exist")
    try:
        container = av.open(str(path))
    except Exception as exc:  # av.error.* (InvalidDataError, ...) all derive from different bases
        raise VideoDecodeError(f"cannot open {path} as a media file: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(f"{path} has no video stream")
    return container


def probe_video(path: str | Path) -> VideoInfo:
    """Read container metadata (no full decode)."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if not fps > 0:
            raise VideoDecodeError(f"{path}: cannot determine the frame rate of the video stream")
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = stream.frames / fps if stream.frames else 0.0
        num_frames = int(stream.frames) if stream.frames else round(duration * fps)
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            path=str(path),
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            fps=fps,
            num_frames=num_frames,
            duration=duration,
            codec=str(stream.codec_context.name),
            has_audio=audio is not None,
            audio_sample_rate=int(audio.codec_context.sample_rate) if audio is not None else None,
        )
    finally:
        container.close()


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Size after shrinking so that the longer side is <= max_side (even numbers, aspect kept); never upscales."""
    if not max_side or max(width, height) <= max_side:
        return width, height
    f = max_side / max(width, height)
    return max(2, round(width * f / 2) * 2), max(2, round(height * f / 2) * 2)


def iter_frames(
    path: str | Path, max_side: int | None = None, start_frame: int = 0, end_frame: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame_index, rgb uint8 (H, W, 3)) for frames [start_frame, end_frame) of the constant-rate grid.

    Frames are placed by their timestamps (`omnitalker.av_timing.constant_rate`: unchanged for a constant frame
    rate, resampled to the average rate for a variable one; VideoDecodeError for an unbridgeable hole) and resized
    (PyAV/swscale) so that the longer side is at most `max_side`.
    """
    from omnitalker.av_timing import FrameTimingError, constant_rate, stream_start

    container = _open(path)
    try:
        stream = container.streams.video[0]
        width, height = scaled_size(stream.codec_context.width, stream.codec_context.height, max_side)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        timed = ((frame.time, frame) for frame in container.decode(stream))
        index = -1
        for frame in constant_rate(timed, float(rate or 25), stream_start(stream)):
            index += 1
            if index < start_frame:
                continue
            if end_frame is not None and index >= end_frame:
                break
            yield index, frame.to_ndarray(format="rgb24", width=width, height=height)
        if index < 0:
            raise VideoDecodeError(f"{path}: no video frame could be decoded")
    except VideoDecodeError:
        raise
    except FrameTimingError as exc:
        raise VideoDecodeError(f"{path}: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith("av"):
            raise VideoDecodeError(f"{path}: decoding failed: {exc}") from exc
        raise
    finally:
        container.close()


def read_frames(path: str | Path, max_side: int | None = None, max_frames: int | None = None) -> np.ndarray:
    """Decode (up to max_frames) frames into one (T, H, W, 3) uint8 array."""
    frames = [f for _, f in iter_frames(path, max_side=max_side, end_frame=max_frames)]
    return np.stack(frames)
