"""Paste generated face crops back into the full source frame with a feathered border.

The crop box (x0, y0, side) in full-frame pixels is the one used to cut the face crop
(``omnitalker.face.face_model.crop_box``); it may extend past the frame edges. Every frame pixel looks up its
position inside the crop (one ``grid_sample`` per batch), so no Python loop over pixels or frames is needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from omnitalker.render.errors import RenderInputError


def feather_mask(size: int, feather: float, device=None) -> torch.Tensor:
    """(1, 1, size, size) mask: 1 inside, ramping linearly to 0 over ``feather`` (fraction of the side) at the edges."""
    if not 0 <= feather < 0.5:
        raise RenderInputError(f"feather must be in [0, 0.5), got {feather}")
    pos = (torch.arange(size, device=device, dtype=torch.float32) + 0.5) / size  # (size,) in (0, 1)
    edge = torch.minimum(pos, 1 - pos)  # distance to the nearest border
    ramp = (edge / feather).clamp(max=1) if feather > 0 else torch.ones_like(edge)
    return (ramp[:, None] * ramp[None, :])[None, None]  # (1, 1, size, size)


def paste_back(
    crops: torch.Tensor, frame: torch.Tensor, box: tuple[float, float, float], feather: float = 0.1
) -> torch.Tensor:
    """crops (T, 3, s, s), frame (3, H, W) [or (T, 3, H, W)], box (x0, y0, side) px -> (T, 3, H, W) in [0, 1]."""
    if crops.dim() != 4 or crops.shape[1] != 3 or crops.shape[2] != crops.shape[3]:
        raise RenderInputError(f"crops must be (T, 3, s, s), got {tuple(crops.shape)}")
    if frame.dim() == 3:
        frame = frame[None].expand(crops.shape[0], -1, -1, -1)  # (T, 3, H, W)
    if frame.dim() != 4 or frame.shape[1] != 3 or frame.shape[0] != crops.shape[0]:
        raise RenderInputError(f"frame must be (3, H, W) or (T, 3, H, W), got {tuple(frame.shape)}")
    x0, y0, side = (float(v) for v in box)
    if side <= 0:
        raise RenderInputError(f"crop box side must be positive, got {side}")
    t, _, h, w = frame.shape
    device = crops.device
    px = torch.arange(w, device=device, dtype=torch.float32) + 0.5  # (W,) pixel centres
    py = torch.arange(h, device=device, dtype=torch.float32) + 0.5  # (H,)
    gx = (px - x0) / side * 2 - 1  # (W,) crop-normalised coordinates
    gy = (py - y0) / side * 2 - 1  # (H,)
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)  # (H, W, 2)
    grid = grid[None].expand(t, -1, -1, -1)  # (T, H, W, 2)
    mask = feather_mask(crops.shape[-1], feather, device).expand(t, -1, -1, -1)  # (T, 1, s, s)
    sampled = F.grid_sample(torch.cat([crops.float(), mask], 1), grid, align_corners=False)  # (T, 4, H, W)
    rgb, alpha = sampled[:, :3], sampled[:, 3:]  # (T, 3, H, W), (T, 1, H, W)
    return (alpha * rgb + (1 - alpha) * frame.to(device).float()).clamp(0, 1)  # (T, 3, H, W)
