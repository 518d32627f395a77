"""Joining chunk-wise generations without clicks or jumps (SPEC §5, long text).

Consecutive chunks overlap by `overlap` samples/frames: the end of chunk i and the start of chunk i+1 are mixed with
complementary ramps. Audio uses an equal-power (sin/cos) fade by default, right for uncorrelated speech; visual codes
use a raised-cosine ramp (weights sum to 1, so blendshapes stay in [0, 1] and pose/gaze move smoothly). The overlap
at a seam shrinks when a chunk is too short to give it (a middle chunk gives at most half its length to each side).
Output length = sum(lengths) - sum(seam overlaps).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from omnitalker.inference.errors import MediaArrayError

AUDIO_CURVES = ("equal_power", "linear")
CODE_CURVES = ("cosine", "linear")


def _as_numpy(chunk, name: str, ndim: int) -> np.ndarray:
    array = chunk.detach().cpu().numpy() if isinstance(chunk, torch.Tensor) else np.asarray(chunk)
    if array.ndim != ndim:
        raise MediaArrayError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    return array.astype(np.float32, copy=False)


def seam_overlaps(lengths: Sequence[int], overlap: int) -> list[int]:
    """Overlap actually used at each of the len(lengths) - 1 seams."""
    if overlap < 0:
        raise MediaArrayError(f"overlap must be >= 0, got {overlap}")
    used = []
    for i in range(len(lengths) - 1):
        left = lengths[i] if i == 0 else lengths[i] // 2
        right = lengths[i + 1] if i + 1 == len(lengths) - 1 else lengths[i + 1] // 2
        used.append(min(overlap, left, right))
    return used


def _ramp(length: int) -> np.ndarray:
    """(length,) positions strictly inside (0, 1), symmetric."""
    return (np.arange(length, dtype=np.float64) + 0.5) / max(length, 1)


def _overlap_add(chunks: list[np.ndarray], overlap: int, curve: str) -> np.ndarray:
    if not chunks:
        raise MediaArrayError("no chunks to join")
    overlaps = seam_overlaps([c.shape[0] for c in chunks], overlap)
    out = chunks[0]
    for chunk, n in zip(chunks[1:], overlaps):
        if n == 0:
            out = np.concatenate([out, chunk])
            continue
        t = _ramp(n)
        if curve == "equal_power":
            fade_out, fade_in = np.cos(t * np.pi / 2), np.sin(t * np.pi / 2)
        elif curve == "cosine":
            fade_in = 0.5 - 0.5 * np.cos(t * np.pi)
            fade_out = 1.0 - fade_in
        else:  # linear
            fade_in, fade_out = t, 1.0 - t
        shape = (n,) + (1,) * (chunk.ndim - 1)
        mixed = out[-n:] * fade_out.reshape(shape) + chunk[:n] * fade_in.reshape(shape)
        out = np.concatenate([out[:-n], mixed.astype(np.float32), chunk[n:]])
    return out


def crossfade_audio(
    chunks: Sequence[np.ndarray | torch.Tensor], overlap_samples: int, curve: str = "equal_power"
) -> np.ndarray:
    """Join (samples_i,) waveforms with a cross-fade of `overlap_samples` -> (sum - overlaps,) float32."""
    if curve not in AUDIO_CURVES:
        raise ValueError(f"curve must be one of {AUDIO_CURVES}, got {curve!r}")
    return _overlap_add([_as_numpy(c, f"audio chunk {i}", 1) for i, c in enumerate(chunks)], overlap_samples, curve)


def blend_codes(chunks: Sequence[np.ndarray | torch.Tensor], overlap_frames: int, curve: str = "cosine") -> np.ndarray:
    """Join (T_i, D) visual-code sequences (D = 61: expression, pose, eyes) blending `overlap_frames` at each seam
    -> (sum T_i - overlaps, D) float32."""
    if curve not in CODE_CURVES:
        raise ValueError(f"curve must be one of {CODE_CURVES}, got {curve!r}")
    arrays = [_as_numpy(c, f"code chunk {i}", 2) for i, c in enumerate(chunks)]
    if len({a.shape[1] for a in arrays}) > 1:
        raise MediaArrayError(f"code chunks differ in width: {[a.shape for a in arrays]}")
    return _overlap_add(arrays, overlap_frames, curve)
