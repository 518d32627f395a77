"""Imperceptible, keyed video watermark: a fixed spread-spectrum pattern in the luma, detected by correlation.

Embedding: a keyed grid of +-1 values (GRID x GRID cells, i.i.d.) is upsampled bilinearly to the frame size (so it
scales with the frame: cells of 4 px at 512x512) and added to R, G and B alike (a pure luma change) with amplitude
`strength` (default 2 grey levels, PSNR ~ 43 dB). The same pattern is in every frame.

Detection: each frame's luma is area-averaged to the GRID x GRID cell grid (so any rescaling of the whole frame is
undone), averaged over frames, high-passed (minus its 3x3 neighbourhood mean, which removes most of the image
content and keeps the cell-scale pattern), divided by the local activity (mean |residual| over 5x5 cells, so edges
of the image do not drown the flat regions) and correlated with the key's grid:

    z = <X, P> / ||X||

X is computed from the frames alone. For content that does not carry this key's pattern, P is independent of X and
has i.i.d. +-1 entries, so z has mean 0 and variance exactly 1 whatever the content: the threshold 5 gives ~3e-7
false positives. Survives H.264 /
re-encoding and uniform rescaling; not crops, rotations, flips or heavy blur (see docs/inference_io.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from omnitalker.inference.detection import DetectionResult
from omnitalker.inference.errors import MediaArrayError, WatermarkError
from omnitalker.inference.watermark_key import key_rng, resolve_key

GRID = 128
DEFAULT_STRENGTH = 2.0
VIDEO_THRESHOLD = 5.0
ACTIVITY_FLOOR = 0.05  # grey levels; keeps the division finite in perfectly flat regions
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@lru_cache(maxsize=8)
def video_pattern(key: str, grid: int = GRID) -> np.ndarray:
    """(grid, grid) float32 of +-1: the key's cell pattern."""
    return key_rng(key, f"video/{grid}").choice(np.array([-1.0, 1.0], np.float32), size=(grid, grid))


@lru_cache(maxsize=8)
def _upsampled(key: str, height: int, width: int, grid: int) -> np.ndarray:
    pattern = torch.from_numpy(video_pattern(key, grid))[None, None]  # (1, 1, G, G)
    up = F.interpolate(pattern, size=(height, width), mode="bilinear", align_corners=False)
    return up[0, 0].numpy()  # (H, W)


def embed_video_watermark(
    frames: np.ndarray, key: str | None = None, *, strength: float = DEFAULT_STRENGTH, grid: int = GRID
) -> np.ndarray:
    """(T, H, W, 3) or (H, W, 3) uint8 RGB -> same, watermarked. Frames are independent, so chunks of a stream can
    be marked one at a time."""
    key = resolve_key(key)
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or frames.shape[-1] != 3:
        raise MediaArrayError(f"frames must be (T, H, W, 3) or (H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    height, width = frames.shape[-3:-1]
    if min(height, width) < grid:
        raise WatermarkError(f"frames of {width}x{height} are smaller than the {grid}x{grid} watermark grid")
    delta = strength * _upsampled(key, height, width, grid)  # (H, W)
    marked = frames.astype(np.float32) + delta[..., None]
    return np.clip(np.rint(marked), 0, 255).astype(np.uint8)


def iter_embed_video_watermark(
    frames: Iterable[np.ndarray], key: str | None = None, *, strength: float = DEFAULT_STRENGTH
) -> Iterator[np.ndarray]:
    """Streaming version of `embed_video_watermark` for an iterator of (H, W, 3) frames."""
    for frame in frames:
        yield embed_video_watermark(np.asarray(frame), key, strength=strength)


def luma_cells(frames: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB or (T, H, W) luma -> (T, grid, grid) float32 area means of the luma."""
    array = np.asarray(frames)
    if array.ndim == 4:
        array = array.astype(np.float32) @ _LUMA  # (T, H, W)
    elif array.ndim != 3:
        raise MediaArrayError(f"expected (T, H, W, 3) RGB or (T, H, W) luma, got shape {array.shape}")
    if min(array.shape[1:]) < grid:
        raise WatermarkError(f"frames of {array.shape[2]}x{array.shape[1]} are smaller than the {grid}x{grid} grid")
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[:, None]  # (T, 1, H, W)
    return F.adaptive_avg_pool2d(tensor, grid)[:, 0].numpy()  # (T, G, G)


class VideoWatermarkDetector:
    """Accumulates cell means over frames (any number of `update` calls, so a video can be streamed)."""

    def __init__(self, key: str | None = None, *, grid: int = GRID, threshold: float = VIDEO_THRESHOLD) -> None:
        self.key = resolve_key(key)
        self.grid = grid
        self.threshold = threshold
        self._sum = np.zeros((grid, grid), np.float64)
        self.num_frames = 0

    def update(self, frames: np.ndarray) -> None:
        """(T, H, W, 3) RGB / (T, H, W) luma frames, or (T, grid, grid) luma cells already pooled."""
        cells = (
            frames if frames.ndim == 3 and frames.shape[1:] == (self.grid, self.grid) else luma_cells(frames, self.grid)
        )
        self._sum += cells.sum(axis=0)
        self.num_frames += cells.shape[0]

    def result(self) -> DetectionResult:
        if self.num_frames == 0:
            return DetectionResult("video", False, 0.0, self.threshold, 0, note="no frames")
        mean = self._sum / self.num_frames  # (G, G)
        residual = mean - _box_mean(mean, 3)
        residual = residual / (_box_mean(np.abs(residual), 5) + ACTIVITY_FLOOR)  # (G, G)
        norm = float(np.sqrt(np.sum(residual * residual)))
        if norm < 1e-9:  # a perfectly flat video carries no information either way
            return DetectionResult("video", False, 0.0, self.threshold, self.num_frames, note="flat video")
        score = float(np.sum(residual * video_pattern(self.key, self.grid)) / norm)
        return DetectionResult("video", score > self.threshold, score, self.threshold, self.num_frames)


def _box_mean(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W) mean over a size x size window (edge-replicated), via 2-D cumulative sums."""
    half = size // 2
    padded = np.pad(image, half, mode="edge")
    cumulative = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    h, w = image.shape
    total = (
        cumulative[size : size + h, size : size + w]
        - cumulative[:h, size : size + w]
        - cumulative[size : size + h, :w]
        + cumulative[:h, :w]
    )
    return total / (size * size)


def detect_video_watermark(frames: np.ndarray, key: str | None = None, **kwargs) -> DetectionResult:
    """Detection on an in-memory (T, H, W, 3) uint8 clip."""
    detector = VideoWatermarkDetector(key, **kwargs)
    detector.update(frames)
    return detector.result()
