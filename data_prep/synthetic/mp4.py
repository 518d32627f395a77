"""Write frames + audio as an mp4 (H.264 yuv420p video, AAC mono audio) with PyAV, to a file or to bytes.

Video and audio are fed in matching chunks so the muxer interleaves them. Files are written to a temporary name in
the target directory and moved into place on success, so an interrupted run never leaves a half-written mp4.
"""

from __future__ import annotations

import io
import logging
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from omnitalker.constants import SAMPLE_RATE

log = logging.getLogger(__name__)


class Mp4Writer:
    """Streaming mp4 writer: ``add(frames (n, H, W, 3) uint8, audio (m,) float32)`` repeatedly, then ``close()``.

    ``target`` is a path (written atomically) or None (the mp4 bytes are returned by :meth:`close`).
    ``crf``/``preset`` are libx264 settings; ``threads`` fixes the encoder's threading so output is reproducible.
    ``audio_start`` (s) delays the audio stream's start time against the video's (to test A/V alignment): the first
    audio sample is then meant to play at that instant after the first frame.
    """

    def __init__(self, target: str | os.PathLike | None, fps: float, size: int, crf: int = 20,
                 preset: str = "veryfast", audio_bitrate: int = 64_000, threads: int = 1,
                 audio_start: float = 0.0) -> None:
        if audio_start < 0:
            raise ValueError(f"audio_start must be >= 0 s, got {audio_start}")
        self.path = Path(target) if target is not None else None
        self._buffer = io.BytesIO() if self.path is None else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        sink = self._buffer if self.path is None else str(self._tmp)
        self._container = av.open(sink, mode="w", format="mp4")
        rate = Fraction(fps).limit_denominator(1001)
        self._video = self._container.add_stream("libx264", rate=rate)
        self._video.width = self._video.height = size
        self._video.pix_fmt = "yuv420p"
        self._video.options = {"crf": str(crf), "preset": preset, "threads": str(threads)}
        self._audio = self._container.add_stream("aac", rate=SAMPLE_RATE)
        self._audio.layout = "mono"
        self._audio.bit_rate = audio_bitrate
        self._audio_pts = round(audio_start * SAMPLE_RATE)
        self._closed = False

    def add(self, frames: np.ndarray, audio: np.ndarray | None = None) -> None:
        """Append (n, H, W, 3) uint8 RGB frames and optionally the (m,) float32 audio that plays under them."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be (n, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
        for image in frames:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in self._video.encode(frame):
                self._container.mux(packet)
        if audio is not None and audio.size:
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio, dtype=np.float32).reshape(1, -1),
                                               format="flt", layout="mono")
            chunk.sample_rate = SAMPLE_RATE
            chunk.pts = self._audio_pts
            chunk.time_base = Fraction(1, SAMPLE_RATE)
            self._audio_pts += audio.shape[-1]
            for packet in self._audio.encode(chunk):
                self._container.mux(packet)

    def close(self) -> bytes | None:
        """Flush the encoders and finish the file; returns the mp4 bytes when writing to memory."""
        if self._closed:
            raise RuntimeError("Mp4Writer is already closed")
        self._closed = True
        try:
            for stream in (self._video, self._audio):
                for packet in stream.encode(None):
                    self._container.mux(packet)
        finally:
            self._container.close()
        if self.path is not None:
            os.replace(self._tmp, self.path)
            return None
        return self._buffer.getvalue()

    def abort(self) -> None:
        """Stop without producing output (removes the temporary file)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._container.close()
        except Exception as exc:  # the container may be in any state; the temp file goes regardless
            log.debug("closing an aborted mp4 failed: %s", exc)
        if self.path is not None and self._tmp.exists():
            self._tmp.unlink()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            if not self._closed:
                self.close()
        else:
            self.abort()
