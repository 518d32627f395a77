"""Exceptions of the inference inputs and outputs (reference media, texts, durations, output files, watermarks).

Every error names the file or argument it is about. All derive from `InferenceInputError`, so a caller (CLI, web
demo) can catch one class and show the message; the file-related ones also derive from the matching builtin
(`FileNotFoundError`, `ValueError`) so generic handlers keep working.
"""

from __future__ import annotations


class InferenceInputError(Exception):
    """Base class of every error about what inference was given."""


# --- reference media ---
class MediaNotFoundError(InferenceInputError, FileNotFoundError):
    """The media file does not exist (or is not a regular file)."""


class CorruptMediaError(InferenceInputError):
    """The file exists but cannot be decoded (truncated, not a media file, broken stream)."""


class UnsupportedContainerError(InferenceInputError):
    """The file is a media file of a kind inference does not read (an image, an audio-only format, ...)."""


class NoAudioTrackError(InferenceInputError):
    """The reference video has no audio stream (the voice to imitate)."""


class NoVideoTrackError(InferenceInputError):
    """The reference has no video stream (the face to imitate)."""


class SilentAudioError(InferenceInputError):
    """The reference audio track is (digital) silence: there is no voice to imitate."""


class ReferenceTooShortError(InferenceInputError):
    """The reference is shorter than the minimum (1 s by default)."""


# --- texts and durations ---
class TextInputError(InferenceInputError, ValueError):
    """A text to speak or a reference transcript is empty or has nothing to pronounce."""


class DurationError(InferenceInputError, ValueError):
    """Invalid speed / explicit duration, or a length budget that cannot be met."""


# --- output arrays and files ---
class MediaArrayError(InferenceInputError, ValueError):
    """Frames or audio handed to the muxer / watermarker have the wrong shape, dtype or size."""


class WatermarkError(InferenceInputError, ValueError):
    """Invalid watermark key or input too short / too small to carry or detect a watermark."""


# --- identity images ---
class IdentityImageError(InferenceInputError, ValueError):
    """An identity portrait cannot be used: not an image, no face, several faces, a face too small."""
