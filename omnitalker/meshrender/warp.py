"""Piecewise-affine image warp driven by a triangle mesh, batched over frames (backward map + ``grid_sample``).

Every triangle that has a movable vertex is rasterised in the *driving* frame (batched over frames and over chunks
of similar-sized triangles); a triangle whose winding flipped (the surface folded over, e.g. the far cheek of a
turned head) faces away and is culled, so the triangles in front of it show. Barycentric interpolation of its rest (source) vertices gives, for each output pixel,
the source position it shows. Pixels no moving triangle covers keep the identity. The map is computed at
``1 / map_stride`` of the output resolution and upsampled bilinearly (it is piecewise linear, so this only rounds the
creases), then ``grid_sample`` pulls the texture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


class PiecewiseAffineWarp:
    """Mesh over ``points`` (P, 2) source pixels (x, y) with ``triangles`` (T, 3); ``movable`` (P,) bool marks the
    vertices that may move (triangles of only fixed vertices are skipped: they are the identity)."""

    def __init__(self, points: Tensor, triangles: Tensor, movable: Tensor, size: tuple[int, int],
                 map_stride: int = 2, chunk_size: int = 12) -> None:
        height, width = size
        if map_stride < 1 or height % map_stride or width % map_stride:
            raise ValueError(f"map_stride must divide the output size {size}, got {map_stride}")
        self.size = (height, width)
        self.map_size = (height // map_stride, width // map_stride)
        self.stride = float(map_stride)
        self.points = points.float()  # (P, 2)
        self.triangles = triangles.long()  # (T, 3)
        rh, rw = self.map_size
        self._cx = (torch.arange(rw, dtype=torch.float32) + 0.5) * self.stride - 0.5  # (rw,) pixel centres
        self._cy = (torch.arange(rh, dtype=torch.float32) + 0.5) * self.stride - 0.5  # (rh,)
        identity = torch.stack(torch.meshgrid(self._cx, self._cy, indexing="xy"), dim=-1)  # (rh, rw, 2)
        self._identity = identity.reshape(1, -1, 2)  # (1, rh*rw, 2)
        self._tri_src = self.points[self.triangles]  # (T, 3, 2) rest positions per triangle
        e1, e2 = self._tri_src[:, 1] - self._tri_src[:, 0], self._tri_src[:, 2] - self._tri_src[:, 0]
        self._orientation = torch.sign(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])  # (T,) winding at rest
        # triangles with a movable vertex, sorted by rest-pose bounding-box area into chunks of similar size
        moving = movable.bool()[self.triangles].any(dim=1).nonzero().squeeze(1)  # (Tm,)
        extent = self._tri_src[moving].amax(1) - self._tri_src[moving].amin(1)  # (Tm, 2)
        order = moving[torch.argsort(extent[:, 0] * extent[:, 1])]
        self._chunks = list(torch.split(order, chunk_size))

    def source_map(self, driving: Tensor) -> Tensor:
        """(B, P, 2) driving vertex positions -> (B, rh, rw, 2) source position (pixels) each map pixel shows."""
        b, (rh, rw), step = driving.shape[0], self.map_size, self.stride
        out = self._identity.expand(b, -1, -1).clone()  # (B, rh*rw, 2); static triangles keep the identity
        limit = torch.tensor([rw - 1, rh - 1])
        for tids in self._chunks:
            dst = driving[:, self.triangles[tids]]  # (B, Tc, 3, 2)
            # per-frame boxes (the head moves between frames) sharing one padded size per chunk
            lo = torch.minimum(((dst.amin(dim=2) + 0.5) / step - 0.5).floor().clamp(min=0), limit).long()  # (B, Tc, 2)
            hi = torch.minimum(((dst.amax(dim=2) + 0.5) / step - 0.5).ceil().clamp(min=0), limit).long() + 1
            size = hi - lo  # (B, Tc, 2)
            wm, hm = int(size[..., 0].max()), int(size[..., 1].max())
            ix, iy = torch.arange(wm), torch.arange(hm)
            gx = (lo[..., 0:1] + ix).clamp(max=rw - 1)  # (B, Tc, wm)
            gy = (lo[..., 1:2] + iy).clamp(max=rh - 1)  # (B, Tc, hm)
            # barycentric coordinates are affine in (x, y): l = col(x) + row(y), one broadcast add per pixel
            v0 = dst[:, :, 0]  # (B, Tc, 2)
            e1 = dst[:, :, 1] - v0
            e2 = dst[:, :, 2] - v0
            det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]  # (B, Tc)
            ok = det * self._orientation[tids] > 1e-6  # folded-over (back-facing) and degenerate triangles: skipped
            inv = 1.0 / torch.where(ok, det, torch.ones_like(det))
            xs = self._cx[gx] - v0[..., 0:1]  # (B, Tc, wm)
            ys = self._cy[gy] - v0[..., 1:2]  # (B, Tc, hm)
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
            out.view(-1, 2)[b_i * (rh * rw) + gy[b_i, t_i, y_i] * rw + gx[b_i, t_i, x_i]] = values
        return out.view(b, rh, rw, 2)

    def warp(self, texture: Tensor, driving: Tensor) -> Tensor:
        """``texture`` (1, C, H, W) float, ``driving`` (B, P, 2) -> (B, C, H, W) warped images."""
        height, width = self.size
        scale = torch.tensor([2.0 / width, 2.0 / height])
        grid = (self.source_map(driving) + 0.5) * scale - 1.0  # (B, rh, rw, 2) in grid_sample's [-1, 1]
        if self.map_size != self.size:  # bilinear upsampling commutes with the affine normalisation
            grid = grid.permute(0, 3, 1, 2).contiguous()  # (B, 2, rh, rw): the fast layout for interpolate
            grid = F.interpolate(grid, size=self.size, mode="bilinear", align_corners=False)
            grid = grid.permute(0, 2, 3, 1)  # (B, H, W, 2) view; grid_sample reads it without a copy
        return F.grid_sample(texture.expand(driving.shape[0], -1, -1, -1), grid, mode="bilinear",
                             padding_mode="border", align_corners=False)  # (B, C, H, W)
