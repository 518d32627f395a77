"""Convolution blocks shared by the renderer's sub-networks (face-vid2vid / LivePortrait building blocks)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SameBlock2d(nn.Module):
    """Conv2d + BatchNorm + ReLU at constant resolution."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, kernel_size, padding=kernel_size // 2)
        self.norm = nn.BatchNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)))  # (B, out, H, W)


class DownBlock2d(nn.Module):
    """Conv2d + BatchNorm + ReLU, then 2x average pooling."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_features, out_features, 3, padding=1)
        self.norm = nn.BatchNorm2d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.relu(self.norm(self.conv(x))), 2)  # (B, out, H/2, W/2)


class ResBlock3d(nn.Module):
    """Pre-activation residual block on a 3-D feature volume (BatchNorm, ReLU, Conv3d x2)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm3d(features, affine=True)
        self.conv1 = nn.Conv3d(features, features, 3, padding=1)
        self.norm2 = nn.BatchNorm3d(features, affine=True)
        self.conv2 = nn.Conv3d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(self.norm1(x)))  # (B, C, D, H, W)
        h = self.conv2(F.relu(self.norm2(h)))  # (B, C, D, H, W)
        return x + h


class DownBlock3d(nn.Module):
    """Conv3d + BatchNorm + ReLU, then pooling over (H, W) only: depth is kept (it is small)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, 3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool3d(F.relu(self.norm(self.conv(x))), (1, 2, 2))  # (B, out, D, H/2, W/2)


class UpBlock3d(nn.Module):
    """Nearest 2x upsampling over (H, W), then Conv3d + BatchNorm + ReLU."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(in_features, out_features, 3, padding=1)
        self.norm = nn.BatchNorm3d(out_features, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest")  # (B, in, D, 2H, 2W)
        return F.relu(self.norm(self.conv(x)))  # (B, out, D, 2H, 2W)


class Hourglass3d(nn.Module):
    """3-D U-Net: ``num_blocks`` down blocks over (H, W), mirrored up blocks with skip connections.

    Output channels: ``block_expansion + in_features`` (the input is concatenated to the last up block's output).
    """

    def __init__(self, block_expansion: int, in_features: int, num_blocks: int, max_features: int) -> None:
        super().__init__()
        widths = [min(max_features, block_expansion * 2 ** (i + 1)) for i in range(num_blocks)]
        self.down = nn.ModuleList(
            DownBlock3d(in_features if i == 0 else widths[i - 1], widths[i]) for i in range(num_blocks)
        )
        up = []
        for i in reversed(range(num_blocks)):
            in_ch = widths[i] if i == num_blocks - 1 else 2 * widths[i]
            out_ch = block_expansion if i == 0 else widths[i - 1]
            up.append(UpBlock3d(in_ch, out_ch))
        self.up = nn.ModuleList(up)
        self.out_features = block_expansion + in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]  # (B, C_in, D, H, W)
        for block in self.down:
            skips.append(block(skips[-1]))  # (B, w_i, D, H/2^(i+1), W/2^(i+1))
        out = skips.pop()
        for block in self.up:
            out = block(out)  # (B, w, D, 2h, 2w)
            out = torch.cat([out, skips.pop()], dim=1)  # skip connection
        return out  # (B, block_expansion + C_in, D, H, W)


class SPADE(nn.Module):
    """Spatially-adaptive normalisation: parameter-free instance norm, then per-pixel scale/shift from a label map."""

    def __init__(self, norm_features: int, label_features: int, hidden: int = 128) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(norm_features, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(label_features, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, norm_features, 3, padding=1)
        self.beta = nn.Conv2d(hidden, norm_features, 3, padding=1)

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        label = F.interpolate(label, size=x.shape[2:], mode="nearest")  # (B, L, H, W)
        actv = self.shared(label)  # (B, hidden, H, W)
        return self.norm(x) * (1 + self.gamma(actv)) + self.beta(actv)  # (B, C, H, W)


class SPADEResBlock(nn.Module):
    """Residual block with SPADE normalisation (optionally spectral-normalised convolutions)."""

    def __init__(
        self, in_features: int, out_features: int, label_features: int, spectral_norm: bool = True, hidden: int = 128
    ) -> None:
        super().__init__()
        mid = min(in_features, out_features)
        sn = nn.utils.spectral_norm if spectral_norm else (lambda m: m)
        self.learned_shortcut = in_features != out_features
        self.conv_0 = sn(nn.Conv2d(in_features, mid, 3, padding=1))
        self.conv_1 = sn(nn.Conv2d(mid, out_features, 3, padding=1))
        self.norm_0 = SPADE(in_features, label_features, hidden)
        self.norm_1 = SPADE(mid, label_features, hidden)
        if self.learned_shortcut:
            self.conv_s = sn(nn.Conv2d(in_features, out_features, 1, bias=False))
            self.norm_s = SPADE(in_features, label_features, hidden)

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, label)) if self.learned_shortcut else x  # (B, out, H, W)
        h = self.conv_0(F.leaky_relu(self.norm_0(x, label), 2e-1))  # (B, mid, H, W)
        h = self.conv_1(F.leaky_relu(self.norm_1(h, label), 2e-1))  # (B, out, H, W)
        return shortcut + h
