"""Head-pose conventions shared by the face model, the fitting and the renderer.

Coordinate frame (both canonical/head frame and the posed frame): x to the image right, y to the image DOWN,
z INTO the scene (away from the camera); right-handed, the usual OpenCV camera convention. A frontal, upright face
therefore has identity rotation, its nose tip has the smallest z.

Rotation: ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` (pitch applied first, then yaw, then roll, about the fixed axes).
With these signs: positive yaw turns the nose towards the image LEFT (-x), positive pitch tilts the nose DOWN (+y,
the subject looks down), positive roll turns the face clockwise in the image. Angles are in radians.
"""

from __future__ import annotations

import torch
from torch import Tensor


def euler_to_matrix(yaw: Tensor, pitch: Tensor, roll: Tensor) -> Tensor:
    """(...), (...), (...) radians -> (..., 3, 3) rotation ``Rz(roll) @ Ry(yaw) @ Rx(pitch)``."""
    cy, sy = torch.cos(yaw), torch.sin(yaw)
    cp, sp = torch.cos(pitch), torch.sin(pitch)
    cr, sr = torch.cos(roll), torch.sin(roll)
    row0 = torch.stack([cr * cy, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp], dim=-1)
    row1 = torch.stack([sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp], dim=-1)
    row2 = torch.stack([-sy, cy * sp, cy * cp], dim=-1)
    return torch.stack([row0, row1, row2], dim=-2)  # (..., 3, 3)


def matrix_to_euler(rotation: Tensor) -> Tensor:
    """(..., 3, 3) rotation -> (..., 3) (yaw, pitch, roll) radians, inverse of `euler_to_matrix` for |yaw| < pi/2."""
    yaw = torch.asin((-rotation[..., 2, 0]).clamp(-1.0, 1.0))
    pitch = torch.atan2(rotation[..., 2, 1], rotation[..., 2, 2])
    roll = torch.atan2(rotation[..., 1, 0], rotation[..., 0, 0])
    return torch.stack([yaw, pitch, roll], dim=-1)


def nearest_rotation(matrix: Tensor) -> Tensor:
    """(..., 3, 3) any matrix -> the closest proper rotation (SVD projection, det = +1)."""
    u, _, vh = torch.linalg.svd(matrix)
    det = torch.det(u @ vh)
    fix = torch.ones_like(matrix[..., 0, :])  # (..., 3)
    fix[..., 2] = det
    return u @ torch.diag_embed(fix) @ vh
