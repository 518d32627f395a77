"""CSIM: identity similarity between the reference and the generated frames.

CSIM = mean over sampled generated frames of cos(e_ref, e_frame), where e_ref is the normalised mean embedding of
sampled reference frames. Frames where no face is found are skipped (``csim_face_fraction`` reports how many).

Embedders:
- ``dlib`` (offline default): dlib's ResNet 128-D face descriptor (``face_recognition_models`` data files, located
  without importing that package), HOG face detector + 5-point alignment to a 150x150 chip. We report the cosine like
  every other embedder, and also dlib's own Euclidean distance (``csim_dlib_distance``; < 0.6 = same person in dlib's
  convention). Numbers are not comparable with ArcFace CSIM values in papers.
- ``arcface``: an insightface ArcFace onnx (e.g. ``w600k_r50.onnx``, input (N, 3, 112, 112) RGB scaled by
  (x - 127.5) / 127.5, output (N, 512)) from a local path through onnxruntime; faces are aligned to insightface's
  112x112 five-point template with MediaPipe landmarks (eye centres, nose tip, mouth corners).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnitalker.eval.assets import DLIB_RECOGNITION, DLIB_SHAPE_5, face_recognition_models_file
from omnitalker.eval.metric import Clip, EvalItem, Measurement, Metric, MetricError, register

# insightface's arcface_dst: image-left eye, image-right eye, nose tip, image-left / image-right mouth corner
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
# MediaPipe 478-landmark indices for the same five points (eye centres = mean of the two eye corners)
_MP_EYES = ((33, 133), (263, 362))
_MP_NOSE, _MP_MOUTH = 1, (61, 291)


def sample_frames(frames: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` frames spread evenly over the clip (all when count <= 0)."""
    if count <= 0 or frames.shape[0] <= count:
        return frames
    return frames[np.linspace(0, frames.shape[0] - 1, count).round().astype(int)]


class DlibEmbedder:
    name = "dlib_resnet_v1"

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(face_recognition_models_file(DLIB_SHAPE_5)))
        self.net = dlib.face_recognition_model_v1(str(face_recognition_models_file(DLIB_RECOGNITION)))

    def __call__(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T, H, W, 3) uint8 RGB -> (embeddings (T, 128) float64, found (T,) bool); largest face per frame."""
        out = np.zeros((len(frames), 128))
        found = np.zeros(len(frames), dtype=bool)
        for i, frame in enumerate(frames):
            image = np.ascontiguousarray(frame)
            boxes = self.detector(image, 1)
            if len(boxes) == 0:
                continue
            box = max(boxes, key=lambda r: r.area())
            out[i] = np.asarray(self.net.compute_face_descriptor(image, self.shape(image, box)))
            found[i] = True
        return out, found


class ArcFaceEmbedder:
    name = "arcface_onnx"

    def __init__(self, path: str) -> None:
        import onnxruntime as ort

        file = Path(path).expanduser()
        if not file.is_file():
            raise MetricError(f"ArcFace onnx model {file} not found (arcface_path; e.g. insightface w600k_r50.onnx)")
        try:
            self.session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise MetricError(f"{file} is not a loadable onnx model: {str(exc).splitlines()[0]}") from exc
        inp = self.session.get_inputs()[0]
        if len(inp.shape) != 4 or inp.shape[1] != 3:
            raise MetricError(f"{file}: expected an (N, 3, 112, 112) input, got {inp.shape}")
        self.input_name = inp.name
        self.name = f"arcface_onnx:{file.name}"

    def _five_points(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from omnitalker.face.landmarks import LandmarkerConfig, track_frames

        h, w = frames.shape[1:3]
        track = track_frames(enumerate(frames), 1.0, w, h, LandmarkerConfig(count_faces_every=0))
        lm = track.landmarks[..., :2]  # (T, 478, 2) pixels
        eyes = [lm[:, list(pair)].mean(1) for pair in _MP_EYES]
        points = np.stack([eyes[0], eyes[1], lm[:, _MP_NOSE], lm[:, _MP_MOUTH[0]], lm[:, _MP_MOUTH[1]]], 1)
        return points, track.detected  # (T, 5, 2), (T,)

    def __call__(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        points, found = self._five_points(frames)
        chips = np.zeros((len(frames), 112, 112, 3), np.float32)
        for i in np.flatnonzero(found):
            matrix, _ = cv2.estimateAffinePartial2D(points[i], ARCFACE_TEMPLATE, method=cv2.LMEDS)
            if matrix is None:
                found[i] = False
                continue
            chips[i] = cv2.warpAffine(np.ascontiguousarray(frames[i]), matrix, (112, 112), borderValue=0.0)
        out = np.zeros((len(frames), 0))
        if found.any():
            x = ((chips[found] - 127.5) / 127.5).transpose(0, 3, 1, 2).astype(np.float32)  # (n, 3, 112, 112)
            emb = np.concatenate([self.session.run(None, {self.input_name: x[j : j + 1]})[0] for j in range(len(x))])
            out = np.zeros((len(frames), emb.shape[1]))
            out[found] = emb
        return out, found


def unit_vectors(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@register("csim")
class CSIM(Metric):
    name = "csim"

    def __init__(self, embedder: str = "dlib", arcface_path: str | None = None, max_frames: int = 16) -> None:
        if embedder == "dlib":
            self.embedder: DlibEmbedder | ArcFaceEmbedder = DlibEmbedder()
        elif embedder == "arcface":
            if not arcface_path:
                raise MetricError("csim: embedder='arcface' needs arcface_path (a local insightface onnx file)")
            self.embedder = ArcFaceEmbedder(arcface_path)
        else:
            raise MetricError(f"csim: embedder must be 'dlib' or 'arcface', got {embedder!r}")
        self.max_frames = int(max_frames)

    @property
    def info(self) -> dict[str, str]:
        return {"embedder": self.embedder.name}

    def _embed(self, clip: Clip | None, role: str, item_id: str) -> tuple[np.ndarray, np.ndarray]:
        if clip is None or clip.frames is None or len(clip.frames) == 0:
            raise MetricError(f"csim: item {item_id} has no {role} frames")
        frames = np.asarray(clip.frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise MetricError(f"csim: {role} frames of {item_id} must be (T, H, W, 3) uint8, got {frames.shape}")
        return self.embedder(sample_frames(frames, self.max_frames))

    def measure(self, item: EvalItem) -> Measurement:
        ref, ref_found = self._embed(item.reference, "reference", item.id)
        if not ref_found.any():
            raise MetricError(f"csim: no face found in the reference frames of {item.id}")
        gen, gen_found = self._embed(item.generated, "generated", item.id)
        identity = ref[ref_found].mean(0)  # (D,)
        scalars = {"csim_face_fraction": float(gen_found.mean()), "csim": float("nan")}
        if gen_found.any():
            scalars["csim"] = float((unit_vectors(gen[gen_found]) @ unit_vectors(identity)).mean())
            if isinstance(self.embedder, DlibEmbedder):
                scalars["csim_dlib_distance"] = float(np.linalg.norm(gen[gen_found] - identity, axis=1).mean())
        return Measurement(scalars=scalars, arrays={"csim_reference_embedding": identity})
