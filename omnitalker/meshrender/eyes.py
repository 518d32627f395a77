"""Eyes in the mesh render: the iris is a rigid disc drawn over an iris-free eye, clipped by the lids.

Warping the iris landmarks with the mesh stretches the iris into the triangles around it (a dark smear that the face
pipeline reads back as a quarter of the asked-for gaze) and folds it over the lids in a blink (a dark blob the face
pipeline reads as an open eye). Instead the iris landmarks are left out of the triangulation (`rig.py`), the warp
moves an *iris-free* copy of the photo (each iris inside its eye opening replaced by that eye's sclera colour), and
the photo's iris disc is pasted at the driven iris centre — head pose, expression and gaze all move it — scaled
with the eye's width and clipped to the opening between the driven lids, so it slides under them and vanishes in a
blink. An eye closed past half its opening in the photo is shaded towards the lash colour (what is left of the slit
is lash and shadow), fully at a tenth. A driving code equal to the source code gives back the photo (up to a
one-pixel ring around each iris).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from omnitalker.meshrender.mouth import pixel_window, polyline_at

# MediaPipe eye contours as x-monotonic polylines in the image, corner to corner (upper lid, lower lid), iris centre
# and ring, eye corners; first the subject's right eye (image left), then the left eye (image right)
EYE_LIDS = (
    ((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133)),
    ((362, 398, 384, 385, 386, 387, 388, 466, 263), (362, 382, 381, 380, 374, 373, 390, 249, 263)),
)
IRIS_CENTRES = (468, 473)
IRIS_RINGS = ((469, 470, 471, 472), (474, 475, 476, 477))
IRIS_POINTS = tuple(range(468, 478))
PASTE_MARGIN = 1.5  # px beyond the iris ring that is pasted with it (the iris's dark rim) ...
CLEAR_MARGIN = 1.5  # ... and cleared to sclera in the iris-free photo: equal, so the photo comes back at rest
SHADE_FROM, SHADE_FULL = 0.5, 0.1  # eye openness (driven / photo lid gap) where lash shading starts / is complete
LASH_COLOUR = (0.12, 0.08, 0.07)
SHADE_PAD = (0.03, 0.06)  # the shading reaches these fractions of the eye width above the upper-lid landmarks (the
# warp map's rounded crease) and below the lower-lid ones (the waterline)


def opening(upper: Tensor, lower: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
    """Soft coverage (B, h, w) of the opening between lid polylines (B, n, 2) over pixel centres xs (w,), ys (h,)."""
    y_top, in_top = polyline_at(upper, xs)  # (B, w)
    y_bot, in_bot = polyline_at(lower, xs)
    inside = (in_top & in_bot).unsqueeze(1)  # (B, 1, w)
    yy = ys.view(1, -1, 1)  # (1, h, 1)
    alpha = (torch.minimum(yy - y_top.unsqueeze(1), y_bot.unsqueeze(1) - yy) + 0.5).clamp(0.0, 1.0)  # (B, h, w)
    return alpha * inside


def disc(dx: Tensor, dy: Tensor, radius: Tensor | float) -> Tensor:
    """Anti-aliased disc coverage for offsets (dx, dy) from its centre (broadcast shapes)."""
    return (radius + 0.5 - torch.sqrt(dx * dx + dy * dy)).clamp(0.0, 1.0)


@dataclass
class IrisLayer:
    """Per eye (order of :data:`IRIS_CENTRES`): source iris centre (2, 2), radius (2,), eye width (2,) and lid gap
    (2,) in pixels."""

    centres: Tensor
    radii: Tensor
    widths: Tensor
    gaps: Tensor

    @classmethod
    def from_points(cls, points: Tensor) -> IrisLayer:
        """(P, 2) source landmarks (MediaPipe's 478 first)."""
        centres = points[list(IRIS_CENTRES)]  # (2, 2)
        radii = torch.stack([(points[list(ring)] - points[c]).norm(dim=-1).mean()
                             for c, ring in zip(IRIS_CENTRES, IRIS_RINGS)])  # (2,)
        return cls(centres, radii, eye_widths(points[None])[0], lid_gaps(points[None])[0])

    def iris_free(self, texture: Tensor, points: Tensor) -> Tensor:
        """(1, 3, H, W) photo, (P, 2) its landmarks -> the photo with each iris (inside its eye opening) replaced by
        the eye's sclera colour, the mean of the brightest fifth of the opening outside the iris."""
        out = texture.clone()
        for eye, (upper, lower) in enumerate(EYE_LIDS):
            window = pixel_window(points[list(upper + lower)], texture.shape[-2:], 3, 4)
            if window is None:
                continue
            rows, cols, xs, ys = window
            alpha = opening(points[list(upper)][None], points[list(lower)][None], xs, ys)[0]  # (h, w)
            (cx, cy), radius = self.centres[eye], self.radii[eye]
            iris = disc(xs.view(1, -1) - cx, ys.view(-1, 1) - cy, radius + CLEAR_MARGIN)  # (h, w)
            patch = texture[0, :, rows, cols]  # (3, h, w)
            white = patch.reshape(3, -1).T[((alpha * (1.0 - iris)) > 0.99).reshape(-1)]  # (k, 3) sclera pixels
            if white.shape[0] >= 4:
                luma = white @ torch.tensor([0.299, 0.587, 0.114])  # (k,)
                colour = white[luma >= torch.quantile(luma, 0.8)].mean(0)  # (3,)
            else:  # a nearly closed eye in the photo: a neutral eye white
                colour = torch.tensor([0.85, 0.82, 0.80])
            cover = (alpha * iris).unsqueeze(0)  # (1, h, w)
            out[0, :, rows, cols] = patch + cover * (colour.view(3, 1, 1) - patch)
        return out


def eye_widths(points: Tensor) -> Tensor:
    """(B, P, 2) landmarks -> (B, 2) corner-to-corner width of each eye."""
    corners = torch.tensor([[upper[0], upper[-1]] for upper, _ in EYE_LIDS])  # (2, 2)
    return (points[:, corners[:, 0]] - points[:, corners[:, 1]]).norm(dim=-1)


def uncross_lids(points: Tensor, min_gap: float = 0.5) -> Tensor:
    """In place on (B, P, 2) driven landmarks: where an upper-lid point comes within ``min_gap`` px of (or below) the
    lower-lid point across from it (the polylines pair up point by point, corner to corner), both move to their
    middle +- min_gap / 2, so the eye's triangles never fold over (a fold would show the photo's open eye)."""
    for upper, lower in EYE_LIDS:
        up, low = list(upper[1:-1]), list(lower[1:-1])  # the corners are shared
        y_up, y_low = points[:, up, 1], points[:, low, 1]  # (B, k)
        mid = 0.5 * (y_up + y_low)
        crossed = y_up > y_low - min_gap  # (B, k)
        points[:, up, 1] = torch.where(crossed, mid - 0.5 * min_gap, y_up)
        points[:, low, 1] = torch.where(crossed, mid + 0.5 * min_gap, y_low)
    return points


def lid_gaps(points: Tensor) -> Tensor:
    """(B, P, 2) landmarks -> (B, 2) distance between the middle points of each eye's upper and lower lid."""
    mids = torch.tensor([[upper[len(upper) // 2], lower[len(lower) // 2]] for upper, lower in EYE_LIDS])  # (2, 2)
    return (points[:, mids[:, 0]] - points[:, mids[:, 1]]).norm(dim=-1)


def paste_irises(frames: Tensor, texture: Tensor, points: Tensor, layer: IrisLayer) -> Tensor:
    """In place on ``frames`` (B, 3, H, W) warped from the iris-free photo: draw the photo ``texture``'s (1, 3, H, W)
    iris discs at the driven iris centres of ``points`` (B, P, 2), scaled with the eye, clipped by the driven lids."""
    b, _, height, width = frames.shape
    widths = eye_widths(points)  # (B, 2)
    scale = widths / layer.widths  # (B, 2)
    openness = lid_gaps(points) / (layer.gaps * scale).clamp(min=1e-3)  # (B, 2)
    shade = ((SHADE_FROM - openness) / (SHADE_FROM - SHADE_FULL)).clamp(0.0, 1.0)  # (B, 2)
    lash = torch.tensor(LASH_COLOUR).view(1, 3, 1, 1)
    source = texture.expand(b, -1, -1, -1)  # (B, 3, H, W) a view
    for eye, (upper, lower) in enumerate(EYE_LIDS):
        window = pixel_window(points[:, list(upper + lower)], (height, width), 3, 4)
        if window is None:
            continue
        rows, cols, xs, ys = window
        alpha = opening(points[:, list(upper)], points[:, list(lower)], xs, ys)  # (B, h, w)
        centre, s = points[:, IRIS_CENTRES[eye]], scale[:, eye, None, None]  # (B, 2), (B, 1, 1)
        dx = xs.view(1, 1, -1) - centre[:, 0, None, None]  # (B, 1, w) offset from the driven centre
        dy = ys.view(1, -1, 1) - centre[:, 1, None, None]  # (B, h, 1)
        iris = disc(dx, dy, (layer.radii[eye] + PASTE_MARGIN) * s)  # (B, h, w)
        (sx, sy) = layer.centres[eye]
        qx, qy = (sx + dx / s).expand_as(iris), (sy + dy / s).expand_as(iris)  # (B, h, w) where in the photo
        grid = torch.stack([(qx + 0.5) / width * 2 - 1, (qy + 0.5) / height * 2 - 1], dim=-1)  # (B, h, w, 2)
        pixels = F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=False)
        cover = (alpha * iris).unsqueeze(1)  # (B, 1, h, w)
        window_px = frames[:, :, rows, cols]
        eye_px = window_px + cover * (pixels - window_px)  # (B, 3, h, w)
        pad = torch.zeros(b, 1, 2)
        pad[..., 1] = widths[:, eye, None]  # (B, 1, 2) eye width, down
        grown = opening(points[:, list(upper)] - SHADE_PAD[0] * pad, points[:, list(lower)] + SHADE_PAD[1] * pad,
                        xs, ys)  # (B, h, w) the opening grown by the pads
        shaded = (grown * shade[:, eye, None, None]).unsqueeze(1)  # (B, 1, h, w)
        frames[:, :, rows, cols] = eye_px + shaded * (lash - eye_px)
    return frames
