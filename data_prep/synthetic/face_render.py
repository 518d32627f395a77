"""Render 512x512 frames from visual codes: piecewise-affine warp of the real face photo by the rig's keypoints.

Per batch of frames: the rig turns codes into driving keypoints; every non-static triangle of the fixed mesh is
rasterised in the driving frame (batched over frames and over chunks of similar-sized triangles) to get, for each
output pixel, the photo position it comes from (barycentric interpolation of the rest keypoints). That map is
computed at ``map_resolution`` and upsampled bilinearly (it is piecewise linear, so this only rounds the creases),
then ``grid_sample`` pulls the texture. The mouth opening (between the upper-teeth edge and the lower inner lip, two
x-monotonic polylines) is painted at full resolution with vertical anti-aliasing as a mouth cavity (shadow under the
teeth, dark mouth, tongue), so the mouth visibly opens with ``jawOpen``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from data_prep.synthetic.face_rig import LOWER_INNER_LIP, UPPER_TEETH, FaceRig, default_rig, face_texture
from omnitalker.constants import CODE_DIM, RENDER_SIZE

# mouth-cavity palette (RGB in [0, 1]) along v: 0 = upper-teeth edge, 1 = lower lip
_CAVITY_STOPS = torch.tensor([0.0, 0.2, 0.6, 0.88, 1.0])
_CAVITY_COLORS = torch.tensor([
    [0.09, 0.04, 0.04],  # shadow right under the upper teeth
    [0.15, 0.06, 0.07],
    [0.22, 0.07, 0.08],  # dark mouth
    [0.46, 0.18, 0.20],  # tongue
    [0.55, 0.40, 0.40],  # lower-teeth / lip-edge hint
])


class FaceRenderer:
    """Code-driven renderer of the textured face rig. ``render(codes (N, 61)) -> (N, 512, 512, 3) uint8``."""

    def __init__(self, rig: FaceRig | None = None, texture: Tensor | None = None, map_resolution: int = 256,
                 batch_size: int = 16, chunk_size: int = 12) -> None:
        if map_resolution < 32 or RENDER_SIZE % map_resolution:
            raise ValueError(f"map_resolution must divide {RENDER_SIZE} and be >= 32, got {map_resolution}")
        if batch_size < 1 or chunk_size < 1:
            raise ValueError(f"batch_size and chunk_size must be >= 1, got {batch_size}, {chunk_size}")
        self.rig = rig or default_rig()
        self.texture = (texture if texture is not None else face_texture()).unsqueeze(0)  # (1, 3, 512, 512)
        self.map_resolution = map_resolution
        self.batch_size = batch_size
        step = RENDER_SIZE / map_resolution
        self._coords = (torch.arange(map_resolution, dtype=torch.float32) + 0.5) * step - 0.5  # pixel centres
        tri = self.rig.triangles
        self._tri_src = self.rig.points[tri]  # (T, 3, 2) rest (photo) positions per triangle
        identity = torch.stack(torch.meshgrid(self._coords, self._coords, indexing="xy"), dim=-1)  # (R, R, 2)
        self._identity = identity.reshape(1, -1, 2)  # (1, R*R, 2)
        # triangles with a movable vertex, sorted by rest-pose bounding-box area into chunks of similar size
        moving = self.rig.movable[tri].any(dim=1).nonzero().squeeze(1)  # (Tm,)
        extent = self._tri_src[moving].amax(1) - self._tri_src[moving].amin(1)  # (Tm, 2)
        order = moving[torch.argsort(extent[:, 0] * extent[:, 1])]
        self._chunks = list(torch.split(order, chunk_size))
        self._cavity_top = torch.tensor(self.rig.index(("mouth_rcorner",) + UPPER_TEETH + ("mouth_lcorner",)))
        self._cavity_bottom = torch.tensor(self.rig.index(("mouth_rcorner",) + LOWER_INNER_LIP + ("mouth_lcorner",)))

    def source_map(self, driving: Tensor) -> Tensor:
        """(B, P, 2) driving keypoints -> (B, R, R, 2) photo position (pixels) that each output pixel shows."""
        b, r = driving.shape[0], self.map_resolution
        step = RENDER_SIZE / r
        out = self._identity.expand(b, -1, -1).clone()  # (B, R*R, 2); static triangles keep the identity
        for tids in self._chunks:
            dst = driving[:, self.rig.triangles[tids]]  # (B, Tc, 3, 2)
            # per-frame boxes (the head moves between frames) sharing one padded size per chunk
            lo = ((dst.amin(dim=2) + 0.5) / step - 0.5).floor().clamp(0, r - 1).long()  # (B, Tc, 2)
            hi = ((dst.amax(dim=2) + 0.5) / step - 0.5).ceil().clamp(0, r - 1).long() + 1
            size = hi - lo  # (B, Tc, 2)
            wm, hm = int(size[..., 0].max()), int(size[..., 1].max())
            ix, iy = torch.arange(wm), torch.arange(hm)
            gx = (lo[..., 0:1] + ix).clamp(max=r - 1)  # (B, Tc, wm)
            gy = (lo[..., 1:2] + iy).clamp(max=r - 1)  # (B, Tc, hm)
            # barycentric coordinates are affine in (x, y): l = col(x) + row(y), one broadcast add per pixel
            v0 = dst[:, :, 0]  # (B, Tc, 2)
            e1 = dst[:, :, 1] - v0
            e2 = dst[:, :, 2] - v0
            det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]  # (B, Tc)
            ok = det.abs() > 1e-6
            inv = 1.0 / torch.where(ok, det, torch.ones_like(det))
            xs = self._coords[gx] - v0[..., 0:1]  # (B, Tc, wm)
            ys = self._coords[gy] - v0[..., 1:2]  # (B, Tc, hm)
            far = torch.tensor(-1e9)
            col_ok = (ix < size[..., 0:1]) & ok.unsqueeze(-1)  # (B, Tc, wm) padding/degenerate -> outside
            row_ok = iy < size[..., 1:2]  # (B, Tc, hm)
            col1 = torch.where(col_ok, xs * (inv * e2[..., 1]).unsqueeze(-1), far).unsqueeze(2)  # (B, Tc, 1, wm)
            col2 = torch.where(col_ok, -xs * (inv * e1[..., 1]).unsqueeze(-1), far).unsqueeze(2)
            row1 = torch.where(row_ok, -ys * (inv * e2[..., 0]).unsqueeze(-1), far).unsqueeze(3)  # (B, Tc, hm, 1)
            row2 = torch.where(row_ok, ys * (inv * e1[..., 0]).unsqueeze(-1), far).unsqueeze(3)
            eps = 1e-4
            l1 = col1 + row1  # (B, Tc, hm, wm)
            l2 = col2 + row2
            inside = (l1 >= -eps) & (l2 >= -eps) & ((col1 + col2) + (row1 + row2) <= 1.0 + eps)
            hit = inside.view(-1).nonzero().squeeze(1)  # (n,) covered pixels, flat in (B, Tc, hm, wm)
            l1, l2 = l1.reshape(-1)[hit].unsqueeze(1), l2.reshape(-1)[hit].unsqueeze(1)  # (n, 1)
            x_i = hit % wm
            rest = torch.div(hit, wm, rounding_mode="floor")
            y_i = rest % hm
            rest = torch.div(rest, hm, rounding_mode="floor")
            t_i = rest % len(tids)
            b_i = torch.div(rest, len(tids), rounding_mode="floor")
            src = self._tri_src[tids][t_i]  # (n, 3, 2)
            values = src[:, 0] + l1 * (src[:, 1] - src[:, 0]) + l2 * (src[:, 2] - src[:, 0])  # (n, 2)
            out.view(-1, 2)[b_i * (r * r) + gy[b_i, t_i, y_i] * r + gx[b_i, t_i, x_i]] = values
        return out.view(b, r, r, 2)

    def mouth_cavity(self, driving: Tensor) -> tuple[tuple[slice, slice], Tensor, Tensor] | None:
        """Coverage (B, 1, h, w) and colour (B, 3, h, w) of the mouth opening inside its window (rows, cols) at full
        resolution, or None when no frame of the batch has its mouth open.

        The opening is the region between the upper-teeth edge and the lower inner lip (both x-monotonic polylines
        from corner to corner); coverage is anti-aliased vertically, and ``v`` = relative depth across the opening
        picks the colour.
        """
        top = driving[:, self._cavity_top]  # (B, 7, 2) corner, upper teeth edge, corner
        bottom = driving[:, self._cavity_bottom]  # (B, 7, 2) corner, lower inner lip, corner
        both = torch.cat([top, bottom], dim=1).reshape(-1, 2)
        x0, y0 = (both.amin(0).floor().long() - 1).clamp(0, RENDER_SIZE).tolist()
        x1, y1 = (both.amax(0).ceil().long() + 2).clamp(0, RENDER_SIZE).tolist()
        if x1 <= x0 or y1 <= y0:
            return None
        xs = torch.arange(x0, x1, dtype=torch.float32)  # (w,) pixel centres
        ys = torch.arange(y0, y1, dtype=torch.float32).view(1, -1, 1)  # (1, h, 1)
        y_top, in_top = _polyline_at(top, xs)  # (B, w)
        y_bot, in_bot = _polyline_at(bottom, xs)
        height = y_bot - y_top  # (B, w)
        open_cols = (in_top & in_bot & (height > 0.05)).unsqueeze(1)  # (B, 1, w)
        if not bool(open_cols.any()):
            return None
        y_top, y_bot = y_top.unsqueeze(1), y_bot.unsqueeze(1)  # (B, 1, w)
        alpha = (torch.minimum(ys - y_top, y_bot - ys) + 0.5).clamp(0.0, 1.0)  # (B, h, w)
        alpha = alpha * height.unsqueeze(1).clamp(max=1.0) * open_cols  # thin slits fade out
        v = ((ys - y_top) / height.unsqueeze(1).clamp(min=1e-3)).clamp(0.0, 1.0)  # (B, h, w)
        return (slice(y0, y1), slice(x0, x1)), alpha.unsqueeze(1), _cavity_color(v)

    @torch.no_grad()
    def render_batch(self, codes: Tensor) -> Tensor:
        """(B, 61) codes -> (B, 3, 512, 512) float frames in [0, 1]."""
        driving = self.rig.driving_points(codes)  # (B, P, 2)
        grid = (self.source_map(driving) + 0.5) * (2.0 / RENDER_SIZE) - 1.0  # (B, R, R, 2) in grid_sample's [-1, 1]
        if self.map_resolution != RENDER_SIZE:  # bilinear upsampling commutes with the affine normalisation
            grid = grid.permute(0, 3, 1, 2).contiguous()  # (B, 2, R, R): the fast layout for interpolate
            grid = F.interpolate(grid, size=(RENDER_SIZE, RENDER_SIZE), mode="bilinear", align_corners=False)
            grid = grid.permute(0, 2, 3, 1)  # (B, 512, 512, 2) view; grid_sample reads it without a copy
        frames = F.grid_sample(self.texture.expand(codes.shape[0], -1, -1, -1), grid, mode="bilinear",
                               padding_mode="border", align_corners=False)  # (B, 3, 512, 512)
        cavity = self.mouth_cavity(driving)
        if cavity is not None:
            (rows, cols), alpha, color = cavity
            frames[:, :, rows, cols] = frames[:, :, rows, cols] * (1.0 - alpha) + color * alpha
        return frames

    def render(self, codes: np.ndarray | Tensor) -> np.ndarray:
        """(N, 61) codes -> (N, 512, 512, 3) uint8 RGB frames (processed in batches of ``batch_size``)."""
        codes = torch.as_tensor(np.asarray(codes, dtype=np.float32))
        if codes.dim() != 2 or codes.shape[1] != CODE_DIM:
            raise ValueError(f"codes must have shape (frames, {CODE_DIM}), got {tuple(codes.shape)}")
        if not torch.isfinite(codes).all():
            raise ValueError("codes contain NaN or infinite values")
        out = np.empty((codes.shape[0], RENDER_SIZE, RENDER_SIZE, 3), dtype=np.uint8)
        for start in range(0, codes.shape[0], self.batch_size):
            frames = self.render_batch(codes[start:start + self.batch_size])  # (b, 3, 512, 512)
            frames = frames.mul_(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)  # (b, 512, 512, 3)
            out[start:start + frames.shape[0]] = frames.numpy()
        return out


def _polyline_at(points: Tensor, xs: Tensor) -> tuple[Tensor, Tensor]:
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


def _cavity_color(v: Tensor) -> Tensor:
    """(B, h, w) position across the mouth opening in [0, 1] -> (B, 3, h, w) colour."""
    stops, colors = _CAVITY_STOPS, _CAVITY_COLORS
    idx = torch.bucketize(v, stops[1:-1])  # segment index in [0, len-2]
    t = ((v - stops[idx]) / (stops[idx + 1] - stops[idx])).clamp(0.0, 1.0).unsqueeze(-1)
    rgb = colors[idx] * (1.0 - t) + colors[idx + 1] * t  # (B, h, w, 3)
    return rgb.permute(0, 3, 1, 2)
