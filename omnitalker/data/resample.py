"""Linear resampling of visual codes between the video frame rate and the mel frame rate (SPEC §2).

The model sees codes at 93.75 Hz (one per mel frame); the renderer wants them back at the output fps. Resampling
aligns the first and last frames exactly (``align_corners`` semantics) so a clip's endpoints never drift.
"""

from __future__ import annotations

import numpy as np
import torch

from omnitalker.constants import CODE_DIM, MEL_FPS


def num_frames_at_rate(num_frames: int, src_fps: float, dst_fps: float) -> int:
    """Frames covering the same duration at ``dst_fps`` as ``num_frames`` at ``src_fps`` (at least 1)."""
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"frame rates must be positive, got src_fps={src_fps}, dst_fps={dst_fps}")
    return max(1, int(round(num_frames * dst_fps / src_fps)))


def num_code_frames_for_mel(num_mel_frames: int, fps: float) -> int:
    """Video frames at ``fps`` spanning the duration of ``num_mel_frames`` mel frames."""
    return num_frames_at_rate(num_mel_frames, MEL_FPS, fps)


def num_mel_frames_for_codes(num_code_frames: int, fps: float) -> int:
    """Mel frames spanning the duration of ``num_code_frames`` video frames at ``fps``."""
    return num_frames_at_rate(num_code_frames, fps, MEL_FPS)


def resample_codes(
    codes: torch.Tensor | np.ndarray,
    src_fps: float | None = None,
    dst_fps: float | None = None,
    num_frames: int | None = None,
) -> torch.Tensor:
    """Resample (T, 61) or (B, T, 61) codes along time by linear interpolation.

    Give either ``num_frames`` (output length; e.g. the clip's mel frame count) or ``src_fps`` and ``dst_fps``
    (output length ``round(T * dst_fps / src_fps)``). Output frame j samples input position
    ``j * (T - 1) / (num_frames - 1)``: first and last frames are copied exactly, frames in between are linear
    blends of their two neighbours. Returns a tensor of the input's dtype (float32 for numpy input).
    """
    if isinstance(codes, np.ndarray):
        codes = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32))
    if not isinstance(codes, torch.Tensor):
        raise TypeError(f"codes must be a tensor or numpy array, got {type(codes).__name__}")
    if codes.dim() not in (2, 3) or codes.shape[-1] != CODE_DIM:
        raise ValueError(f"codes must have shape (T, {CODE_DIM}) or (B, T, {CODE_DIM}), got {tuple(codes.shape)}")
    if not codes.is_floating_point():
        raise TypeError(f"codes must be floating point, got {codes.dtype}")
    length = codes.shape[-2]
    if length < 1:
        raise ValueError("codes have no frames")
    if num_frames is None:
        if src_fps is None or dst_fps is None:
            raise ValueError("give num_frames, or both src_fps and dst_fps")
        num_frames = num_frames_at_rate(length, src_fps, dst_fps)
    elif src_fps is not None or dst_fps is not None:
        raise ValueError("give either num_frames or src_fps/dst_fps, not both")
    if int(num_frames) < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    num_frames = int(num_frames)
    if num_frames == length:
        return codes.clone()
    if length == 1:
        return codes.expand(*codes.shape[:-2], num_frames, CODE_DIM).clone()
    if num_frames == 1:
        return codes[..., :1, :].clone()
    # (num_frames,) fractional source positions in float64 so the last one is exactly length - 1
    position = torch.arange(num_frames, dtype=torch.float64, device=codes.device) * ((length - 1) / (num_frames - 1))
    position[-1] = length - 1
    left = position.floor().long().clamp(max=length - 2)  # (num_frames,)
    weight = (position - left).to(codes.dtype).unsqueeze(-1)  # (num_frames, 1) in [0, 1]
    lo = codes.index_select(-2, left)  # (..., num_frames, 61)
    hi = codes.index_select(-2, left + 1)  # (..., num_frames, 61)
    return torch.lerp(lo, hi, weight)
