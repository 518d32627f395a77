"""Dense warp field + occlusion from source/driving keypoints (face-vid2vid / LivePortrait dense motion).

Each keypoint k proposes a translation-only motion ``grid - kp_d[k] + kp_s[k]`` (plus the identity for the
background). The source volume is warped by every proposal; the warped volumes together with Gaussian heatmap
differences ``G(kp_d) - G(kp_s)`` go through a 3-D hourglass that predicts a soft mask over the K+1 proposals
(softmax) and an occlusion map. The dense field is the mask-weighted sum of the proposals, so when the driving
keypoints equal the source keypoints every proposal is the identity and the field is exactly the identity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from omnitalker.render.blocks import Hourglass3d
from omnitalker.render.config import MotionConfig


def identity_grid(depth: int, height: int, width: int, device=None, dtype=None) -> torch.Tensor:
    """(D, H, W, 3) voxel-centre coordinates (x, y, z) in [-1, 1]: ``grid_sample`` with it is the identity."""

    def axis(n: int) -> torch.Tensor:
        return (torch.arange(n, device=device, dtype=dtype) * 2 + 1) / n - 1  # (n,)

    z, y, x = torch.meshgrid(axis(depth), axis(height), axis(width), indexing="ij")  # (D, H, W) each
    return torch.stack([x, y, z], dim=-1)  # (D, H, W, 3)


def keypoint_heatmaps(grid: torch.Tensor, kp: torch.Tensor, variance: float) -> torch.Tensor:
    """(D, H, W, 3) grid, (B, K, 3) keypoints -> (B, K, D, H, W) unnormalised Gaussians."""
    diff = grid[None, None] - kp[:, :, None, None, None, :]  # (B, K, D, H, W, 3)
    return torch.exp(-0.5 * diff.square().sum(-1) / variance)  # (B, K, D, H, W)


class DenseMotionNetwork(nn.Module):
    """Volume (B, C, D, H, W) + keypoints (B, K, 3) x2 -> deformation (B, D, H, W, 3), occlusion (B, 1, H, W).

    ``keypoint_indices`` (M,) selects the motion keypoints among the K given (None: all). With
    ``cfg.downsample`` = s > 1 the motion is estimated on the volume average-pooled by s over (H, W); the displacement
    from the identity and the occlusion are upsampled back, so zero motion still gives exactly the identity.
    """

    def __init__(self, cfg: MotionConfig, num_keypoints: int, volume_channels: int, volume_depth: int,
                 keypoint_indices: torch.Tensor | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        if keypoint_indices is not None:
            num_keypoints = int(keypoint_indices.numel())
            self.register_buffer("keypoint_indices", keypoint_indices.long(), persistent=False)
        else:
            self.keypoint_indices = None
        self.num_motions = num_keypoints + 1  # + background (identity)
        self.compress = nn.Sequential(
            nn.Conv3d(volume_channels, cfg.compress, kernel_size=1),
            nn.BatchNorm3d(cfg.compress, affine=True),
            nn.ReLU(),
        )
        self.hourglass = Hourglass3d(
            cfg.block_expansion, self.num_motions * (cfg.compress + 1), cfg.num_blocks, cfg.max_features
        )
        k = cfg.mask_kernel_size
        self.mask = nn.Conv3d(self.hourglass.out_features, self.num_motions, kernel_size=k, padding=k // 2)
        self.occlusion = (
            nn.Conv2d(self.hourglass.out_features * volume_depth, 1, kernel_size=7, padding=3)
            if cfg.occlusion
            else None
        )

    def sparse_motions(self, grid: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        """(D, H, W, 3), (B, K, 3) x2 -> (B, K+1, D, H, W, 3) source coordinates for each driving voxel."""
        shift = (kp_source - kp_driving)[:, :, None, None, None, :]  # (B, K, 1, 1, 1, 3)
        per_kp = grid[None, None] + shift  # (B, K, D, H, W, 3)
        background = grid[None, None].expand(kp_source.shape[0], 1, *grid.shape)  # (B, 1, D, H, W, 3)
        return torch.cat([background, per_kp], dim=1)  # (B, K+1, D, H, W, 3)

    def forward(
        self, volume: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        full_h, full_w = volume.shape[-2:]
        if self.keypoint_indices is not None:
            kp_source, kp_driving = kp_source[:, self.keypoint_indices], kp_driving[:, self.keypoint_indices]  # (B, M, 3)
        s = self.cfg.downsample
        if s > 1:
            volume = F.avg_pool3d(volume, kernel_size=(1, s, s))  # (B, C, D, H/s, W/s)
        b, _, d, h, w = volume.shape
        m = self.num_motions
        grid = identity_grid(d, h, w, device=volume.device, dtype=volume.dtype)  # (D, h, w, 3)
        kp_source, kp_driving = kp_source.to(volume.dtype), kp_driving.to(volume.dtype)
        heat = keypoint_heatmaps(grid, kp_driving, self.cfg.kp_variance) - keypoint_heatmaps(
            grid, kp_source, self.cfg.kp_variance
        )  # (B, K, D, H, W)
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1).unsqueeze(2)  # (B, K+1, 1, D, H, W)

        motions = self.sparse_motions(grid, kp_source, kp_driving)  # (B, K+1, D, H, W, 3)
        compressed = self.compress(volume)  # (B, c, D, H, W)
        c = compressed.shape[1]
        repeated = compressed.unsqueeze(1).expand(b, m, c, d, h, w).reshape(b * m, c, d, h, w)  # (B*(K+1), c, D, H, W)
        warped = F.grid_sample(
            repeated, motions.reshape(b * m, d, h, w, 3), align_corners=False
        )  # (B*(K+1), c, D, H, W)
        warped = warped.view(b, m, c, d, h, w)  # (B, K+1, c, D, H, W)

        x = torch.cat([heat, warped], dim=2).view(b, m * (c + 1), d, h, w)  # (B, (K+1)(c+1), D, H, W)
        features = self.hourglass(x)  # (B, F, D, H, W)
        mask = self.mask(features).softmax(dim=1)  # (B, K+1, D, H, W)
        deformation = (mask.unsqueeze(-1) * motions).sum(dim=1)  # (B, D, H, W, 3)

        occlusion = None
        if self.occlusion is not None:
            flat = features.reshape(b, -1, h, w)  # (B, F*D, h, w)
            occlusion = torch.sigmoid(self.occlusion(flat))  # (B, 1, h, w)
        if s > 1:
            displacement = (deformation - grid).permute(0, 4, 1, 2, 3)  # (B, 3, D, h, w)
            displacement = F.interpolate(displacement, size=(d, full_h, full_w), mode="trilinear", align_corners=False)
            full_grid = identity_grid(d, full_h, full_w, device=volume.device, dtype=volume.dtype)  # (D, H, W, 3)
            deformation = full_grid + displacement.permute(0, 2, 3, 4, 1)  # (B, D, H, W, 3)
            if occlusion is not None:
                occlusion = F.interpolate(occlusion, size=(full_h, full_w), mode="bilinear", align_corners=False)
        return deformation, occlusion
