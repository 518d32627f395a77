"""Render 512x512 frames from visual codes: piecewise-affine warp of the real face photo by the rig's keypoints.

Per batch of frames the rig turns codes into driving keypoints and :class:`omnitalker.meshrender.warp.
PiecewiseAffineWarp` warps the photo along the fixed mesh (its map computed at ``map_resolution`` and upsampled).
The mouth opening (between the upper-teeth edge and the lower inner lip) is painted by
:func:`omnitalker.meshrender.mouth.paint_mouth_cavity`, so the mouth visibly opens with ``jawOpen``. The same warp
and mouth drive any real face in ``omnitalker.meshrender``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from data_prep.synthetic.face_rig import LOWER_INNER_LIP, UPPER_TEETH, FaceRig, default_rig, face_texture
from omnitalker.constants import CODE_DIM, RENDER_SIZE
from omnitalker.meshrender.mouth import paint_mouth_cavity
from omnitalker.meshrender.warp import PiecewiseAffineWarp


class FaceRenderer:
    """Code-driven renderer of the textured face rig. ``render(codes (N, 61)) -> (N, 512, 512, 3) uint8``."""

    def __init__(self, rig: FaceRig | None = None, texture: Tensor | None = None, map_resolution: int = 256,
                 batch_size: int = 16, chunk_size: int = 12) -> None:
        if map_resolution < 32 or RENDER_SIZE % map_resolution:
            raise ValueError(f"map_resolution must divide {RENDER_SIZE} and be >= 32, got {map_resolution}")
        if batch_size < 1 or chunk_size < 1:
            raise ValueError(f"batch_size and chunk_size must be >= 1, got {batch_size}, {chunk_size}")
        self.rig = rig or default_rig()
        self.texture = (texture if texture is not None else face_texture()).unsqueeze(0)  # (1, 3, 512, 512)
        self.map_resolution = map_resolution
        self.batch_size = batch_size
        self.warp = PiecewiseAffineWarp(self.rig.points, self.rig.triangles, self.rig.movable, (RENDER_SIZE, RENDER_SIZE),
                                        map_stride=RENDER_SIZE // map_resolution, chunk_size=chunk_size)
        self._cavity_top = torch.tensor(self.rig.index(("mouth_rcorner",) + UPPER_TEETH + ("mouth_lcorner",)))
        self._cavity_bottom = torch.tensor(self.rig.index(("mouth_rcorner",) + LOWER_INNER_LIP + ("mouth_lcorner",)))

    @torch.no_grad()
    def render_batch(self, codes: Tensor) -> Tensor:
        """(B, 61) codes -> (B, 3, 512, 512) float frames in [0, 1]."""
        driving = self.rig.driving_points(codes)  # (B, P, 2)
        frames = self.warp.warp(self.texture, driving)  # (B, 3, 512, 512)
        return paint_mouth_cavity(frames, driving[:, self._cavity_top], driving[:, self._cavity_bottom])

    def render(self, codes: np.ndarray | Tensor) -> np.ndarray:
        """(N, 61) codes -> (N, 512, 512, 3) uint8 RGB frames (processed in batches of ``batch_size``)."""
        codes = torch.as_tensor(np.asarray(codes, dtype=np.float32))
        if codes.dim() != 2 or codes.shape[1] != CODE_DIM:
            raise ValueError(f"codes must have shape (frames, {CODE_DIM}), got {tuple(codes.shape)}")
        if not torch.isfinite(codes).all():
            raise ValueError("codes contain NaN or infinite values")
        out = np.empty((codes.shape[0], RENDER_SIZE, RENDER_SIZE, 3), dtype=np.uint8)
        for start in range(0, codes.shape[0], self.batch_size):
            frames = self.render_batch(codes[start:start + self.batch_size])  # (b, 3, 512, 512)
            frames = frames.mul_(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)  # (b, 512, 512, 3)
            out[start:start + frames.shape[0]] = frames.numpy()
        return out

