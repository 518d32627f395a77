"""Render 512x512 frames from visual codes: piecewise-affine warp of the real face photo by the rig's keypoints.

Per batch of frames: the rig turns codes into driving keypoints; every triangle of the fixed mesh is rasterised in
the driving frame (batched over frames, one small tensor pass per triangle on the union of its bounding boxes) to
get, for each output pixel, the source-photo position it comes from (barycentric interpolation of the rest
keypoints); the map is computed at ``map_resolution`` and upsampled bilinearly (it is piecewise linear and smooth
at that scale), then ``grid_sample`` pulls the texture. Pixels in the mouth-opening triangles are painted as a dark
mouth cavity (shadow under the upper teeth, tongue, lower-teeth hint) so the mouth visibly opens.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from data_prep.synthetic.face_rig import FaceRig, default_rig, face_texture
from omnitalker.constants import CODE_DIM, RENDER_SIZE

# mouth-cavity palette (RGB in [0, 1]) along v: 0 = upper-teeth edge, 1 = lower lip
_CAVITY_STOPS = torch.tensor([0.0, 0.18, 0.6, 0.85, 0.97])
_CAVITY_COLORS = torch.tensor([
    [0.10, 0.05, 0.05],  # shadow right under the upper teeth
    [0.16, 0.06, 0.07],
    [0.22, 0.07, 0.08],  # dark mouth
    [0.50, 0.20, 0.22],  # tongue
    [0.72, 0.66, 0.62],  # lower-teeth hint
])


class FaceRenderer:
    """Code-driven renderer of the textured face rig. ``render(codes (N, 61)) -> (N, 512, 512, 3) uint8``."""

    def __init__(self, rig: FaceRig | None = None, texture: Tensor | None = None, map_resolution: int = 256,
                 batch_size: int = 16, chunk_size: int = 24) -> None:
        if map_resolution < 32 or RENDER_SIZE % map_resolution:
            raise ValueError(f"map_resolution must divide {RENDER_SIZE} and be >= 32, got {map_resolution}")
        self.rig = rig or default_rig()
        self.texture = (texture if texture is not None else face_texture()).unsqueeze(0)  # (1, 3, 512, 512)
        self.map_resolution = map_resolution
        self.batch_size = batch_size
        step = RENDER_SIZE / map_resolution
        self._coords = (torch.arange(map_resolution, dtype=torch.float32) + 0.5) * step - 0.5  # pixel centres
        tri = self.rig.triangles
        cavity = self.rig.cavity.float().view(-1, 1, 1).expand(-1, 3, 1)  # (T, 3, 1)
        cavity_v = self.rig.cavity_v[tri].unsqueeze(-1) * cavity  # (T, 3, 1)
        # per-vertex attributes interpolated inside each triangle: source x, y, cavity flag, cavity v
        self._tri_attr = torch.cat([self.rig.points[tri], cavity, cavity_v], dim=-1)  # (T, 3, 4)
        identity = torch.stack(torch.meshgrid(self._coords, self._coords, indexing="xy"), dim=-1)  # (R, R, 2)
        self._identity = torch.cat([identity, torch.zeros(map_resolution, map_resolution, 2)], -1).view(1, -1, 4)
        # triangles with a movable vertex, grouped by rest-pose bounding-box area into chunks of similar size
        moving = self.rig.movable[tri].any(dim=1).nonzero().squeeze(1)  # (Tm,)
        extent = self.rig.points[tri[moving]].amax(1) - self.rig.points[tri[moving]].amin(1)  # (Tm, 2)
        order = moving[torch.argsort(extent[:, 0] * extent[:, 1])]
        self._chunks = list(torch.split(order, chunk_size))

    def source_map(self, driving: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, P, 2) driving keypoints -> source positions (B, R, R, 2), cavity mask (B, R, R), cavity v (B, R, R).

        Triangles whose three vertices are static keep the identity map; the others are rasterised in chunks of
        similar size (one batched pass per chunk, scattered into the map where the pixel lies inside).
        """
        b, r = driving.shape[0], self.map_resolution
        step = RENDER_SIZE / r
        out = self._identity.expand(b, -1, -1).clone()  # (B, R*R, 4): src x, src y, cavity, cavity v
        for tids in self._chunks:
            dst = driving[:, self.rig.triangles[tids]]  # (B, Tc, 3, 2)
            lo = ((dst.amin(dim=(0, 2)) + 0.5) / step - 0.5).floor().clamp(0, r - 1).long()  # (Tc, 2) union bbox
            hi = ((dst.amax(dim=(0, 2)) + 0.5) / step - 0.5).ceil().clamp(0, r - 1).long() + 1
            size = hi - lo  # (Tc, 2)
            wm, hm = int(size[:, 0].max()), int(size[:, 1].max())
            ix, iy = torch.arange(wm), torch.arange(hm)
            gx = lo[:, 0:1] + ix  # (Tc, wm)
            gy = lo[:, 1:2] + iy  # (Tc, hm)
            in_box = (ix < size[:, 0:1]).unsqueeze(1) & (iy < size[:, 1:2]).unsqueeze(2)  # (Tc, hm, wm)
            gx, gy = gx.clamp(max=r - 1), gy.clamp(max=r - 1)
            v0 = dst[:, :, 0]  # (B, Tc, 2)
            e1 = dst[:, :, 1] - v0
            e2 = dst[:, :, 2] - v0
            det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]  # (B, Tc)
            ok = det.abs() > 1e-6
            inv = torch.where(ok, 1.0 / torch.where(ok, det, torch.ones_like(det)), torch.zeros_like(det))
            px = (self._coords[gx].unsqueeze(0) - v0[..., 0:1]).unsqueeze(2)  # (B, Tc, 1, wm)
            py = (self._coords[gy].unsqueeze(0) - v0[..., 1:2]).unsqueeze(3)  # (B, Tc, hm, 1)
            e1x, e1y = e1[..., 0, None, None], e1[..., 1, None, None]  # (B, Tc, 1, 1)
            e2x, e2y = e2[..., 0, None, None], e2[..., 1, None, None]
            d = inv[..., None, None]
            l1 = (px * e2y - py * e2x) * d  # (B, Tc, hm, wm)
            l2 = (py * e1x - px * e1y) * d
            eps = 1e-4
            inside = (l1 >= -eps) & (l2 >= -eps) & (l1 + l2 <= 1.0 + eps) & ok[..., None, None] & in_box
            hit = inside.view(-1).nonzero().squeeze(1)  # (n,) flat positions of covered pixels in (B, Tc, hm, wm)
            l1, l2 = l1.reshape(-1)[hit], l2.reshape(-1)[hit]  # (n,)
            t_local = torch.div(hit, hm * wm, rounding_mode="floor") % len(tids)
            attr = self._tri_attr[tids][t_local]  # (n, 3, 4)
            values = attr[:, 0] + l1.unsqueeze(1) * (attr[:, 1] - attr[:, 0]) + l2.unsqueeze(1) * (attr[:, 2] - attr[:, 0])
            flat = (gy.unsqueeze(2) * r + gx.unsqueeze(1)).unsqueeze(0) + (torch.arange(b) * r * r).view(-1, 1, 1, 1)
            out.view(-1, 4)[flat.expand_as(inside).reshape(-1)[hit]] = values  # (n, 4)
        out = out.view(b, r, r, 4)
        return out[..., :2], out[..., 2], out[..., 3]

    @torch.no_grad()
    def render_batch(self, codes: Tensor) -> Tensor:
        """(B, 61) codes -> (B, 3, 512, 512) float frames in [0, 1]."""
        driving = self.rig.driving_points(codes)  # (B, P, 2)
        src, cavity, cavity_v = self.source_map(driving)  # (B, R, R, 2), (B, R, R), (B, R, R)
        up = RENDER_SIZE // self.map_resolution
        if up > 1:
            src = F.interpolate(src.permute(0, 3, 1, 2), scale_factor=up, mode="bilinear", align_corners=False)
            src = src.permute(0, 2, 3, 1)  # (B, 512, 512, 2)
        grid = (src + 0.5) / RENDER_SIZE * 2.0 - 1.0  # (B, 512, 512, 2) in grid_sample's [-1, 1]
        frames = F.grid_sample(self.texture.expand(codes.shape[0], -1, -1, -1), grid, mode="bilinear",
                               padding_mode="border", align_corners=False)  # (B, 3, 512, 512)
        # mouth cavity: only inside the window spanned by the cavity triangles (a few % of the frame)
        ring = driving[:, self.rig.triangles[self.rig.cavity]].reshape(-1, 2)  # (B*Tc*3, 2)
        r = self.map_resolution
        x0, y0 = ((ring.amin(0) / up).floor().long() - 2).clamp(0, r).tolist()
        x1, y1 = ((ring.amax(0) / up).ceil().long() + 3).clamp(0, r).tolist()
        if x1 > x0 and y1 > y0:
            window = torch.stack([cavity[:, y0:y1, x0:x1], cavity_v[:, y0:y1, x0:x1]], dim=1)  # (B, 2, h, w)
            if up > 1:
                window = F.interpolate(window, scale_factor=up, mode="bilinear", align_corners=False)
            alpha = window[:, 0:1].clamp(0.0, 1.0)  # (B, 1, h*up, w*up)
            color = _cavity_color(window[:, 1].clamp(0.0, 1.0))  # (B, 3, h*up, w*up)
            ys, xs = slice(y0 * up, y1 * up), slice(x0 * up, x1 * up)
            frames[:, :, ys, xs] = frames[:, :, ys, xs] * (1.0 - alpha) + color * alpha
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
            out[start:start + frames.shape[0]] = (frames.permute(0, 2, 3, 1) * 255.0 + 0.5).clamp(0, 255).byte().numpy()
        return out


def _cavity_color(v: Tensor) -> Tensor:
    """(B, H, W) position across the mouth opening -> (B, 3, H, W) piecewise-linear cavity colour."""
    stops, colors = _CAVITY_STOPS, _CAVITY_COLORS
    idx = torch.bucketize(v, stops[1:-1])  # (B, H, W) segment index in [0, len-2]
    t = ((v - stops[idx]) / (stops[idx + 1] - stops[idx])).clamp(0.0, 1.0).unsqueeze(-1)  # (B, H, W, 1)
    rgb = colors[idx] * (1.0 - t) + colors[idx + 1] * t  # (B, H, W, 3)
    return rgb.permute(0, 3, 1, 2)
