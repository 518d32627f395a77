"""Controls acting on generated raw visual codes (T, 61) at the mel rate, before rendering, chunk by chunk.

    lip        articulation blendshapes (`presets.LIP_CHANNELS`) x lip                        (amplitude about 0)
    head       pose (yaw, pitch, roll, tx, ty, tz) = centre + head x (pose - centre)           (std x head, exactly)
    smile, brow, eye_open, emotion   + a blendshape offset (`presets.expression_offset`)
    blink_rate generated blinks flattened, scheduled blinks laid on (`blinks.BlinkSchedule`)
    gaze_lock  eye gaze = - head (yaw, pitch): the eyes counter-rotate the head and look into the camera
    then every blendshape is clipped to [0, 1].

Every step is per frame except the head centre and the blink schedule, which are state fixed before the first
frame (the centre) or a function of absolute time (the schedule): `ControlApplier.push` on consecutive chunks gives
exactly the one-pass result (`apply_controls`). The head centre is the mean pose of the reference codes the
generation was prompted with (the person's own rest pose, known before the first chunk); without one, the mean
pose of the first pushed chunk. Because the centre is a constant, the standard deviation of every pose dimension
is multiplied by ``head`` exactly, whatever the centre (until the rotation limit clips it).
"""

from __future__ import annotations

import numpy as np
import torch

from omnitalker.constants import CODE_DIM, EXPRESSION_SLICE, EYE_SLICE, MEL_FPS, POSE_SLICE
from omnitalker.controls.blinks import BlinkSchedule, replace_blinks
from omnitalker.controls.config import ControlError, Controls
from omnitalker.controls.presets import LIP_CHANNELS, channel_index, expression_offset

ROTATION_LIMIT = np.pi / 3  # |yaw|, |pitch|, |roll| after head scaling (radians)
GAZE_LIMIT = 0.6  # |gaze| the eyes can counter-rotate (radians, ~35 degrees)
_LIP = channel_index(LIP_CHANNELS)
_BLINK = channel_index(("eyeBlinkLeft", "eyeBlinkRight"))


class ControlApplier:
    """Stateful: ``push(codes_chunk)`` -> the chunk under ``controls``; chunks must be consecutive, at ``fps``.
    ``centre_pose`` (6,): the pose the head amplitude is scaled about (see the module docstring)."""

    def __init__(self, controls: Controls | None, fps: float = MEL_FPS, centre_pose: np.ndarray | None = None,
                 seed: int = 0) -> None:
        self.controls = controls or Controls()
        if not isinstance(self.controls, Controls):
            raise ControlError(f"controls must be an omnitalker.controls.Controls, got {type(controls).__name__}")
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.centre = None if centre_pose is None else np.asarray(centre_pose, np.float32).reshape(6)
        c = self.controls
        self.offset = expression_offset(c.emotion, c.emotion_intensity, c.smile, c.brow, c.eye_open)  # (51,)
        self.blinks = BlinkSchedule(c.blink_rate, seed) if c.blink_rate is not None else None
        self.frame = 0  # absolute index of the next frame pushed

    @classmethod
    def for_reference(cls, controls: Controls | None, reference_codes: np.ndarray | torch.Tensor,
                      fps: float = MEL_FPS, seed: int = 0) -> ControlApplier:
        """Head amplitude scaled about the mean pose of the reference codes (T, 61) the DiT was prompted with."""
        ref = np.asarray(reference_codes, np.float32)
        if ref.ndim != 2 or ref.shape[1] != CODE_DIM or ref.shape[0] == 0:
            raise ValueError(f"reference codes must be (T >= 1, {CODE_DIM}), got {ref.shape}")
        return cls(controls, fps, ref[:, POSE_SLICE].mean(axis=0), seed)

    def push(self, codes: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """(n, 61) raw codes -> (n, 61) controlled codes, same type (and torch dtype/device) as given."""
        is_torch = isinstance(codes, torch.Tensor)
        x = (codes.detach().float().cpu().numpy() if is_torch else np.asarray(codes, np.float32)).copy()  # (n, 61)
        if x.ndim != 2 or x.shape[1] != CODE_DIM:
            raise ValueError(f"codes must be (frames, {CODE_DIM}), got {x.shape}")
        n = x.shape[0]
        c = self.controls
        if n and self.centre is None:
            self.centre = x[:, POSE_SLICE].mean(axis=0)  # (6,) no reference given: the first chunk's mean
        if c.lip != 1.0:
            x[:, _LIP] *= c.lip
        if c.head != 1.0 and n:
            pose = self.centre + c.head * (x[:, POSE_SLICE] - self.centre)  # (n, 6)
            pose[:, :3] = np.clip(pose[:, :3], -ROTATION_LIMIT, ROTATION_LIMIT)
            x[:, POSE_SLICE] = pose
        x[:, EXPRESSION_SLICE] += self.offset
        if self.blinks is not None:
            x[:, _BLINK] = replace_blinks(x[:, _BLINK], self.blinks.track(self.frame, n, self.fps))
        if c.gaze_lock:
            lock_gaze(x)
        x[:, EXPRESSION_SLICE] = np.clip(x[:, EXPRESSION_SLICE], 0.0, 1.0)
        self.frame += n
        if is_torch:
            return torch.from_numpy(x).to(dtype=codes.dtype, device=codes.device)
        return x


def lock_gaze(codes: np.ndarray) -> np.ndarray:
    """In place on (n, 61) codes, returned: both eyes' gaze = -(head yaw, pitch), clipped to ``GAZE_LIMIT``. Also
    applied after relative retargeting (renderer=mesh), which adds the portrait's own pose and gaze offsets."""
    head = codes[:, POSE_SLICE][:, :2]  # (n, 2) yaw, pitch
    codes[:, EYE_SLICE] = np.clip(-np.tile(head, 2), -GAZE_LIMIT, GAZE_LIMIT)  # (n, 4) both eyes
    return codes


def apply_controls(codes: np.ndarray | torch.Tensor, controls: Controls | None, fps: float = MEL_FPS,
                   centre_pose: np.ndarray | None = None, seed: int = 0) -> np.ndarray | torch.Tensor:
    """One pass over a whole track (T, 61): the same as pushing it through a fresh :class:`ControlApplier`."""
    return ControlApplier(controls, fps, centre_pose, seed).push(codes)


def gaze_camera_error_deg(codes: np.ndarray) -> float:
    """Mean angle (degrees) between the gaze and the camera axis, per frame the head (yaw, pitch) plus both eyes'
    gaze (small-angle sum, the conventions of `omnitalker.face.geometry.measure_gaze`); 0 = looking into the lens."""
    codes = np.asarray(codes, np.float64)
    head = codes[:, POSE_SLICE][:, :2]  # (T, 2)
    eyes = codes[:, EYE_SLICE].reshape(-1, 2, 2)  # (T, eye, (yaw, pitch))
    return float(np.degrees(np.linalg.norm(head[:, None, :] + eyes, axis=-1)).mean())



