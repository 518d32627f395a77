"""Linear face model on MediaPipe's 478-landmark topology, and the 61-D visual code -> 3-D landmarks mapping.

    shape(beta, gamma)  = S_mean + B_exp . beta + B_eye . gamma (+ per-clip identity offset)     canonical frame
    posed(code)         = exp(tz) * R(yaw, pitch, roll) @ shape + (tx, ty, 0)                     posed frame

Conventions (the renderer, the fitting and data preparation all rely on them):
- Axes: x image-right, y image-down, z into the scene (see `omnitalker.face.pose`). Rotation order
  ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``; positive yaw = nose to the image left, positive pitch = looking down.
- Units: one **face unit** = the mean distance between the outer eye corners (landmarks 33 and 263) of the mean
  shape, i.e. the mean shape's inter-ocular distance is 1. The origin of the canonical frame is the rotation centre:
  the centroid of the mean shape pushed `HEAD_CENTER_DEPTH` face units into the head (near MediaPipe's canonical
  origin), so that pure head rotations do not show up as translations.
- Projection: weak perspective (scaled orthographic). A frame's landmarks in pixels are
  ``s_ref * posed[..., :2] + centre_ref`` where ``s_ref`` (pixels per face unit) and ``centre_ref`` (pixels) are
  per-clip references fixed by the fitting (`omnitalker.face.fitting`): the median scale and position over the clip.
  Hence translation is *normalised by face scale*: ``tx, ty = (t - centre_ref) / s_ref``, and depth enters as scale:
  ``tz = log(s / s_ref)`` (positive = closer / larger; ~ -relative depth change under weak perspective).
- The 512x512 face crop stored for renderer training is the square of side ``CROP_SIZE_IN_FACE_UNITS * s_ref``
  pixels centred on ``centre_ref`` (`crop_box`); in that crop, normalised coordinates in [-1, 1] are
  ``posed[..., :2] / (CROP_SIZE_IN_FACE_UNITS / 2)`` (`to_crop_coordinates`).
- Code layout (`omnitalker.constants`): [0:51] blendshapes in [0, 1] (ARKit names, MediaPipe order), [51:57]
  (yaw, pitch, roll, tx, ty, tz), [57:61] gaze (yaw, pitch) of the subject's left eye, then of the right eye.
  Left/right are the SUBJECT's sides, as in MediaPipe (the left eye appears on the image right; iris centre 473).

The model is built from landmark tracks by `python -m omnitalker.face.build_model` (see that module) and stored as a
small versioned safetensors file; `FaceModel.default()` loads the copy shipped in `omnitalker/face/assets/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from omnitalker.constants import BLENDSHAPE_NAMES, CODE_DIM, EXPRESSION_SLICE, EYE_NAMES, EYE_SLICE, POSE_SLICE
from omnitalker.face.errors import FaceModelFormatError, FaceModelNotFoundError
from omnitalker.face.pose import euler_to_matrix

FACE_MODEL_FORMAT = "omnitalker-face-model"
FACE_MODEL_VERSION = 1
NUM_LANDMARKS = 478
DEFAULT_MODEL_PATH = Path(__file__).parent / "assets" / f"face_model_v{FACE_MODEL_VERSION}.safetensors"
BUILD_COMMAND = "python -m omnitalker.face.build_model"

# Landmark indices of MediaPipe's topology that the conventions above refer to.
OUTER_EYE_CORNERS: tuple[int, int] = (33, 263)  # subject's right (image left), subject's left (image right)
RIGHT_IRIS: tuple[int, ...] = (468, 469, 470, 471, 472)  # centre first; subject's right eye
LEFT_IRIS: tuple[int, ...] = (473, 474, 475, 476, 477)  # centre first; subject's left eye
IRIS_INDICES: tuple[int, ...] = RIGHT_IRIS + LEFT_IRIS
HEAD_CENTER_DEPTH: float = 0.8  # face units behind the landmark centroid (~7-8 cm for an adult)
CROP_SIZE_IN_FACE_UNITS: float = 4.0  # side of the square face crop, in face units (face + hair + chin)

# The renderer's keypoints: a sparse, symmetric subset of MediaPipe's contours (eyes with iris centres, brows, lips,
# jaw contour, nose). Order inside each group follows the contour.
KEYPOINT_GROUPS: dict[str, list[int]] = {
    "right_eye": [33, 160, 158, 133, 153, 144, 468],
    "left_eye": [263, 387, 385, 362, 380, 373, 473],
    "right_brow": [70, 63, 105, 66, 107],
    "left_brow": [300, 293, 334, 296, 336],
    "mouth_outer": [61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91],
    "mouth_inner": [78, 81, 13, 311, 308, 402, 14, 178],
    "contour": [234, 93, 132, 58, 172, 136, 150, 176, 152, 400, 379, 365, 397, 288, 361, 323, 454],
    "nose": [168, 1, 98, 327],
}


def keypoint_indices_from_groups(groups: dict[str, list[int]]) -> Tensor:
    """Concatenate the groups (in insertion order) into a (K,) long tensor of landmark indices."""
    return torch.tensor([i for idx in groups.values() for i in idx], dtype=torch.long)


def crop_box(centre_ref: tuple[float, float], scale_ref: float) -> tuple[float, float, float]:
    """Per-clip references -> (x0, y0, side) in pixels of the square face crop used for renderer training."""
    side = CROP_SIZE_IN_FACE_UNITS * scale_ref
    return centre_ref[0] - side / 2, centre_ref[1] - side / 2, side


def to_crop_coordinates(points: Tensor) -> Tensor:
    """(..., 3) posed points in face units -> same points in the crop's normalised frame ([-1, 1] covers the crop)."""
    return points / (CROP_SIZE_IN_FACE_UNITS / 2)


class FaceModel(nn.Module):
    """Mean shape + 51 blendshape columns + 4 gaze columns on MediaPipe's 478 landmarks (see module docstring).

    The tensors are non-persistent buffers: `.to(device)` moves them, but a module that holds a FaceModel does not
    copy it into its own checkpoint (the face model has its own file).
    """

    mean_shape: Tensor  # (478, 3)
    exp_basis: Tensor  # (51, 478, 3)
    eye_basis: Tensor  # (4, 478, 3)
    keypoint_indices: Tensor  # (K,)

    def __init__(
        self,
        mean_shape: Tensor,
        exp_basis: Tensor,
        eye_basis: Tensor,
        keypoint_groups: dict[str, list[int]] | None = None,
        build_info: dict | None = None,
    ) -> None:
        super().__init__()
        n = mean_shape.shape[0]
        expected = {
            "mean_shape": (n, 3),
            "exp_basis": (len(BLENDSHAPE_NAMES), n, 3),
            "eye_basis": (len(EYE_NAMES), n, 3),
        }
        for name, tensor in (("mean_shape", mean_shape), ("exp_basis", exp_basis), ("eye_basis", eye_basis)):
            if tuple(tensor.shape) != expected[name]:
                raise FaceModelFormatError(f"{name} has shape {tuple(tensor.shape)}, expected {expected[name]}")
            if not torch.isfinite(tensor).all():
                raise FaceModelFormatError(f"{name} contains non-finite values")
        groups = {k: list(map(int, v)) for k, v in (keypoint_groups or KEYPOINT_GROUPS).items()}
        indices = keypoint_indices_from_groups(groups)
        if indices.numel() == 0 or int(indices.min()) < 0 or int(indices.max()) >= n:
            raise FaceModelFormatError(f"keypoint indices must lie in [0, {n}), got {indices.tolist()}")
        self.register_buffer("mean_shape", mean_shape.float().contiguous(), persistent=False)
        self.register_buffer("exp_basis", exp_basis.float().contiguous(), persistent=False)
        self.register_buffer("eye_basis", eye_basis.float().contiguous(), persistent=False)
        self.register_buffer("keypoint_indices", indices, persistent=False)
        self.keypoint_groups = groups
        self.build_info = dict(build_info or {})

    @property
    def num_landmarks(self) -> int:
        return self.mean_shape.shape[0]

    @property
    def num_keypoints(self) -> int:
        return self.keypoint_indices.numel()

    # --- shape math ---------------------------------------------------------------------------------------------

    def shape(self, expression: Tensor, eye: Tensor, identity: Tensor | None = None) -> Tensor:
        """(..., 51) blendshapes, (..., 4) gaze [, (..., 478, 3) identity offset] -> (..., 478, 3) canonical shape."""
        out = self.mean_shape + torch.einsum("...e,enc->...nc", expression, self.exp_basis)  # (..., 478, 3)
        out = out + torch.einsum("...g,gnc->...nc", eye, self.eye_basis)
        if identity is not None:
            out = out + identity
        return out

    def rotation(self, codes: Tensor) -> Tensor:
        """(..., 61) -> (..., 3, 3) head rotation of the codes."""
        pose = codes[..., POSE_SLICE]  # (..., 6)
        return euler_to_matrix(pose[..., 0], pose[..., 1], pose[..., 2])

    def apply_pose(self, points: Tensor, codes: Tensor) -> Tensor:
        """(..., N, 3) canonical points, (..., 61) codes -> (..., N, 3) posed points (face units, see docstring)."""
        pose = codes[..., POSE_SLICE]  # (..., 6)
        rotated = points @ self.rotation(codes).transpose(-1, -2)  # (..., N, 3)
        scale = torch.exp(pose[..., 5])[..., None, None]  # (..., 1, 1)
        shift = torch.cat([pose[..., 3:5], torch.zeros_like(pose[..., :1])], dim=-1)[..., None, :]  # (..., 1, 3)
        return scale * rotated + shift

    def posed(self, codes: Tensor, identity: Tensor | None = None) -> Tensor:
        """(..., 61) codes [, (..., 478, 3) identity offset] -> (..., 478, 3) posed landmarks."""
        self._check_codes(codes)
        canonical = self.shape(codes[..., EXPRESSION_SLICE], codes[..., EYE_SLICE], identity)
        return self.apply_pose(canonical, codes)

    def keypoints(self, codes: Tensor, identity: Tensor | None = None) -> Tensor:
        """(..., 61) codes -> (..., K, 3) posed renderer keypoints (only the K rows are computed)."""
        self._check_codes(codes)
        idx = self.keypoint_indices
        out = self.mean_shape[idx] + torch.einsum(
            "...e,ekc->...kc", codes[..., EXPRESSION_SLICE], self.exp_basis[:, idx]
        )
        out = out + torch.einsum("...g,gkc->...kc", codes[..., EYE_SLICE], self.eye_basis[:, idx])
        if identity is not None:
            out = out + identity[..., idx, :]
        return self.apply_pose(out, codes)  # (..., K, 3)

    def project(self, points: Tensor, scale_ref: Tensor | float, centre_ref: Tensor) -> Tensor:
        """(..., N, 3) posed points -> (..., N, 2) pixel coordinates under weak perspective with the clip references."""
        return points[..., :2] * scale_ref + centre_ref[..., None, :]

    @staticmethod
    def _check_codes(codes: Tensor) -> None:
        if codes.shape[-1] != CODE_DIM:
            raise ValueError(
                f"visual codes must have {CODE_DIM} values in the last dimension, got shape {tuple(codes.shape)}"
            )

    # --- persistence ----------------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write a versioned safetensors file atomically (temp file in the same directory, then `os.replace`)."""
        import os

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {
            "mean_shape": self.mean_shape.detach().cpu().contiguous(),
            "exp_basis": self.exp_basis.detach().cpu().contiguous(),
            "eye_basis": self.eye_basis.detach().cpu().contiguous(),
            "keypoint_indices": self.keypoint_indices.detach().cpu().contiguous(),
        }
        metadata = {
            "format": FACE_MODEL_FORMAT,
            "version": str(FACE_MODEL_VERSION),
            "blendshape_names": json.dumps(list(BLENDSHAPE_NAMES)),
            "eye_names": json.dumps(list(EYE_NAMES)),
            "keypoint_groups": json.dumps(self.keypoint_groups),
            "build_info": json.dumps(self.build_info),
        }
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> FaceModel:
        """Read a file written by `save`; raises FaceModelNotFoundError / FaceModelFormatError naming the file."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FaceModelNotFoundError(f"face model file {path} does not exist; build it with `{BUILD_COMMAND}`")
        try:
            with safe_open(str(path), framework="pt") as f:
                metadata = f.metadata() or {}
            tensors = load_file(str(path))
        except Exception as exc:  # safetensors raises several unrelated types on a corrupt header
            raise FaceModelFormatError(f"{path} is not a readable safetensors file: {exc}") from exc
        if metadata.get("format") != FACE_MODEL_FORMAT:
            raise FaceModelFormatError(f"{path} is not an OmniTalker face model (format={metadata.get('format')!r})")
        if metadata.get("version") != str(FACE_MODEL_VERSION):
            raise FaceModelFormatError(
                f"{path} has face model version {metadata.get('version')}, this code reads version {FACE_MODEL_VERSION}"
            )
        if json.loads(metadata.get("blendshape_names", "[]")) != list(BLENDSHAPE_NAMES):
            raise FaceModelFormatError(f"{path}: blendshape names/order differ from omnitalker.constants")
        missing = {"mean_shape", "exp_basis", "eye_basis"} - tensors.keys()
        if missing:
            raise FaceModelFormatError(f"{path} lacks tensors {sorted(missing)}")
        groups = json.loads(metadata.get("keypoint_groups", "null")) or KEYPOINT_GROUPS
        return cls(
            tensors["mean_shape"],
            tensors["exp_basis"],
            tensors["eye_basis"],
            keypoint_groups=groups,
            build_info=json.loads(metadata.get("build_info", "{}")),
        )

    @classmethod
    def default(cls) -> FaceModel:
        """The face model shipped with the package (`omnitalker/face/assets/face_model_v1.safetensors`)."""
        return cls.load(DEFAULT_MODEL_PATH)
