"""Warping network: dense motion, then the source volume resampled along it and flattened to 2-D features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from omnitalker.render.blocks import SameBlock2d
from omnitalker.render.config import RendererConfig
from omnitalker.render.dense_motion import DenseMotionNetwork


class WarpingNetwork(nn.Module):
    """Volume (B, C, D, H, W) + keypoints -> warped 2-D features (B, F, H, W), deformation and occlusion."""

    def __init__(self, cfg: RendererConfig, num_keypoints: int, keypoint_indices: torch.Tensor | None = None) -> None:
        super().__init__()
        a = cfg.appearance
        self.dense_motion = DenseMotionNetwork(cfg.motion, num_keypoints, a.reshape_channel, a.reshape_depth,
                                               keypoint_indices)
        flat = a.reshape_channel * a.reshape_depth
        self.third = SameBlock2d(flat, cfg.warped_features, kernel_size=3)
        self.fourth = nn.Conv2d(cfg.warped_features, cfg.warped_features, kernel_size=1)

    def warp_features(
        self, volume: torch.Tensor, deformation: torch.Tensor, occlusion: torch.Tensor | None
    ) -> torch.Tensor:
        """Resample the volume along the deformation, flatten depth into channels, mask occluded regions."""
        warped = F.grid_sample(volume, deformation, align_corners=False)  # (B, 32, 16, 64, 64)
        b, c, d, h, w = warped.shape
        x = self.fourth(self.third(warped.reshape(b, c * d, h, w)))  # (B, 256, 64, 64)
        if occlusion is not None:
            x = x * occlusion  # (B, 256, 64, 64)
        return x

    def forward(
        self, volume: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        deformation, occlusion = self.dense_motion(volume, kp_source, kp_driving)  # (B, D, H, W, 3), (B, 1, H, W)
        return self.warp_features(volume, deformation, occlusion), deformation, occlusion
