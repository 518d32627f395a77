"""Apply the safety marks of paper Appendix D to a generated clip: the visible "AI-generated" label, then the
imperceptible keyed watermarks in the frames and in the audio. The pipeline calls this right before muxing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from omnitalker.inference.audio_watermark import DEFAULT_SNR_DB, embed_audio_watermark
from omnitalker.inference.marks import DEFAULT_LABEL, add_visible_label
from omnitalker.inference.video_watermark import DEFAULT_STRENGTH, embed_video_watermark
from omnitalker.inference.watermark_key import resolve_key


@dataclass(frozen=True)
class SafetyConfig:
    label: str = DEFAULT_LABEL
    label_position: str | None = "bottom-right"  # a corner name, or "off"
    label_scale: float = 0.045  # text height / frame height
    watermark: bool = True
    watermark_key: str | None = None  # None: $OMNITALKER_WATERMARK_KEY or the public default key
    video_strength: float = DEFAULT_STRENGTH  # grey levels
    audio_snr_db: float = DEFAULT_SNR_DB


def mark_frames(frames: np.ndarray, config: SafetyConfig = SafetyConfig()) -> np.ndarray:
    """(T, H, W, 3) or (H, W, 3) uint8 -> labelled and watermarked copy."""
    out = add_visible_label(frames, config.label, position=config.label_position, scale=config.label_scale)
    if config.watermark:
        out = embed_video_watermark(out, resolve_key(config.watermark_key), strength=config.video_strength)
    return out


def iter_mark_frames(frames: Iterable[np.ndarray], config: SafetyConfig = SafetyConfig()) -> Iterator[np.ndarray]:
    for frame in frames:
        yield mark_frames(np.asarray(frame), config)


def mark_audio(audio: np.ndarray | torch.Tensor, config: SafetyConfig = SafetyConfig()) -> np.ndarray:
    """(samples,) float at 24 kHz -> watermarked float32 copy."""
    if not config.watermark:
        return np.asarray(audio.detach().cpu() if isinstance(audio, torch.Tensor) else audio, np.float32).copy()
    return embed_audio_watermark(audio, resolve_key(config.watermark_key), snr_db=config.audio_snr_db)
