"""Multi-scale PatchGAN discriminator (pix2pixHD style) returning logits and features for feature matching."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchDiscriminator(nn.Module):
    """(B, 3, H, W) -> features of every layer and patch logits (B, 1, H/2^n, W/2^n)."""

    def __init__(self, channels: int = 64, num_layers: int = 4, max_channels: int = 512) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        layers, width = [], 3
        for i in range(num_layers):
            out = min(max_channels, channels * 2**i)
            stride = 2 if i < num_layers - 1 else 1
            layers.append(nn.Sequential(sn(nn.Conv2d(width, out, 4, stride=stride, padding=1)), nn.LeakyReLU(0.2)))
            width = out
        self.layers = nn.ModuleList(layers)
        self.logits = sn(nn.Conv2d(width, 1, 4, stride=1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        features = []
        for layer in self.layers:
            x = layer(x)  # (B, c, h, w)
            features.append(x)
        return features, self.logits(x)  # [...], (B, 1, h', w')


class MultiScaleDiscriminator(nn.Module):
    """``num_scales`` PatchGAN discriminators on the image downsampled by 1, 2, 4, ..."""

    def __init__(self, num_scales: int = 2, channels: int = 64, num_layers: int = 4, max_channels: int = 512) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            PatchDiscriminator(channels, num_layers, max_channels) for _ in range(num_scales)
        )

    def forward(self, image: torch.Tensor) -> tuple[list[list[torch.Tensor]], list[torch.Tensor]]:
        """(B, 3, H, W) in [0, 1] -> (features per scale, logits per scale)."""
        x = image * 2 - 1  # (B, 3, H, W) in [-1, 1]
        features, logits = [], []
        for i, disc in enumerate(self.discriminators):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)  # (B, 3, H/2^i, W/2^i)
            f, l = disc(x)
            features.append(f)
            logits.append(l)
        return features, logits
