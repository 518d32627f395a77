"""Source-frame checks and preparation: the renderer takes a square face crop resized to ``input_size``."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from omnitalker.render.errors import NoFaceError, RenderInputError

MIN_SOURCE_SIDE = 32  # pixels; anything smaller cannot hold a usable face


def check_source_image(image: torch.Tensor, input_size: int) -> None:
    """A (B, 3, input_size, input_size) float image in [0, 1] that is not blank."""
    if not isinstance(image, torch.Tensor) or not image.is_floating_point():
        raise RenderInputError(
            f"source image must be a float tensor in [0, 1], got {getattr(image, 'dtype', type(image))}"
        )
    if image.dim() != 4 or image.shape[1] != 3:
        raise RenderInputError(f"source image must have shape (batch, 3, H, W), got {tuple(image.shape)}")
    if tuple(image.shape[2:]) != (input_size, input_size):
        raise RenderInputError(
            f"source image is {image.shape[2]}x{image.shape[3]}, the renderer expects {input_size}x{input_size}; "
            "pass the square face crop through omnitalker.render.prepare_source_image first"
        )
    lo, hi = float(image.amin()), float(image.amax())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise RenderInputError(f"source image values must lie in [0, 1], got [{lo:.3f}, {hi:.3f}]")
    flat_std = image.flatten(1).std(dim=1)  # (B,)
    if (flat_std < 2.0 / 255).any():
        raise NoFaceError("source image is blank (near-constant pixels): it cannot be a face crop")


def prepare_source_image(image: np.ndarray | torch.Tensor, input_size: int) -> torch.Tensor:
    """A square face crop (H, W, 3) uint8 / (3, H, W) float -> (1, 3, input_size, input_size) float in [0, 1].

    Non-square or tiny images are refused: the face crop (``omnitalker.face.face_model.crop_box``) is square, and
    stretching any other picture would distort the face.
    """
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] not in (3, 4):
            raise RenderInputError(f"source image array must be (H, W, 3) RGB, got shape {image.shape}")
        if image.dtype != np.uint8:
            raise RenderInputError(f"source image array must be uint8 RGB, got {image.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1).float() / 255  # (3, H, W)
    elif isinstance(image, torch.Tensor):
        tensor = image.float() if image.is_floating_point() else image.float() / 255
        if tensor.dim() == 4 and tensor.shape[0] == 1:
            tensor = tensor[0]
        if tensor.dim() != 3 or tensor.shape[0] != 3:
            raise RenderInputError(f"source image tensor must be (3, H, W), got {tuple(image.shape)}")
    else:
        raise RenderInputError(f"source image must be a numpy array or a tensor, got {type(image).__name__}")
    h, w = tensor.shape[1:]
    if h != w:
        raise RenderInputError(
            f"source image is {h}x{w}; the renderer needs the square face crop (crop the face first)"
        )
    if h < MIN_SOURCE_SIDE:
        raise RenderInputError(
            f"source image is only {h}x{w} pixels; at least {MIN_SOURCE_SIDE}x{MIN_SOURCE_SIDE} needed"
        )
    if h != input_size:
        tensor = F.interpolate(tensor[None], size=(input_size, input_size), mode="bilinear", antialias=True)[0]
    tensor = tensor.clamp(0, 1)[None]  # (1, 3, S, S)
    check_source_image(tensor, input_size)
    return tensor
