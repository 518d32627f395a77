"""Exceptions of the face pipeline: each names the file or the problem, so callers can reject a clip with a reason.

Every class derives from `FaceError`, so `except FaceError` catches all face-related failures while specific
handlers (e.g. data preparation turning `NoFaceError` into a recorded rejection) stay possible.
"""

from __future__ import annotations


class FaceError(Exception):
    """Base class of every error raised by `omnitalker.face`."""


class VideoDecodeError(FaceError):
    """The video file is missing, unreadable, has no video stream, or no frame could be decoded."""


class NoFaceError(FaceError):
    """No face was found in (too many frames of) the video."""


class MultipleFacesError(FaceError):
    """Several faces were found where exactly one dominant face is required."""


class ClipTooShortError(FaceError):
    """The video has fewer usable frames than the minimum the fitting needs."""


class LandmarkerModelNotFoundError(FaceError):
    """The MediaPipe `face_landmarker.task` file is not available locally."""


class FaceModelNotFoundError(FaceError):
    """The linear face model file (mean shape + bases) does not exist."""


class FaceModelFormatError(FaceError):
    """A face model file exists but is not a valid, compatible face model."""


class FitError(FaceError):
    """The Eq. 1 fitting could not produce a usable result (e.g. non-finite values, too few tracked frames)."""
