"""Renderer motion from visual codes: the face model's posed 3-D keypoints in the crop's normalised frame.

``FaceModel.keypoints(codes)`` gives posed keypoints in face units (x right, y down, z into the scene);
``to_crop_coordinates`` maps them so that x, y in [-1, 1] cover the 512x512 face crop, which is exactly the
``grid_sample`` convention of the feature volume. Depth is re-centred on the neutral face so the keypoints sit in the
middle of the volume's depth axis.
"""

from __future__ import annotations

import torch
from torch import nn

from omnitalker.constants import CODE_DIM
from omnitalker.face.face_model import FaceModel, to_crop_coordinates
from omnitalker.render.errors import CodeDimensionError, NoFaceError


def check_codes(codes: torch.Tensor, name: str) -> None:
    """Codes must be (..., 61) and finite (a NaN code means the face fit failed on that frame)."""
    if not isinstance(codes, torch.Tensor):
        raise CodeDimensionError(
            f"{name} must be a torch.Tensor of shape (..., {CODE_DIM}), got {type(codes).__name__}"
        )
    if codes.dim() == 0 or codes.shape[-1] != CODE_DIM:
        raise CodeDimensionError(f"{name} must have {CODE_DIM} values per frame, got shape {tuple(codes.shape)}")
    if not torch.isfinite(codes).all():
        raise NoFaceError(f"{name} contain NaN/inf values: no face was fitted on those frames")


class CodeKeypoints(nn.Module):
    """(..., 61) codes -> (..., K, 3) keypoints in normalised crop coordinates (K = face_model.num_keypoints)."""

    def __init__(self, face_model: FaceModel) -> None:
        super().__init__()
        self.face_model = face_model
        neutral = to_crop_coordinates(face_model.keypoints(torch.zeros(CODE_DIM)))  # (K, 3)
        self.register_buffer("depth_offset", neutral[:, 2].mean().reshape(1), persistent=False)

    @property
    def num_keypoints(self) -> int:
        return self.face_model.num_keypoints

    def group_indices(self, group: str) -> list[int]:
        """Positions (in 0..K-1) of a keypoint group of the face model, e.g. the mouth for the mouth loss."""
        offset = 0
        for name, members in self.face_model.keypoint_groups.items():
            if name == group:
                return list(range(offset, offset + len(members)))
            offset += len(members)
        raise KeyError(f"face model has no keypoint group {group!r}; groups: {list(self.face_model.keypoint_groups)}")

    def mouth_indices(self) -> list[int]:
        groups = [g for g in self.face_model.keypoint_groups if g.startswith("mouth")]
        if not groups:
            raise KeyError(f"face model has no mouth keypoint group; groups: {list(self.face_model.keypoint_groups)}")
        return [i for g in groups for i in self.group_indices(g)]

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        kp = to_crop_coordinates(self.face_model.keypoints(codes.float()))  # (..., K, 3)
        depth = kp[..., 2:] - self.depth_offset  # (..., K, 1)
        return torch.cat([kp[..., :2], depth], dim=-1)  # (..., K, 3)


def select_motion_keypoints(keypoints: CodeKeypoints, count: int) -> torch.Tensor:
    """``count`` of the face model's K keypoints that drive the warp, as indices (count,) into 0..K-1.

    Farthest-point sampling over a per-keypoint descriptor that joins the neutral position (crop coordinates) with
    how the keypoint moves under every blendshape and gaze column, each part scaled to unit RMS: the chosen points
    are spread over the face *and* over distinct motions (jaw, lips, lids, brows), which is what the warp needs.
    Deterministic: it starts at the keypoint that moves most.
    """
    fm = keypoints.face_model
    k = fm.num_keypoints
    if not 1 <= count <= k:
        raise ValueError(f"motion keypoints must number 1..{k} (the face model's keypoints), got {count}")
    idx = fm.keypoint_indices
    with torch.no_grad():
        position = keypoints(torch.zeros(CODE_DIM))  # (K, 3)
        motion = torch.cat([fm.exp_basis[:, idx], fm.eye_basis[:, idx]]).permute(1, 0, 2).reshape(k, -1)  # (K, 55*3)
        parts = [position - position.mean(0), motion]
        descriptor = torch.cat([p / p.square().mean().sqrt().clamp_min(1e-12) for p in parts], dim=1)  # (K, 3 + 165)
        chosen = [int(motion.norm(dim=1).argmax())]
        distance = (descriptor - descriptor[chosen[0]]).norm(dim=1)  # (K,)
        for _ in range(count - 1):
            nxt = int(distance.argmax())
            chosen.append(nxt)
            distance = torch.minimum(distance, (descriptor - descriptor[nxt]).norm(dim=1))
    return torch.tensor(sorted(chosen), dtype=torch.long)
