"""Gaze in the mesh render: the iris moved as a rigid disc inside the eye opening, over a sclera fill.

Warping the iris landmarks with the mesh stretches the iris into the triangles around it (a dark smear that the face
pipeline reads back as a quarter of the asked-for gaze); instead the warp keeps the source's gaze, and each eye's iris
disc is then translated by the face model's iris displacement, clipped to the opening between the lids (so it slides
under them and vanishes in a blink), with the uncovered part filled by the eye's sclera colour measured on the
source image. Eyes whose iris moves less than a pixel are left exactly as warped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from omnitalker.meshrender.mouth import polyline_at

# MediaPipe eye contours as x-monotonic polylines in the image, corner to corner (upper lid, lower lid), and the iris
# centre and ring; first the subject's right eye (image left), then the left eye (image right)
EYE_LIDS = (
    ((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133)),
    ((362, 398, 384, 385, 386, 387, 388, 466, 263), (362, 382, 381, 380, 374, 373, 390, 249, 263)),
)
IRIS_CENTRES = (468, 473)
IRIS_RINGS = ((469, 470, 471, 472), (474, 475, 476, 477))
MIN_SHIFT_PX = 1.0  # iris displacement below which the warped eye is kept as it is (blended in up to this)


def _opening(upper: Tensor, lower: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
    """Soft coverage (B, h, w) of the opening between lid polylines (B, n, 2) over pixel centres xs (w,), ys (h,)."""
    y_top, in_top = polyline_at(upper, xs)  # (B, w)
    y_bot, in_bot = polyline_at(lower, xs)
    inside = (in_top & in_bot).unsqueeze(1)  # (B, 1, w)
    yy = ys.view(1, -1, 1)  # (1, h, 1)
    alpha = (torch.minimum(yy - y_top.unsqueeze(1), y_bot.unsqueeze(1) - yy) + 0.5).clamp(0.0, 1.0)  # (B, h, w)
    return alpha * inside


def _disc(dx: Tensor, dy: Tensor, radius: float) -> Tensor:
    """Anti-aliased disc coverage for offsets from its centre (any shape)."""
    return (radius + 0.5 - torch.sqrt(dx * dx + dy * dy)).clamp(0.0, 1.0)


def sclera_colours(image: Tensor, points: Tensor, radii: tuple[float, float]) -> Tensor:
    """(1, 3, H, W) source texture, (P, 2) source landmarks -> (2, 3): mean colour of the brightest fifth of each
    eye's opening outside its iris disc (the eye white; the rest is lashes, lid shadow and the iris's rim)."""
    height, width = image.shape[-2:]
    colours = []
    for (upper, lower), centre, radius in zip(EYE_LIDS, IRIS_CENTRES, radii):
        lids = points[list(upper + lower)]  # (2n, 2)
        x0, y0 = (lids.amin(0).floor().long() - 1).clamp(min=0).tolist()
        x1, y1 = (lids.amax(0).ceil().long() + 2).tolist()
        x1, y1 = min(x1, width), min(y1, height)
        xs, ys = torch.arange(x0, x1, dtype=torch.float32), torch.arange(y0, y1, dtype=torch.float32)
        alpha = _opening(points[list(upper)][None], points[list(lower)][None], xs, ys)[0]  # (h, w)
        cx, cy = points[centre]
        outside = 1.0 - _disc(xs.view(1, -1) - cx, ys.view(-1, 1) - cy, radius + 1.0)  # (h, w)
        pixels = image[0, :, y0:y1, x0:x1].reshape(3, -1).T[((alpha * outside) > 0.99).reshape(-1)]  # (k, 3)
        if pixels.shape[0] < 4:  # a closed or tiny eye in the photo: a neutral eye white
            colours.append(torch.tensor([0.85, 0.82, 0.80]))
            continue
        luma = pixels @ torch.tensor([0.299, 0.587, 0.114])  # (k,)
        colours.append(pixels[luma >= torch.quantile(luma, 0.8)].mean(0))
    return torch.stack(colours)  # (2, 3)


def shift_irises(frames: Tensor, points: Tensor, shift: Tensor, radii: tuple[float, float], sclera: Tensor) -> Tensor:
    """In place on ``frames`` (B, 3, H, W) warped with the source's gaze: move each eye's iris disc (centre at
    ``points`` (B, P, 2) of that warp) by ``shift`` (B, 2, 2) pixels (eye-major, order of :data:`IRIS_CENTRES`)
    inside the eye opening; ``sclera`` (2, 3) fills what it uncovers."""
    b, _, height, width = frames.shape
    moved = shift.norm(dim=-1)  # (B, 2)
    for eye, ((upper, lower), centre, radius) in enumerate(zip(EYE_LIDS, IRIS_CENTRES, radii)):
        weight = (moved[:, eye] / MIN_SHIFT_PX).clamp(max=1.0)  # (B,)
        if not bool((weight > 0).any()):
            continue
        lids = points[:, list(upper + lower)].reshape(-1, 2)  # (B*2n, 2)
        x0, y0 = (lids.amin(0).floor().long() - 1).clamp(min=0).tolist()
        x1, y1 = (lids.amax(0).ceil().long() + 2).tolist()
        x1, y1 = min(x1, width), min(y1, height)
        if x1 <= x0 or y1 <= y0:
            continue
        xs, ys = torch.arange(x0, x1, dtype=torch.float32), torch.arange(y0, y1, dtype=torch.float32)
        alpha = _opening(points[:, list(upper)], points[:, list(lower)], xs, ys)  # (B, h, w)
        c = points[:, centre]  # (B, 2) iris centre in the warped frame
        d = shift[:, eye]  # (B, 2)
        px, py = xs.view(1, 1, -1), ys.view(1, -1, 1)  # (1, 1, w), (1, h, 1)
        qx = (px - d[:, 0, None, None]).expand(-1, y1 - y0, -1)  # (B, h, w) where each pixel's iris comes from
        qy = (py - d[:, 1, None, None]).expand(-1, -1, x1 - x0)  # (B, h, w)
        iris = _disc(qx - c[:, 0, None, None], qy - c[:, 1, None, None], radius)  # (B, h, w) the moved disc
        uncovered = _disc(px - c[:, 0, None, None], py - c[:, 1, None, None], radius + 1.0)  # (B, h, w) old disc
        grid = torch.stack([(qx + 0.5) / width * 2 - 1, (qy + 0.5) / height * 2 - 1], dim=-1)  # (B, h, w, 2)
        moved_pixels = F.grid_sample(frames, grid, mode="bilinear", padding_mode="border", align_corners=False)
        window = frames[:, :, y0:y1, x0:x1]  # (B, 3, h, w)
        behind = window + uncovered.unsqueeze(1) * (sclera[eye].view(1, 3, 1, 1) - window)  # iris removed
        eye_img = behind + iris.unsqueeze(1) * (moved_pixels - behind)  # (B, 3, h, w) iris pasted at its new place
        blend = (alpha * weight.view(-1, 1, 1)).unsqueeze(1)  # (B, 1, h, w)
        frames[:, :, y0:y1, x0:x1] = window + blend * (eye_img - window)
    return frames
