"""Detect OmniTalker's watermarks in a media file (audio and video separately), streaming the decode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnitalker.inference.audio_watermark import detect_audio_watermark
from omnitalker.inference.detection import DetectionResult
from omnitalker.inference.errors import CorruptMediaError
from omnitalker.inference.media import _open, decode_audio, probe_media
from omnitalker.inference.video_watermark import GRID, VideoWatermarkDetector
from omnitalker.inference.watermark_key import resolve_key

_BATCH = 32


@dataclass(frozen=True)
class WatermarkReport:
    path: str
    audio: DetectionResult | None  # None: the file has no audio track
    video: DetectionResult | None  # None: the file has no video track

    def summary(self) -> str:
        lines = [self.path]
        for name, result in (("audio", self.audio), ("video", self.video)):
            lines.append("  " + (result.summary() if result is not None else f"{name}: no {name} track"))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "audio": self.audio.to_dict() if self.audio else None,
            "video": self.video.to_dict() if self.video else None,
        }


def _detect_video_file(path: Path, key: str, max_frames: int | None) -> DetectionResult:
    import av

    detector = VideoWatermarkDetector(key)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        batch: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                if frame.width < GRID or frame.height < GRID:
                    return DetectionResult("video", False, 0.0, detector.threshold, 0, note="frames too small")
                batch.append(frame.to_ndarray(format="gray"))
                if len(batch) == _BATCH:
                    detector.update(np.stack(batch))
                    batch.clear()
                if max_frames is not None and detector.num_frames + len(batch) >= max_frames:
                    break
        except av.error.FFmpegError as exc:
            raise CorruptMediaError(f"cannot decode the video track of {path}: {exc}") from exc
        if batch:
            detector.update(np.stack(batch))
    finally:
        container.close()
    return detector.result()


def detect_watermark(path: str | Path, key: str | None = None, *, max_seconds: float | None = None) -> WatermarkReport:
    """Look for `key`'s audio and video watermarks in a file (the first `max_seconds` only, if given)."""
    key = resolve_key(key)
    path = Path(path)
    info = probe_media(path)
    video = audio = None
    if info.has_video:
        max_frames = int(max_seconds * info.fps) if max_seconds else None
        video = _detect_video_file(path, key, max_frames)
    if info.has_audio:
        samples, _ = decode_audio(path)
        if max_seconds:
            samples = samples[: int(max_seconds * 24_000)]
        audio = detect_audio_watermark(samples, key)
    return WatermarkReport(str(path), audio, video)
