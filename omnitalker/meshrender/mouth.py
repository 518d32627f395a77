"""The inside of an open mouth, painted over a warped face: the region between the upper-teeth edge (or upper inner
lip) and the lower inner lip, two x-monotonic polylines from corner to corner, anti-aliased vertically and coloured
by the relative depth across the opening (shadow under the teeth, dark mouth, tongue, lower-teeth hint)."""

from __future__ import annotations

import torch
from torch import Tensor

# mouth-cavity palette (RGB in [0, 1]) along v: 0 = upper edge, 1 = lower lip
CAVITY_STOPS = torch.tensor([0.0, 0.2, 0.6, 0.88, 1.0])
CAVITY_COLORS = torch.tensor([
    [0.09, 0.04, 0.04],  # shadow right under the upper teeth
    [0.15, 0.06, 0.07],
    [0.22, 0.07, 0.08],  # dark mouth
    [0.46, 0.18, 0.20],  # tongue
    [0.55, 0.40, 0.40],  # lower-teeth / lip-edge hint
])


def mouth_cavity(top: Tensor, bottom: Tensor, size: tuple[int, int], rest_gap: float = 0.0
                 ) -> tuple[tuple[slice, slice], Tensor, Tensor] | None:
    """``top``/``bottom`` (B, n, 2) polylines in pixels of an (H, W) frame -> window (rows, cols), coverage
    (B, 1, h, w) and colour (B, 3, h, w) of the opening inside the window, or None when no frame's mouth is open.

    ``rest_gap`` (pixels): how open the mouth already is in the warped image; the painted cavity fades in as the
    opening grows past it (fully painted from twice that gap), so a source that shows its own teeth keeps them for
    small openings instead of having them stretched."""
    window = pixel_window(torch.cat([top, bottom], dim=1), size, 1, 2)
    if window is None:
        return None
    rows, cols, xs, ys = window
    ys = ys.view(1, -1, 1)  # (1, h, 1)
    y_top, in_top = polyline_at(top, xs)  # (B, w)
    y_bot, in_bot = polyline_at(bottom, xs)
    gap = y_bot - y_top  # (B, w)
    open_cols = (in_top & in_bot & (gap > 0.05)).unsqueeze(1)  # (B, 1, w)
    if not bool(open_cols.any()):
        return None
    y_top, y_bot = y_top.unsqueeze(1), y_bot.unsqueeze(1)  # (B, 1, w)
    alpha = (torch.minimum(ys - y_top, y_bot - ys) + 0.5).clamp(0.0, 1.0)  # (B, h, w)
    alpha = alpha * gap.unsqueeze(1).clamp(max=1.0) * open_cols  # thin slits fade out
    if rest_gap > 0:
        alpha = alpha * ((gap - rest_gap) / rest_gap).clamp(0.0, 1.0).unsqueeze(1)  # (B, h, w)
    v = ((ys - y_top) / gap.unsqueeze(1).clamp(min=1e-3)).clamp(0.0, 1.0)  # (B, h, w)
    return (rows, cols), alpha.unsqueeze(1), cavity_color(v)


def paint_mouth_cavity(frames: Tensor, top: Tensor, bottom: Tensor, rest_gap: float = 0.0) -> Tensor:
    """Paints the opening between ``top`` and ``bottom`` (B, n, 2) into ``frames`` (B, 3, H, W) in place."""
    cavity = mouth_cavity(top, bottom, frames.shape[-2:], rest_gap)
    if cavity is not None:
        (rows, cols), alpha, color = cavity
        frames[:, :, rows, cols] = frames[:, :, rows, cols] * (1.0 - alpha) + color * alpha
    return frames


def pixel_window(points: Tensor, size: tuple[int, int], before: int, after: int
                 ) -> tuple[slice, slice, Tensor, Tensor] | None:
    """The box around ``points`` (..., 2) in an (H, W) frame, widened by ``before`` / ``after`` pixels and clipped:
    (rows, cols) slices and the pixel-centre coordinates xs (w,), ys (h,) inside it; None when it is empty."""
    height, width = size
    flat = points.reshape(-1, 2)
    x0, y0 = (flat.amin(0).floor().long() - before).clamp(min=0).tolist()
    x1, y1 = (flat.amax(0).ceil().long() + after).tolist()
    x0, x1, y0, y1 = min(x0, width), min(x1, width), min(y0, height), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return (slice(y0, y1), slice(x0, x1), torch.arange(x0, x1, dtype=torch.float32),
            torch.arange(y0, y1, dtype=torch.float32))


def polyline_at(points: Tensor, xs: Tensor) -> tuple[Tensor, Tensor]:
    """y of x-monotonic polylines (B, n, 2) at columns ``xs`` (w,) -> (B, w) values and (B, w) in-range mask."""
    px = torch.cummax(points[..., 0], dim=1).values.contiguous()  # enforce monotonic x
    py = points[..., 1]
    query = xs.expand(points.shape[0], -1).contiguous()  # (B, w)
    hi = torch.searchsorted(px, query).clamp(1, px.shape[1] - 1)  # (B, w)
    lo = hi - 1
    x_lo, x_hi = px.gather(1, lo), px.gather(1, hi)
    t = ((query - x_lo) / (x_hi - x_lo).clamp(min=1e-6)).clamp(0.0, 1.0)
    y = py.gather(1, lo) * (1.0 - t) + py.gather(1, hi) * t
    return y, (query >= px[:, :1]) & (query <= px[:, -1:])


def cavity_color(v: Tensor) -> Tensor:
    """(B, h, w) position across the mouth opening in [0, 1] -> (B, 3, h, w) colour."""
    stops, colors = CAVITY_STOPS, CAVITY_COLORS
    idx = torch.bucketize(v, stops[1:-1])  # segment index in [0, len-2]
    t = ((v - stops[idx]) / (stops[idx + 1] - stops[idx])).clamp(0.0, 1.0).unsqueeze(-1)
    rgb = colors[idx] * (1.0 - t) + colors[idx + 1] * t  # (B, h, w, 3)
    return rgb.permute(0, 3, 1, 2)
