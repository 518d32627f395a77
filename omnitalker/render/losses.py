"""Renderer training losses: multi-scale VGG19 perceptual loss, mouth-region crops, hinge GAN + feature matching.

VGG19 weights are read from a local file (torchvision's ``vgg19-dcbb9e9d.pth``, loaded with ``load_state_dict``
into torchvision's VGG19 layers); nothing is downloaded. ``allow_random=True`` builds a randomly initialised VGG instead, which
only tests and the CPU smoke run may ask for (a warning says so every time).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from omnitalker.render.errors import WeightsNotFoundError

# relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 of torchvision's vgg19().features, pix2pixHD weighting
VGG_LAYERS: tuple[int, ...] = (1, 6, 11, 20, 29)
VGG_LAYER_WEIGHTS: tuple[float, ...] = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_vgg19_features(weights_path: str | os.PathLike[str] | None, allow_random: bool = False) -> nn.Sequential:
    """VGG19 ``features`` up to relu5_1, weights from a local torchvision checkpoint (frozen, eval).

    Only the convolutional part is built (torchvision's own ``make_layers`` with VGG19's layer list), so a random
    VGG for tests does not allocate the 120 M-parameter classifier; the torchvision checkpoint's ``features.*``
    tensors load into it one to one.
    """
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["E"], batch_norm=False)
    if weights_path is None:
        if not allow_random:
            raise WeightsNotFoundError(
                "the VGG19 perceptual loss needs local weights: set loss.vgg_weights to torchvision's "
                "vgg19-dcbb9e9d.pth (ImageNet) file; a random VGG is only allowed with loss.allow_random_vgg=true"
            )
        warnings.warn("VGG19 perceptual loss uses RANDOM weights (allow_random_vgg=true): only for tests/smoke runs")
    else:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"VGG19 weights file {path} does not exist (torchvision's vgg19-dcbb9e9d.pth, copied locally)"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        conv_state = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        try:
            features.load_state_dict(conv_state)
        except RuntimeError as exc:
            raise WeightsNotFoundError(f"{path} is not a torchvision VGG19 state dict: {exc}") from exc
    features = features[: VGG_LAYERS[-1] + 1].eval()
    for p in features.parameters():
        p.requires_grad_(False)
    return features


class VGGPerceptualLoss(nn.Module):
    """Weighted L1 between VGG19 activations of an image pyramid (scales 1, 1/2, 1/4 by default)."""

    def __init__(
        self,
        weights_path: str | os.PathLike[str] | None,
        allow_random: bool = False,
        scales: tuple[float, ...] = (1.0, 0.5, 0.25),
        num_layers: int = 5,
    ) -> None:
        super().__init__()
        self.features = load_vgg19_features(weights_path, allow_random)[: VGG_LAYERS[num_layers - 1] + 1]
        self.layers = VGG_LAYERS[:num_layers]
        self.layer_weights = VGG_LAYER_WEIGHTS[:num_layers]
        self.scales = scales
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> VGGPerceptualLoss:
        super().train(mode)
        self.features.eval()  # frozen feature extractor, always in eval mode
        return self

    def _activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, last = [], self.layers[-1]
        x = (x - self.mean) / self.std  # (B, 3, H, W)
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.layers:
                out.append(x)
            if i == last:
                break
        return out

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """prediction, target: (B, 3, H, W) in [0, 1] -> scalar."""
        loss = prediction.new_zeros(())
        both = torch.cat([prediction, target])  # (2B, 3, H, W): one VGG pass per scale
        b = prediction.shape[0]
        for scale in self.scales:
            x = both if scale == 1 else F.interpolate(both, scale_factor=scale, mode="bilinear", antialias=True)
            for weight, act in zip(self.layer_weights, self._activations(x)):
                loss = loss + weight * (act[:b] - act[b:].detach()).abs().mean()
        return loss


def keypoint_boxes(points_xy: torch.Tensor, margin: float = 0.35, min_size: float = 0.15) -> torch.Tensor:
    """(B, N, 2) points in [-1, 1] -> (B, 4) square boxes (cx, cy, half, half) around them, enlarged by ``margin``."""
    lo, hi = points_xy.amin(dim=1), points_xy.amax(dim=1)  # (B, 2)
    centre = (lo + hi) / 2  # (B, 2)
    half = ((hi - lo).amax(dim=1) / 2 * (1 + margin)).clamp(min=min_size / 2)  # (B,)
    return torch.cat([centre, half[:, None], half[:, None]], dim=1)  # (B, 4)


def crop_boxes(images: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Differentiable crops: (B, 3, H, W), (B, 4) boxes (cx, cy, hx, hy) in [-1, 1] -> (B, 3, size, size)."""
    b = images.shape[0]
    theta = torch.zeros(b, 2, 3, device=images.device, dtype=images.dtype)  # (B, 2, 3) affine
    theta[:, 0, 0], theta[:, 1, 1] = boxes[:, 2], boxes[:, 3]
    theta[:, :, 2] = boxes[:, :2]
    grid = F.affine_grid(theta, [b, 3, size, size], align_corners=False)  # (B, size, size, 2)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="border")  # (B, 3, size, size)


def mouth_mask(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 4) boxes in [-1, 1] -> (B, 1, size, size) binary mask of the box (for visualisation / masked losses)."""
    axis = (torch.arange(size, device=boxes.device, dtype=boxes.dtype) * 2 + 1) / size - 1  # (size,)
    inside_x = (axis[None] - boxes[:, :1]).abs() <= boxes[:, 2:3]  # (B, size)
    inside_y = (axis[None] - boxes[:, 1:2]).abs() <= boxes[:, 3:4]  # (B, size)
    return (inside_y[:, :, None] & inside_x[:, None, :]).unsqueeze(1).to(boxes.dtype)  # (B, 1, size, size)


def hinge_d_loss(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]) -> torch.Tensor:
    loss = real_logits[0].new_zeros(())
    for real, fake in zip(real_logits, fake_logits):
        loss = loss + F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return loss / len(real_logits)


def hinge_g_loss(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    return sum(-fake.mean() for fake in fake_logits) / len(fake_logits)


def feature_matching_loss(real_feats: list[list[torch.Tensor]], fake_feats: list[list[torch.Tensor]]) -> torch.Tensor:
    loss, count = real_feats[0][0].new_zeros(()), 0
    for real_scale, fake_scale in zip(real_feats, fake_feats):
        for real, fake in zip(real_scale, fake_scale):
            loss = loss + (real.detach() - fake).abs().mean()
            count += 1
    return loss / max(1, count)
