"""One training clip as the data-preparation pipeline hands it to the corpus writer (and the reader hands it back)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omnitalker.constants import CODE_DIM, MEL_FPS, N_MELS, SAMPLE_RATE
from omnitalker.data.errors import ClipValidationError


@dataclass
class ClipRecord:
    """A clip: transcript, visual codes at native fps, and audio and/or log-mel.

    ``codes`` (frames_v, 61) float32 at ``fps``; ``audio`` (samples,) float32 mono 24 kHz; ``mel`` (frames, 100) log-mel
    from :func:`omnitalker.audio.mel.log_mel`. At least one of ``audio``/``mel`` is set; the writer computes the mel
    from the audio when it is missing. ``extra`` holds free-form JSON-serialisable provenance (e.g. the segment's
    start/end time in the source video) and is kept in the shard index, never on the payload path.
    """

    clip_id: str
    source_id: str
    speaker_id: str | None
    language: str
    text: str
    codes: np.ndarray
    fps: float
    audio: np.ndarray | None
    mel: np.ndarray | None
    video: bytes | None = None
    quality: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_mel_frames(self) -> int:
        if self.mel is not None:
            return int(self.mel.shape[0])
        if self.audio is not None:
            from omnitalker.audio.mel import num_mel_frames

            return num_mel_frames(int(self.audio.shape[0]))
        return 0

    @property
    def duration(self) -> float:
        """Seconds: from the audio if present, else from the mel, else from the codes."""
        if self.audio is not None:
            return self.audio.shape[0] / SAMPLE_RATE
        if self.mel is not None:
            return self.mel.shape[0] / MEL_FPS
        return self.codes.shape[0] / self.fps

    def validate(self, max_duration_mismatch_s: float = 0.25) -> None:
        """Raise :class:`ClipValidationError` naming the clip and the problem if anything is malformed."""
        cid = self.clip_id if isinstance(self.clip_id, str) else repr(self.clip_id)

        def fail(problem: str) -> None:
            raise ClipValidationError(f"clip {cid!r}: {problem}")

        for name in ("clip_id", "source_id", "language"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                fail(f"{name} must be a non-empty string, got {value!r}")
        if self.speaker_id is not None and (not isinstance(self.speaker_id, str) or not self.speaker_id):
            fail(f"speaker_id must be None or a non-empty string, got {self.speaker_id!r}")
        if not isinstance(self.text, str):
            fail(f"text must be a string, got {type(self.text).__name__}")
        if not isinstance(self.fps, (int, float)) or not math.isfinite(self.fps) or self.fps <= 0:
            fail(f"fps must be a positive finite number, got {self.fps!r}")

        _check_array(fail, "codes", self.codes, ndim=2, last=CODE_DIM)
        if self.codes.shape[0] < 1:
            fail("codes has no frames")
        if self.audio is None and self.mel is None:
            fail("at least one of audio and mel must be given")
        if self.audio is not None:
            _check_array(fail, "audio", self.audio, ndim=1, last=None)
            if self.audio.shape[0] < 1:
                fail("audio is empty")
        if self.mel is not None:
            _check_array(fail, "mel", self.mel, ndim=2, last=N_MELS)
            if self.mel.shape[0] < 1:
                fail("mel has no frames")
            if self.audio is not None:
                from omnitalker.audio.mel import num_mel_frames

                expected = num_mel_frames(self.audio.shape[0])
                if self.mel.shape[0] != expected:
                    fail(f"mel has {self.mel.shape[0]} frames but audio of {self.audio.shape[0]} samples gives "
                         f"{expected} (omnitalker.audio.mel.num_mel_frames)")
        if self.video is not None and not isinstance(self.video, (bytes, bytearray, memoryview)):
            fail(f"video must be bytes (an encoded mp4) or None, got {type(self.video).__name__}")

        code_seconds = self.codes.shape[0] / self.fps
        audio_seconds = self.duration
        if abs(code_seconds - audio_seconds) > max_duration_mismatch_s:
            fail(f"codes last {code_seconds:.3f} s ({self.codes.shape[0]} frames at {self.fps} fps) but the audio "
                 f"lasts {audio_seconds:.3f} s (tolerance {max_duration_mismatch_s} s)")

        if not isinstance(self.quality, dict):
            fail(f"quality must be a dict[str, float], got {type(self.quality).__name__}")
        for key, value in self.quality.items():
            if not isinstance(key, str) or not key:
                fail(f"quality keys must be non-empty strings, got {key!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                fail(f"quality[{key!r}] must be a number, got {value!r}")
            if not math.isfinite(float(value)):
                fail(f"quality[{key!r}] must be finite, got {value!r} (omit the key if unknown)")
        if not isinstance(self.extra, dict):
            fail(f"extra must be a dict, got {type(self.extra).__name__}")
        try:
            json.dumps(self.extra)
        except (TypeError, ValueError) as e:
            fail(f"extra must be JSON-serialisable ({e})")


def _check_array(fail, name: str, array: object, ndim: int, last: int | None) -> None:
    if not isinstance(array, np.ndarray):
        fail(f"{name} must be a numpy array, got {type(array).__name__}")
    if array.ndim != ndim or (last is not None and array.shape[-1] != last):
        want = f"(frames, {last})" if last is not None else "(samples,)"
        fail(f"{name} must have shape {want}, got {tuple(array.shape)}")
    if not np.issubdtype(array.dtype, np.floating):
        fail(f"{name} must be floating point, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        fail(f"{name} contains NaN or infinite values")
