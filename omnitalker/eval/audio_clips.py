"""Audio of a :class:`Clip` as the audio metric models want it (mono float32 at 16 kHz), and reference/target halves.

``split_halves`` cuts one real recording into a reference (first half) and a target (second half) of the same speaker:
the ground-truth rows of the paper's tables are measured on such pairs (see docs/evaluation_audio.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnitalker.eval.metric import Clip, MetricError

MODEL_RATE = 16000  # every audio metric model here (whisper, WavLM, resemblyzer, DNSMOS) runs at 16 kHz


def resample(audio: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """(n,) float32 at `rate` -> (m,) float32 at `new_rate` (band-limited sinc resampling, torchaudio)."""
    audio = np.asarray(audio, dtype=np.float32)
    if rate == new_rate:
        return audio
    import torch
    import torchaudio

    return torchaudio.functional.resample(torch.from_numpy(audio), int(rate), int(new_rate)).numpy()


def clip_audio_16k(clip: Clip | None, what: str, min_seconds: float = 0.1) -> np.ndarray:
    """The clip's audio as (n,) float32 mono at 16 kHz; MetricError naming `what` when there is none or it is bad."""
    if clip is None or clip.audio is None:
        raise MetricError(f"the {what} clip has no audio")
    audio = np.asarray(clip.audio, dtype=np.float32)
    if audio.ndim == 2:  # (n, channels) or (channels, n): average the channels
        audio = audio.mean(axis=int(np.argmin(audio.shape)))
    if audio.ndim != 1:
        raise MetricError(f"the {what} audio must be (n,) mono samples, got shape {audio.shape}")
    if clip.sample_rate <= 0:
        raise MetricError(f"the {what} clip has audio but no sample rate")
    if not np.all(np.isfinite(audio)):
        raise MetricError(f"the {what} audio contains NaN or infinite samples")
    if audio.shape[0] < min_seconds * clip.sample_rate:
        raise MetricError(
            f"the {what} audio is {audio.shape[0] / clip.sample_rate:.3f} s long; at least {min_seconds} s is needed"
        )
    return resample(audio, clip.sample_rate, MODEL_RATE)


def load_audio_clip(path: str | Path, text: str = "", sample_rate: int = MODEL_RATE) -> Clip:
    """Any audio or video file (wav/flac/mp3/mp4, via PyAV) -> Clip with mono audio at `sample_rate`."""
    from omnitalker.inference.media import decode_audio

    if not Path(path).is_file():
        raise MetricError(f"audio file not found: {path}")
    audio, _ = decode_audio(path, sample_rate=sample_rate)
    return Clip(audio=audio, sample_rate=sample_rate, text=text)


def split_halves(clip: Clip) -> tuple[Clip, Clip]:
    """One recording -> (first half, second half), both keeping its sample rate; the text stays with neither
    (a transcript cannot be cut without word timings)."""
    if clip.audio is None or clip.sample_rate <= 0:
        raise MetricError("cannot split a clip without audio")
    middle = len(clip.audio) // 2
    first = Clip(audio=np.asarray(clip.audio[:middle], np.float32), sample_rate=clip.sample_rate)
    second = Clip(audio=np.asarray(clip.audio[middle:], np.float32), sample_rate=clip.sample_rate)
    return first, second
