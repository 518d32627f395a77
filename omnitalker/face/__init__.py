"""Face pipeline: MediaPipe landmarks, the linear face model on MediaPipe's topology, Eq. 1 code fitting.

from omnitalker.face import FaceModel, extract_codes
codes, fps, report = extract_codes("reference.mp4")      # (T, 61) float32 at the video's fps
"""

from omnitalker.face.errors import (
    ClipTooShortError,
    FaceError,
    FaceModelFormatError,
    FaceModelNotFoundError,
    FitError,
    LandmarkerModelNotFoundError,
    MultipleFacesError,
    NoFaceError,
    VideoDecodeError,
)
from omnitalker.face.extract import ExtractConfig, FaceCheckConfig, extract_codes
from omnitalker.face.face_model import FaceModel

__all__ = [
    "ClipTooShortError",
    "ExtractConfig",
    "FaceCheckConfig",
    "FaceError",
    "FaceModel",
    "FaceModelFormatError",
    "FaceModelNotFoundError",
    "FitError",
    "LandmarkerModelNotFoundError",
    "MultipleFacesError",
    "NoFaceError",
    "VideoDecodeError",
    "extract_codes",
]
