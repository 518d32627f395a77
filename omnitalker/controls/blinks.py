"""Blink-rate control: the generated blinks are flattened and blinks are placed on a seeded schedule instead.

The schedule is a function of absolute time only (onsets drawn one after another from a seeded generator), so a
track processed chunk by chunk gets exactly the blinks of the one-pass track. Each blink is a raised-cosine
closing and opening of the lids (``eyeBlinkLeft``/``Right``) lasting ``BLINK_SECONDS``; intervals are the mean
interval 60 / rate times a uniform jitter, never shorter than a blink plus a pause.
"""

from __future__ import annotations

import numpy as np

BLINK_SECONDS = 0.3  # lids close and open again (human blinks: 0.1-0.4 s)
BLINK_PEAK = 0.95  # eyeBlink score at the closed instant
OPEN_CAP = 0.25  # generated blink scores are capped here (below motion.count_blinks' re-arm level 0.3)
JITTER = (0.6, 1.4)  # interval = mean interval x uniform(JITTER)
MIN_GAP_SECONDS = 0.15  # between the end of one blink and the start of the next


class BlinkSchedule:
    """Blink onsets (seconds) at ``rate`` per minute from ``seed``; ``track(start, n, fps)`` is the eyeBlink score
    of frames start..start+n-1 at ``fps``. ``rate`` 0 = no blinks at all."""

    def __init__(self, rate: float, seed: int = 0) -> None:
        if not np.isfinite(rate) or rate < 0:
            raise ValueError(f"blink rate must be a finite number >= 0 per minute, got {rate!r}")
        self.rate = float(rate)
        self._rng = np.random.default_rng(seed)
        self._onsets: list[float] = []
        if self.rate > 0:
            self._onsets.append(float(self._rng.uniform(0.2, 1.0)) * self._mean_interval)

    @property
    def _mean_interval(self) -> float:
        return 60.0 / self.rate

    def onsets_until(self, seconds: float) -> np.ndarray:
        """Every onset before ``seconds`` (drawing more of the schedule as needed)."""
        if self.rate == 0:
            return np.zeros(0)
        while self._onsets[-1] < seconds:
            interval = self._mean_interval * float(self._rng.uniform(*JITTER))
            self._onsets.append(self._onsets[-1] + max(interval, BLINK_SECONDS + MIN_GAP_SECONDS))
        return np.asarray([t for t in self._onsets if t < seconds])

    def track(self, start: int, num: int, fps: float) -> np.ndarray:
        """(num,) eyeBlink score of frames ``start .. start + num - 1`` at ``fps`` (frame k at time k / fps)."""
        times = (start + np.arange(num)) / fps  # (num,)
        out = np.zeros(num, np.float32)
        if num == 0:
            return out
        onsets = self.onsets_until(float(times[-1]) + 1e-9)
        onsets = onsets[onsets > times[0] - BLINK_SECONDS]  # (K,) blinks that touch this span
        if onsets.size:
            phase = (times[None, :] - onsets[:, None]) / BLINK_SECONDS  # (K, num)
            inside = (phase >= 0) & (phase <= 1)
            shape = 0.5 * (1.0 - np.cos(2.0 * np.pi * np.clip(phase, 0.0, 1.0))) * inside  # (K, num)
            out = (BLINK_PEAK * shape.max(axis=0)).astype(np.float32)
        return out


def replace_blinks(blink: np.ndarray, scheduled: np.ndarray) -> np.ndarray:
    """(n, 2) generated eyeBlink L/R, (n,) scheduled score -> (n, 2): generated blinks flattened below
    ``OPEN_CAP`` (the lids' resting level survives), then the scheduled blinks laid on top."""
    return np.maximum(np.minimum(blink, OPEN_CAP), scheduled[:, None])
