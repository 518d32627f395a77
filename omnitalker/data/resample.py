"""Resampling of visual codes between the video frame rate and the mel frame rate by timestamps (SPEC §2).

The model sees codes at 93.75 Hz (one per mel frame); the renderer wants them back at the output fps. Every frame of
either stream stands for one instant, and resampling interpolates the code track linearly at the destination
instants — it never stretches one clip's frames onto the other's span, so a few frames of length mismatch cannot
shift timing.

Timing convention (used by data preparation, the dataset and inference alike):
- video frame ``k`` at ``fps`` stands for the centre of its display interval, ``(k + 0.5) / fps``
  (``VIDEO_PHASE = 0.5``; the synthetic generator samples its ground-truth codes at exactly these instants);
- mel frame ``j`` stands for the centre of its STFT window, ``j * 256 / 24000`` s (``MEL_PHASE = 0``: the mel is
  computed with ``center=True``, so frame ``j``'s window is centred on sample ``j * hop``).

Each source frame covers its whole interval, so the track is defined over the clip's full span: between the first
(last) frame's instant and the clip's start (end) — half a source frame, 20 ms at 25 fps — it continues the line
through the two edge frames; beyond the span (a destination longer than the source) it holds the end value, never
stretching. Consecutive clips of one recording therefore meet without a step at their cut.
"""

from __future__ import annotations

import numpy as np
import torch

from omnitalker.constants import CODE_DIM, MEL_FPS

VIDEO_PHASE = 0.5  # video frame k <-> (k + 0.5) / fps
MEL_PHASE = 0.0  # mel frame j <-> j / MEL_FPS


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


def frame_times(num_frames: int, fps: float, phase: float) -> np.ndarray:
    """(num_frames,) float64 seconds that frames ``0..num_frames-1`` stand for: ``(k + phase) / fps``."""
    return (np.arange(num_frames, dtype=np.float64) + phase) / fps


def resample_codes(
    codes: torch.Tensor | np.ndarray,
    src_fps: float | None = None,
    dst_fps: float | None = None,
    num_frames: int | None = None,
    src_phase: float = VIDEO_PHASE,
    dst_phase: float = VIDEO_PHASE,
) -> torch.Tensor:
    """Resample (T, 61) or (B, T, 61) codes from ``src_fps`` to ``dst_fps`` by linear interpolation in time.

    Source frame ``k`` sits at ``(k + src_phase) / src_fps`` and destination frame ``j`` at
    ``(j + dst_phase) / dst_fps``; each destination frame is the linear interpolation of the source track at its
    instant, continued linearly up to half a source frame beyond the edge frames (the clip's span) and held
    constant beyond that. ``num_frames`` sets the output length
    (default ``round(T * dst_fps / src_fps)``, the same duration). Use :func:`codes_to_mel_rate` and
    :func:`codes_to_video_rate` for the two directions the project needs. Returns the input's dtype (float32 for
    numpy input).
    """
    if isinstance(codes, np.ndarray):
        codes = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32))
    if not isinstance(codes, torch.Tensor):
        raise TypeError(f"codes must be a tensor or numpy array, got {type(codes).__name__}")
    if codes.dim() not in (2, 3) or codes.shape[-1] != CODE_DIM:
        raise ValueError(f"codes must have shape (T, {CODE_DIM}) or (B, T, {CODE_DIM}), got {tuple(codes.shape)}")
    if not codes.is_floating_point():
        raise TypeError(f"codes must be floating point, got {codes.dtype}")
    if src_fps is None or dst_fps is None:
        raise ValueError("give src_fps and dst_fps: codes are resampled by timestamps, not stretched to a length")
    if not (np.isfinite(src_fps) and np.isfinite(dst_fps)) or src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"frame rates must be positive, got src_fps={src_fps}, dst_fps={dst_fps}")
    length = codes.shape[-2]
    if length < 1:
        raise ValueError("codes have no frames")
    if num_frames is None:
        num_frames = num_frames_at_rate(length, src_fps, dst_fps)
    if int(num_frames) < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    num_frames = int(num_frames)
    # (num_frames,) fractional source positions in float64: the source index whose instant each output frame takes
    position = frame_times(num_frames, dst_fps, dst_phase) * src_fps - src_phase
    snapped = np.rint(position)
    position = np.where(np.abs(position - snapped) < 1e-9, snapped, position)  # exact source frames stay exact
    if length == 1:
        return codes.expand(*codes.shape[:-2], num_frames, CODE_DIM).clone()
    position = torch.from_numpy(np.clip(position, -0.5, length - 0.5)).to(codes.device)  # within the clip's span
    left = position.floor().long().clamp(min=0, max=length - 2)  # (num_frames,)
    weight = (position - left).to(codes.dtype).unsqueeze(-1)  # (num_frames, 1) in [-0.5, 1.5]: edges extrapolate
    lo = codes.index_select(-2, left)  # (..., num_frames, 61)
    hi = codes.index_select(-2, left + 1)  # (..., num_frames, 61)
    return torch.lerp(lo, hi, weight)


def codes_to_mel_rate(codes: torch.Tensor | np.ndarray, fps: float, num_mel_frames: int | None = None) -> torch.Tensor:
    """Codes at video ``fps`` -> one code per mel frame (93.75 Hz), aligned by timestamps (module docstring)."""
    return resample_codes(codes, fps, MEL_FPS, num_mel_frames, src_phase=VIDEO_PHASE, dst_phase=MEL_PHASE)


def codes_to_video_rate(codes: torch.Tensor | np.ndarray, fps: float, num_video_frames: int | None = None
                        ) -> torch.Tensor:
    """Codes at the mel rate -> video ``fps`` for the renderer, aligned by timestamps (module docstring)."""
    return resample_codes(codes, MEL_FPS, fps, num_video_frames, src_phase=MEL_PHASE, dst_phase=VIDEO_PHASE)
