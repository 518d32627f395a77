"""Mel -> waveform decoders behind one interface: Vocos (the real one) and Griffin-Lim (explicit CPU fallback).

``load_vocoder(kind, path, device)`` is the only entry point the inference code needs; both decoders map a batch of
log-mels ``(B, frames, 100)`` to waveforms ``(B, frames * 256)`` at 24 kHz. Griffin-Lim is never chosen silently:
asking for Vocos without weights raises instead of falling back.
"""

from __future__ import annotations

import abc
import os
from typing import Literal

import torch
import torchaudio

from omnitalker.constants import HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE, WIN_LENGTH
from omnitalker.device import autocast
from omnitalker.vocoder.errors import MelShapeError, VocoderConfigError, VocoderWeightsNotFoundError
from omnitalker.vocoder.vocos_model import load_vocos

VocoderKind = Literal["vocos", "griffin_lim"]


def check_mel(mel: torch.Tensor) -> torch.Tensor:
    """Validate a log-mel batch (B, frames, 100) (a single (frames, 100) mel gets a batch axis)."""
    if mel.dim() == 2:
        mel = mel.unsqueeze(0)  # (1, frames, 100)
    if mel.dim() != 3 or mel.shape[-1] != N_MELS:
        raise MelShapeError(f"expected a log-mel of shape (batch, frames, {N_MELS}), got {tuple(mel.shape)}")
    if mel.shape[1] == 0:
        raise MelShapeError("cannot decode an empty mel (0 frames)")
    if not torch.isfinite(mel).all():
        raise MelShapeError("mel contains NaN or infinite values")
    return mel


class Vocoder(abc.ABC):
    """Common interface: ``decode(mel (B, T, 100)) -> waveform (B, T * 256)`` at 24 kHz."""

    sample_rate: int = SAMPLE_RATE
    hop_length: int = HOP_LENGTH
    context_frames: int  # mel frames of context each side for a windowed (streamed) decode to match one pass

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.autocast_dtype: torch.dtype | None = None  # e.g. bf16 for the network; the ISTFT always runs in fp32

    @abc.abstractmethod
    def _decode(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, T, 100) on self.device -> (B, T * 256)."""

    @torch.inference_mode()
    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        mel = check_mel(mel).to(self.device, torch.float32)  # (B, T, 100)
        wav = self._decode(mel)  # (B, ~T * 256)
        return _fit_length(wav, mel.shape[1] * self.hop_length)  # (B, T * 256)

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        return self.decode(mel)


def _fit_length(wav: torch.Tensor, length: int) -> torch.Tensor:
    if wav.shape[-1] >= length:
        return wav[..., :length]
    return torch.nn.functional.pad(wav, (0, length - wav.shape[-1]))


class VocosVocoder(Vocoder):
    """Vocos mel-24khz (public checkpoint or our own training, same directory layout)."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        super().__init__(device)
        self.model = model.to(self.device).eval()

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str], device: str | torch.device = "cpu") -> VocosVocoder:
        return cls(load_vocos(path, device), device)

    def _decode(self, mel: torch.Tensor) -> torch.Tensor:
        features = mel.transpose(1, 2)  # (B, 100, T) - Vocos is channels-first
        with autocast(self.device, self.autocast_dtype):
            hidden = self.model.backbone(features)  # (B, T, dim)
        with torch.autocast(self.device.type, enabled=False):
            return self.model.head(hidden.float())  # (B, T * 256) fp32 ISTFT with the head's "same" padding

    @property
    def context_frames(self) -> int:
        """Mel frames on each side that an output sample depends on: the backbone's convolutions (the embedding
        and one depthwise conv per ConvNeXt block, kernel 7 each) plus the ISTFT's overlap (window / hop / 2)."""
        backbone = self.model.backbone
        kernels = [backbone.embed.kernel_size[0], *(block.dwconv.kernel_size[0] for block in backbone.convnext)]
        return sum(k // 2 for k in kernels) + -(-N_FFT // (2 * HOP_LENGTH)) + 1


class GriffinLimVocoder(Vocoder):
    """Pseudo-inverse of the mel filterbank + Griffin-Lim phase recovery. Audible artefacts; CPU quick start only."""

    def __init__(self, device: str | torch.device = "cpu", n_iter: int = 32) -> None:
        super().__init__(device)
        self.inverse_mel = torchaudio.transforms.InverseMelScale(
            n_stft=N_FFT // 2 + 1, n_mels=N_MELS, sample_rate=SAMPLE_RATE, norm=None, mel_scale="htk"
        ).to(self.device)
        self.griffin_lim = torchaudio.transforms.GriffinLim(
            n_fft=N_FFT, win_length=WIN_LENGTH, hop_length=HOP_LENGTH, power=1.0, n_iter=n_iter
        ).to(self.device)

    context_frames = 32  # Griffin-Lim is iterative (not local): streamed windows overlap this much and cross-fade

    def _decode(self, mel: torch.Tensor) -> torch.Tensor:
        magnitude_mel = mel.exp().transpose(1, 2)  # (B, 100, T) linear magnitudes (power=1 mel)
        magnitude = self.inverse_mel(magnitude_mel).clamp(min=0)  # (B, 513, T)
        # Griffin-Lim starts from random phases: a fixed seed, without touching the caller's RNG, makes the same mel
        # give the same audio (reruns, and visual-only controls leaving the audio bit-identical)
        cuda = [self.device] if torch.device(self.device).type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(0)
            return self.griffin_lim(magnitude)  # (B, (T - 1) * 256), padded to T * 256 by decode


def load_vocoder(
    kind: VocoderKind = "vocos", path: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> Vocoder:
    """Build the decoder ``kind`` ("vocos" needs ``path``, a local directory; "griffin_lim" needs nothing)."""
    if kind == "vocos":
        if path is None:
            raise VocoderWeightsNotFoundError(
                "vocoder kind 'vocos' needs a local directory with config.yaml and pytorch_model.bin "
                "(set vocoder.path); choose vocoder=griffin_lim explicitly for the weight-free CPU fallback"
            )
        return VocosVocoder.from_directory(path, device)
    if kind == "griffin_lim":
        return GriffinLimVocoder(device)
    raise VocoderConfigError(f"unknown vocoder kind {kind!r}; expected 'vocos' or 'griffin_lim'")
