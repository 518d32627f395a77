"""Log-mel features exactly as SPEC §2 fixes them (the mel the public vocos-mel-24khz vocoder expects)."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

from omnitalker.constants import HOP_LENGTH, LOG_MEL_FLOOR, N_FFT, N_MELS, SAMPLE_RATE, WIN_LENGTH


class LogMelSpectrogram(nn.Module):
    """Waveform (batch, samples) at 24 kHz -> log-mel (batch, frames, 100), frames = samples // 256 + 1."""

    def __init__(self) -> None:
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE,
            n_fft=N_FFT,
            win_length=WIN_LENGTH,
            hop_length=HOP_LENGTH,
            n_mels=N_MELS,
            power=1,
            center=True,
            normalized=False,
            norm=None,
            mel_scale="htk",
        )

    @torch.no_grad()
    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() == 1:
            wav = wav.unsqueeze(0)  # (1, samples)
        if wav.dim() != 2:
            raise ValueError(f"expected waveform of shape (batch, samples), got {tuple(wav.shape)}")
        mel = self.mel(wav.float())  # (b, 100, frames)
        return mel.clamp(min=LOG_MEL_FLOOR).log().transpose(1, 2)  # (b, frames, 100)


_cache: dict[torch.device, LogMelSpectrogram] = {}


def log_mel(wav: torch.Tensor) -> torch.Tensor:
    """Functional form of :class:`LogMelSpectrogram`, caching the filterbank per device."""
    module = _cache.get(wav.device)
    if module is None:
        module = _cache[wav.device] = LogMelSpectrogram().to(wav.device)
    return module(wav)


def num_mel_frames(num_samples: int) -> int:
    """Number of mel frames for a waveform of ``num_samples`` (center=True padding)."""
    return num_samples // HOP_LENGTH + 1
