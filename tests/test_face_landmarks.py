"""Landmarks on a real shared clip, extract_codes on a short real clip, and the documented errors on hard cases."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from omnitalker.face.errors import (
    ClipTooShortError,
    LandmarkerModelNotFoundError,
    MultipleFacesError,
    NoFaceError,
    VideoDecodeError,
)
from omnitalker.face.extract import extract_codes
from omnitalker.face.landmarks import LandmarkerConfig, extract_landmarks, resolve_landmarker_model
from omnitalker.face.video import read_frames

MEDIA = SHARED / "media"
TALKING = MEDIA / "video" / "mimictalk_Trump_10s.mp4"
# not among the videos the shipped face model was built from (FaceModel.default().build_info["sources"])
UNSEEN_TALKING = MEDIA / "hard" / "vexpress_RD_Radio10_0_clip_0.mp4"
NO_FACE = MEDIA / "hard" / "mmaudio_F8Zt3mYlOqU_000094.mp4"
TWO_PEOPLE = MEDIA / "hard" / "facerec_two_people.jpg"

pytestmark = [
    pytest.mark.skipif(not TALKING.is_file(), reason="shared media not available"),
    pytest.mark.usefixtures("single_thread"),
]


def write_video(path: Path, frames: np.ndarray, fps: float = 25.0) -> Path:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            image = np.ascontiguousarray(frame[: stream.height, : stream.width])
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_landmarks_on_real_clip():
    track = extract_landmarks(TALKING, LandmarkerConfig(max_side=256, count_faces_every=3), end_frame=12)
    assert track.landmarks.shape == (12, 478, 3)
    assert track.blendshapes.shape == (12, 51) and track.transforms.shape == (12, 4, 4)
    assert track.detected.all()
    counted = track.num_faces[track.num_faces >= 0]
    assert counted.size == 4 and (counted == 1).all()
    # pixels of the original 512x512 video; subject's right eye corner (33) left of the left one (263)
    xy = track.landmarks[..., :2]
    assert 0 < xy.min() and xy.max() < 512
    assert (track.landmarks[:, 33, 0] < track.landmarks[:, 263, 0]).all()
    assert ((track.blendshapes >= 0) & (track.blendshapes <= 1)).all()


def test_extract_codes_on_short_real_clip(tmp_path):
    """Out of sample: a real talking clip that did not build the face model is fitted to within 1 % of the
    inter-ocular distance (measured 0.20 %; leave-one-out over the build videos: scripts/face_landmark_loo.py)."""
    from omnitalker.face.face_model import FaceModel

    assert UNSEEN_TALKING.name not in FaceModel.default().build_info["sources"]
    clip = write_video(tmp_path / "talk.mp4", read_frames(UNSEEN_TALKING, max_side=256, max_frames=16))
    codes, fps, report = extract_codes(clip)
    assert codes.shape == (16, 61) and fps == pytest.approx(25.0)
    assert codes[:, :51].min() >= 0 and codes[:, :51].max() <= 1
    assert report["fit_error_mean"] < 0.01  # < 1 % of the inter-ocular distance
    assert report["face_fraction"] == 1.0
    assert abs(np.degrees(codes[:, 51:54])).max() < 20  # near-frontal address to camera


def test_hard_cases_raise_documented_errors(tmp_path):
    no_face = write_video(tmp_path / "noface.mp4", read_frames(NO_FACE, max_side=256, max_frames=10))
    with pytest.raises(NoFaceError, match="face was tracked in 0%"):
        extract_codes(no_face)
    from PIL import Image

    two = np.asarray(Image.open(TWO_PEOPLE).convert("RGB").resize((564, 330)))
    two_people = write_video(tmp_path / "two.mp4", np.repeat(two[None], 10, axis=0))
    with pytest.raises(MultipleFacesError, match="several faces"):
        extract_codes(two_people)
    short = write_video(tmp_path / "short.mp4", read_frames(TALKING, max_side=128, max_frames=3))
    with pytest.raises(ClipTooShortError, match="3 frames"):
        extract_codes(short)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video")
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        extract_codes(broken)
    with pytest.raises(VideoDecodeError, match="does not exist"):
        extract_codes(tmp_path / "missing.mp4")


def test_missing_landmarker_model_names_the_file(tmp_path):
    with pytest.raises(LandmarkerModelNotFoundError, match="face_landmarker.task"):
        resolve_landmarker_model(tmp_path / "nowhere" / "face_landmarker.task")
    assert resolve_landmarker_model(None).name == "face_landmarker.task"
