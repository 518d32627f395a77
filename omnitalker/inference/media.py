"""Reading media files with PyAV for inference: probe, audio -> 24 kHz mono float32, frames -> uint8 RGB.

Every PyAV failure becomes an `InferenceInputError` subclass naming the file (missing, corrupt, an image instead of
a video, no audio/video track), never a raw PyAV traceback. Start times of the streams are reported so that a
caller can align audio sample 0 with video frame 0 (`reference.py` does, with `omnitalker.av_timing.align_audio`,
the rule data preparation uses too); frames come on a constant-rate grid by timestamp (`av_timing.constant_rate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnitalker.av_timing import FrameTimingError, constant_rate, stream_start
from omnitalker.constants import SAMPLE_RATE
from omnitalker.inference.errors import (
    CorruptMediaError,
    MediaNotFoundError,
    NoAudioTrackError,
    NoVideoTrackError,
    UnsupportedContainerError,
)

# FFmpeg demuxers that read still images: a reference must be a video with its sound, not a photo.
_IMAGE_DEMUXERS = ("image2", "image2pipe", "gif", "webp", "apng")


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str  # FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration: float  # seconds (container duration, or the longest stream)
    has_video: bool
    has_audio: bool
    fps: float | None
    width: int | None
    height: int | None
    num_frames: int | None  # container estimate; the exact count is only known after decoding
    video_codec: str | None
    video_start: float  # seconds; presentation time of the first video frame
    audio_codec: str | None
    audio_sample_rate: int | None
    audio_channels: int | None
    audio_start: float  # seconds; presentation time of the first audio sample


def _open(path: str | Path):
    """av.open with the errors translated (and the image check)."""
    import av

    path = Path(path)
    if not path.exists():
        raise MediaNotFoundError(f"media file {path} does not exist")
    if not path.is_file():
        raise MediaNotFoundError(f"{path} is not a regular file")
    if path.stat().st_size == 0:
        raise CorruptMediaError(f"{path} is empty (0 bytes)")
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise CorruptMediaError(f"cannot decode {path}: not a readable media file ({exc})") from exc
    demuxer = container.format.name
    if demuxer in _IMAGE_DEMUXERS or demuxer.endswith("_pipe"):
        container.close()
        raise UnsupportedContainerError(
            f"{path} is a still image ({demuxer}); a reference must be a video file with sound (mp4, mov, mkv, ...)"
        )
    return container


def _seconds(value, time_base) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe_media(path: str | Path) -> MediaInfo:
    """Container and stream metadata without decoding. Raises MediaNotFoundError / CorruptMediaError /
    UnsupportedContainerError."""
    container = _open(path)
    try:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        durations = []
        if container.duration is not None:
            durations.append(container.duration / 1_000_000)
        fps = width = height = num_frames = None
        video_codec = None
        video_start = 0.0
        if video is not None:
            rate = video.average_rate or video.guessed_rate or video.base_rate
            fps = float(rate) if rate else None
            width, height = int(video.codec_context.width), int(video.codec_context.height)
            video_codec = video.codec_context.name
            video_start = stream_start(video)
            stream_duration = _seconds(video.duration, video.time_base)
            if stream_duration:
                durations.append(stream_duration)
            if video.frames:
                num_frames = int(video.frames)
            elif fps and durations:
                num_frames = round(max(durations) * fps)
        audio_codec = None
        sample_rate = channels = None
        audio_start = 0.0
        if audio is not None:
            audio_codec = audio.codec_context.name
            sample_rate = int(audio.codec_context.sample_rate) or None
            channels = int(audio.codec_context.channels) if hasattr(audio.codec_context, "channels") else None
            audio_start = _seconds(audio.start_time, audio.time_base) or 0.0
            stream_duration = _seconds(audio.duration, audio.time_base)
            if stream_duration:
                durations.append(stream_duration)
        if video is None and audio is None:
            raise CorruptMediaError(f"{path} holds neither a video nor an audio stream")
        if video is not None and not (fps and fps > 0):
            raise CorruptMediaError(f"{path}: cannot determine the frame rate of the video stream")
        return MediaInfo(
            path=str(path),
            container=container.format.name,
            duration=max(durations) if durations else 0.0,
            has_video=video is not None,
            has_audio=audio is not None,
            fps=fps,
            width=width,
            height=height,
            num_frames=num_frames,
            video_codec=video_codec,
            video_start=video_start,
            audio_codec=audio_codec,
            audio_sample_rate=sample_rate,
            audio_channels=channels,
            audio_start=audio_start,
        )
    finally:
        container.close()


def decode_audio(path: str | Path, *, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, float]:
    """Whole first audio track -> (samples,) float32 mono at `sample_rate` (channels averaged by libswresample),
    plus the start time in seconds of sample 0. NoAudioTrackError if the file has none."""
    import av

    container = _open(path)
    try:
        if not container.streams.audio:
            raise NoAudioTrackError(f"{path} has no audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        pieces: list[np.ndarray] = []
        start: float | None = None
        try:
            for frame in container.decode(stream):
                if start is None and frame.pts is not None and frame.time_base is not None:
                    start = float(frame.pts * frame.time_base)
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise CorruptMediaError(f"cannot decode the audio track of {path}: {exc}") from exc
    finally:
        container.close()
    audio = np.concatenate(pieces).astype(np.float32, copy=False) if pieces else np.zeros(0, np.float32)
    return audio, start or 0.0


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(width, height) shrunk so the longer side is <= max_side, aspect kept, even numbers; never upscales."""
    if not max_side or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def iter_video_frames(
    path: str | Path, *, max_frames: int | None = None, max_side: int | None = None
) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames of the first video track on its constant-rate grid (at most `max_frames`),
    optionally shrunk so the longer side is <= max_side. Frames are placed by timestamp with the rule shared with
    data preparation (`omnitalker.av_timing`): frame k is the instant video_start + k / fps of `probe_media`."""
    import av

    container = _open(path)
    try:
        if not container.streams.video:
            raise NoVideoTrackError(f"{path} has no video track")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        width, height = scaled_size(stream.codec_context.width, stream.codec_context.height, max_side)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        timed = ((frame.time, frame) for frame in container.decode(stream))
        count = 0
        try:
            for frame in constant_rate(timed, float(rate or 25), stream_start(stream)):
                if max_frames is not None and count >= max_frames:
                    break
                if (frame.width, frame.height) != (width, height):
                    frame = frame.reformat(width=width, height=height, interpolation="AREA")
                yield frame.to_ndarray(format="rgb24")
                count += 1
        except av.error.FFmpegError as exc:
            raise CorruptMediaError(f"cannot decode the video track of {path} (after {count} frames): {exc}") from exc
        except FrameTimingError as exc:
            raise CorruptMediaError(f"{path}: {exc}") from exc
    finally:
        container.close()


def decode_video(
    path: str | Path, *, max_frames: int | None = None, max_side: int | None = None
) -> tuple[np.ndarray, float]:
    """First video track -> ((T, H, W, 3) uint8 RGB frames, fps). CorruptMediaError if no frame decodes."""
    info = probe_media(path)
    if not info.has_video:
        raise NoVideoTrackError(f"{path} has no video track")
    frames = list(iter_video_frames(path, max_frames=max_frames, max_side=max_side))
    if not frames:
        raise CorruptMediaError(f"{path}: the video track has no decodable frame")
    return np.stack(frames), float(info.fps)
