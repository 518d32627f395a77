"""SPADE generator: warped 2-D features -> RGB image in [0, 1] (LivePortrait's G, ``upscale`` via PixelShuffle)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from omnitalker.render.blocks import SPADEResBlock
from omnitalker.render.config import RendererConfig


class SPADEGenerator(nn.Module):
    """(B, F, h, w) -> (B, 3, h * 2^n, w * 2^n); paper sizes: 256x64x64 -> 3x512x512.

    The features condition every SPADE block (as in LivePortrait). Middle blocks run at the feature resolution;
    each of the first n-1 up-sampling stages doubles the size with a SPADE block; the last one is a PixelShuffle.
    """

    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        g, label = cfg.generator, cfg.warped_features
        sn = g.spectral_norm
        self.fc = nn.Conv2d(label, g.features, kernel_size=3, padding=1)
        self.middle = nn.ModuleList(
            SPADEResBlock(g.features, g.features, label, sn, g.spade_hidden) for _ in range(g.num_resblocks)
        )
        ups, width = [], g.features
        for _ in range(cfg.num_upsamples - 1):
            out = max(g.min_features, width // 2)
            ups.append(SPADEResBlock(width, out, label, sn, g.spade_hidden))
            width = out
        self.up = nn.ModuleList(ups)
        self.to_rgb = nn.Conv2d(width, 3 * 4, kernel_size=3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.fc(features)  # (B, 512, 64, 64)
        for block in self.middle:
            x = block(x, features)  # (B, 512, 64, 64)
        for block in self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")  # (B, w, 2h, 2w)
            x = block(x, features)  # (B, w/2, 2h, 2w): 256x128x128, then 64x256x256
        x = self.to_rgb(F.leaky_relu(x, 2e-1))  # (B, 12, 256, 256)
        return torch.sigmoid(self.shuffle(x))  # (B, 3, 512, 512)
