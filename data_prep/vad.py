"""Speech activity with Silero VAD (the `silero-vad` wheel bundles its model; no download)."""

from __future__ import annotations

import numpy as np

from omnitalker.deps import require

VAD_RATE = 16_000
_MODEL = None


def speech_segments(
    audio_16k: np.ndarray, threshold: float = 0.5, min_silence_s: float = 0.3
) -> list[tuple[float, float]]:
    """(samples,) float32 at 16 kHz -> list of (start_s, end_s) speech regions."""
    global _MODEL
    silero = require("silero_vad", "silero-vad", "speech activity")
    import torch

    if _MODEL is None:
        _MODEL = silero.load_silero_vad()
    stamps = silero.get_speech_timestamps(
        torch.from_numpy(np.ascontiguousarray(audio_16k)),
        _MODEL,
        threshold=threshold,
        sampling_rate=VAD_RATE,
        min_silence_duration_ms=int(min_silence_s * 1000),
        return_seconds=True,
    )
    return [(float(s["start"]), float(s["end"])) for s in stamps]


def speech_seconds(segments: list[tuple[float, float]], start: float, end: float) -> float:
    """Total speech inside [start, end)."""
    return float(sum(max(0.0, min(e, end) - max(s, start)) for s, e in segments))
