"""Joining chunk-wise generations without clicks or jumps (SPEC §5, long text).

Chunks that continue each other (`DiTGenerator.continue_chunks`: chunk k+1 is prompted with chunk k) are joined by
`CodeSeamJoiner`: the residual offset between where chunk k+1 starts and where chunk k was heading is removed from
chunk k+1's first frames with a raised-cosine ramp (default 0.5 s), so the seam adds at most pi/2 x offset / ramp per
frame. It only changes the new chunk, never frames already handed out, so it works chunk by chunk (streaming).
`seam_jumps` measures the result: the frame-to-frame change at each seam vs. within the chunks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from omnitalker.inference.errors import MediaArrayError


def _as_numpy(chunk, name: str, ndim: int) -> np.ndarray:
    array = chunk.detach().cpu().numpy() if isinstance(chunk, torch.Tensor) else np.asarray(chunk)
    if array.ndim != ndim:
        raise MediaArrayError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    return array.astype(np.float32, copy=False)


class CodeSeamJoiner:
    """Incremental joiner of (T_k, D) code chunks that continue each other: ``push`` returns chunk k with the seam
    offset ramped out of its first ``ramp_frames`` frames. The target of chunk k's first frame is chunk k-1's last
    frame plus its mean velocity over the last ``velocity_frames`` steps (constant-velocity extrapolation)."""

    def __init__(self, ramp_frames: int, velocity_frames: int = 4, clip: tuple[slice, float, float] | None = None):
        if ramp_frames < 0 or velocity_frames < 0:
            raise ValueError(f"ramp_frames and velocity_frames must be >= 0, got {ramp_frames}, {velocity_frames}")
        self.ramp_frames = ramp_frames
        self.velocity_frames = velocity_frames
        self.clip = clip  # (channels, low, high) kept in range after the correction, e.g. blendshapes in [0, 1]
        self._tail: np.ndarray | None = None  # (<= velocity_frames + 1, D) last frames handed out

    def push(self, chunk: np.ndarray | torch.Tensor) -> np.ndarray:
        codes = _as_numpy(chunk, "code chunk", 2).copy()  # (T, D)
        if codes.shape[0] == 0:
            return codes
        if self._tail is not None and self.ramp_frames > 0:
            if codes.shape[1] != self._tail.shape[1]:
                raise MediaArrayError(f"code chunks differ in width: {self._tail.shape[1]} then {codes.shape[1]}")
            steps = np.diff(self._tail, axis=0)  # (v, D)
            velocity = steps.mean(0) if steps.shape[0] else np.zeros(codes.shape[1], np.float32)
            offset = self._tail[-1] + velocity - codes[0]  # (D,)
            n = min(self.ramp_frames, codes.shape[0])
            weight = 0.5 + 0.5 * np.cos(np.pi * np.arange(n) / n)  # (n,) 1 at the seam -> 0 after n frames
            codes[:n] += weight[:, None].astype(np.float32) * offset[None].astype(np.float32)
            if self.clip is not None:
                channels, low, high = self.clip
                codes[:n, channels] = np.clip(codes[:n, channels], low, high)
        keep = self.velocity_frames + 1
        self._tail = codes[-keep:] if self._tail is None or codes.shape[0] >= keep else \
            np.concatenate([self._tail, codes])[-keep:]
        return codes


def seam_jumps(codes: np.ndarray, seams: Sequence[int], channels: slice | Sequence[int], guard: int = 1) -> dict:
    """Frame-to-frame change of ``codes[:, channels]`` (T, D) at each seam vs. inside the chunks.

    ``seams``: frame index where each chunk after the first starts. The change of step t (frame t -> t+1) is its L2
    norm; a seam's jump is the largest change among the steps within ``guard`` frames of it (resampling to another
    frame rate spreads a jump over neighbouring steps); the within-chunk distribution excludes those steps. Returns
    ``{"jumps": [...], "percentiles": [...] (share of within-chunk steps smaller than each jump, 0-100),
    "within_p50", "within_p99"}``.
    """
    array = np.asarray(codes, dtype=np.float64)[:, channels]  # (T, D')
    steps = np.linalg.norm(np.diff(array, axis=0), axis=1)  # (T-1,) step t: frame t -> t+1
    near = np.zeros(steps.shape[0], dtype=bool)
    jumps = []
    for s in seams:
        lo, hi = max(0, s - 1 - guard), min(steps.shape[0], s + guard)  # step s-1 crosses the seam
        if hi <= lo:
            raise MediaArrayError(f"seam at frame {s} is outside the {array.shape[0]} frames")
        near[lo:hi] = True
        jumps.append(float(steps[lo:hi].max()))
    within = np.sort(steps[~near])
    if within.size == 0:
        raise MediaArrayError("no within-chunk steps left to compare the seams with")
    percentiles = [100.0 * float(np.searchsorted(within, j, side="left")) / within.size for j in jumps]
    return {"jumps": jumps, "percentiles": percentiles, "within_p50": float(np.percentile(within, 50)),
            "within_p99": float(np.percentile(within, 99))}
