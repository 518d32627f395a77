"""Audio extraction and resampling with PyAV (bundled FFmpeg): any container/codec -> mono float32 at a given rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnitalker.av_timing import align_audio, stream_start
from omnitalker.face.errors import VideoDecodeError


class NoAudioError(Exception):
    """The file has no audio stream (or it decodes to nothing)."""


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Decode the first audio stream of `path`, downmix to mono and resample to `sample_rate` -> (samples,) float32,
    aligned so that sample 0 is the instant of video frame 0 (`omnitalker.av_timing`, the rule inference uses):
    audio that starts after the video gets leading silence, audio that starts before it is trimmed."""
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:
        raise VideoDecodeError(f"cannot open {path}: {exc}") from exc
    try:
        if not container.streams.audio:
            raise NoAudioError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        video_start = stream_start(container.streams.video[0]) if container.streams.video else 0.0
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks = []
        audio_start = None
        for frame in container.decode(stream):
            if audio_start is None and frame.time is not None:
                audio_start = float(frame.time)
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except (NoAudioError, VideoDecodeError):
        raise
    except Exception as exc:
        if type(exc).__module__.startswith("av"):
            raise VideoDecodeError(f"{path}: audio decoding failed: {exc}") from exc
        raise
    finally:
        container.close()
    if not chunks:
        raise NoAudioError(f"{path}: the audio stream decodes to no samples")
    audio = np.clip(np.concatenate(chunks).astype(np.float32), -1.0, 1.0)
    return align_audio(audio, audio_start or 0.0, video_start, sample_rate)


def resample(audio: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """(samples,) float32 -> resampled (band-limited, torchaudio's sinc interpolation)."""
    if orig_rate == new_rate:
        return audio
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(audio), orig_rate, new_rate).numpy().astype(np.float32)


def level_dbfs(audio: np.ndarray) -> float:
    """RMS level in dB relative to full scale (-inf for digital silence)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")
