"""Appearance feature extractor: source image -> 3-D feature volume (LivePortrait's F)."""

from __future__ import annotations

import torch
from torch import nn

from omnitalker.render.blocks import DownBlock2d, ResBlock3d, SameBlock2d
from omnitalker.render.config import AppearanceConfig


class AppearanceFeatureExtractor(nn.Module):
    """(B, 3, S, S) in [0, 1] -> (B, C, D, S/4, S/4); paper sizes: 3x256x256 -> 32x16x64x64."""

    def __init__(self, cfg: AppearanceConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.first = SameBlock2d(3, cfg.block_expansion, kernel_size=3)
        down, width = [], cfg.block_expansion
        for i in range(cfg.num_down_blocks):
            out = min(cfg.max_features, cfg.block_expansion * 2 ** (i + 1))
            down.append(DownBlock2d(width, out))
            width = out
        self.down = nn.Sequential(*down)
        self.to_volume = nn.Conv2d(width, cfg.reshape_channel * cfg.reshape_depth, kernel_size=1)
        self.resblocks = nn.Sequential(*(ResBlock3d(cfg.reshape_channel) for _ in range(cfg.num_resblocks)))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.first(image)  # (B, 64, 256, 256)
        x = self.down(x)  # (B, 256, 64, 64)
        x = self.to_volume(x)  # (B, 512, 64, 64)
        b, _, h, w = x.shape
        x = x.view(b, self.cfg.reshape_channel, self.cfg.reshape_depth, h, w)  # (B, 32, 16, 64, 64)
        return self.resblocks(x)  # (B, 32, 16, 64, 64)
