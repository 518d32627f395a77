"""Imperceptible, keyed audio watermark: a periodic spread-spectrum noise that follows the speech envelope.

Embedding: the key gives one period (PERIOD = 4096 samples at 24 kHz, 0.17 s) of noise with unit magnitude and
random phase in every FFT bin of the band BAND (500-5000 Hz: kept by AAC/MP3 and by resampling to 16 kHz). The
period is tiled over the waveform and scaled by the waveform's own short-time RMS times 10^(-snr_db / 20), so the
watermark sits `snr_db` (default 32 dB) below the signal everywhere: loud where speech masks it, absent in silence.

Detection: the waveform (resampled to 24 kHz) is cut into PERIOD-long blocks; each block's spectrum is whitened
(divided by its locally smoothed power) and weighted by its RMS, the blocks' cross-spectra with the key's spectrum
are summed and turned into a circular cross-correlation over all PERIOD lags (so any time shift, e.g. the AAC
priming delay or a trimmed start, is found). The score is the peak, in robust standard deviations of the
correlation over lags (median / MAD): for content without this key's watermark it is the maximum of ~1000 roughly
independent N(0, 1) values, so the threshold 6 gives false positives ~1e-6. Survives AAC 128k, MP3-like coding,
resampling and moderate noise; not time stretching, pitch shifting or heavy filtering of the 0.5-5 kHz band.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torchaudio.functional as AF

from omnitalker.constants import SAMPLE_RATE
from omnitalker.inference.detection import DetectionResult
from omnitalker.inference.errors import MediaArrayError
from omnitalker.inference.watermark_key import key_rng, resolve_key

PERIOD = 4096
BAND = (500.0, 5000.0)
DEFAULT_SNR_DB = 32.0
AUDIO_THRESHOLD = 6.0
MIN_BLOCKS = 4  # below ~0.7 s the detector does not decide
_ENVELOPE_WINDOW = 1024


def _band_bins(sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    freqs = np.fft.rfftfreq(PERIOD, 1.0 / sample_rate)
    return np.flatnonzero((freqs >= BAND[0]) & (freqs <= BAND[1]))


@lru_cache(maxsize=8)
def audio_pattern_spectrum(key: str) -> np.ndarray:
    """(PERIOD // 2 + 1,) complex128: unit magnitude, keyed random phase in the band, zero elsewhere."""
    spectrum = np.zeros(PERIOD // 2 + 1, np.complex128)
    bins = _band_bins()
    spectrum[bins] = np.exp(2j * np.pi * key_rng(key, "audio").random(bins.shape[0]))
    return spectrum


@lru_cache(maxsize=8)
def audio_pattern(key: str) -> np.ndarray:
    """(PERIOD,) float32 one period of the watermark noise, unit RMS."""
    period = np.fft.irfft(audio_pattern_spectrum(key), n=PERIOD)
    return (period / np.sqrt(np.mean(period**2))).astype(np.float32)


def _envelope(audio: np.ndarray, pad_left: int, pad_right: int) -> np.ndarray:
    """(S,) -> (S - 1023 + pad_left + pad_right,) short-time RMS over `_ENVELOPE_WINDOW`-sample windows, the power
    edge-replicated by ``pad_left``/``pad_right`` samples (a whole clip: 512 and 511, a centred window per sample)."""
    power = torch.from_numpy(np.square(audio, dtype=np.float32))[None, None]  # (1, 1, S)
    mean = torch.nn.functional.avg_pool1d(
        torch.nn.functional.pad(power, (pad_left, pad_right), mode="replicate"), _ENVELOPE_WINDOW, stride=1
    )
    return mean[0, 0].sqrt().numpy()


def _as_mono(audio) -> np.ndarray:
    array = audio.detach().cpu().float().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    if array.ndim > 1 and sum(d > 1 for d in array.shape) <= 1:
        array = array.reshape(-1)  # (1, S) / (S, 1) -> (S,); a 1-sample piece stays (1,)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.floating):
        raise MediaArrayError(f"audio must be a mono float waveform (samples,), got {np.shape(audio)} {array.dtype}")
    return array.astype(np.float32, copy=False)


class AudioWatermarker:
    """Embeds the watermark into a waveform that arrives in pieces (streaming): :meth:`push` returns the marked
    samples that are final so far. A sample's envelope needs the 511 samples after it, so those are held back until
    the next piece (or ``final=True``); the carrier's phase follows the absolute sample index. The concatenated
    output is bit-identical to marking the whole waveform at once (:func:`embed_audio_watermark` is one ``push``)."""

    def __init__(self, key: str | None = None, *, snr_db: float = DEFAULT_SNR_DB) -> None:
        self.key = resolve_key(key)
        self.gain = np.float32(10 ** (-snr_db / 20))
        self._left = np.zeros(0, np.float32)  # (<= 512,) samples before the pending ones (envelope context)
        self._pending = np.zeros(0, np.float32)  # received, not yet marked
        self._offset = 0  # absolute index of the first pending sample

    def push(self, audio, final: bool = False) -> np.ndarray:
        """(S,) float at 24 kHz -> the newly final samples, watermarked float32 in [-1, 1]."""
        half = _ENVELOPE_WINDOW // 2
        self._pending = np.concatenate([self._pending, _as_mono(audio)])
        ready = self._pending.shape[0] if final else max(0, self._pending.shape[0] - (half - 1))
        if ready == 0:
            return np.zeros(0, np.float32)
        window = np.concatenate([self._left, self._pending[: ready + half - 1]])  # (L + ready + right,)
        right = window.shape[0] - self._left.shape[0] - ready
        envelope = _envelope(window, half - self._left.shape[0], half - 1 - right)  # (ready,)
        pattern = audio_pattern(self.key)
        start = self._offset % PERIOD
        carrier = np.tile(pattern, -(-(start + ready) // PERIOD))[start : start + ready]  # (ready,)
        chunk = self._pending[:ready]
        marked = np.clip(chunk + carrier * envelope * self.gain, -1.0, 1.0).astype(np.float32)
        self._left = np.concatenate([self._left, chunk])[-half:]
        self._pending = self._pending[ready:]
        self._offset += ready
        return marked


def embed_audio_watermark(audio, key: str | None = None, *, snr_db: float = DEFAULT_SNR_DB) -> np.ndarray:
    """(S,) float waveform at 24 kHz -> (S,) float32 watermarked (clipped to [-1, 1])."""
    return AudioWatermarker(key, snr_db=snr_db).push(audio, final=True)


def detect_audio_watermark(
    audio, key: str | None = None, *, sample_rate: int = SAMPLE_RATE, threshold: float = AUDIO_THRESHOLD
) -> DetectionResult:
    """Look for `key`'s watermark in a mono waveform (any sample rate; resampled to 24 kHz)."""
    key = resolve_key(key)
    audio = _as_mono(audio)
    if sample_rate != SAMPLE_RATE:
        audio = AF.resample(torch.from_numpy(audio), sample_rate, SAMPLE_RATE).numpy()
    num_blocks = audio.shape[0] // PERIOD
    if num_blocks < MIN_BLOCKS:
        return DetectionResult("audio", False, 0.0, threshold, num_blocks, note="too short to decide")
    blocks = audio[: num_blocks * PERIOD].reshape(num_blocks, PERIOD).astype(np.float64)
    spectra = np.fft.rfft(blocks, axis=1)  # (B, PERIOD // 2 + 1)
    bins = _band_bins()
    band = spectra[:, bins]  # (B, K)
    power = np.abs(band) ** 2
    kernel = np.ones(9) / 9.0
    smooth = np.apply_along_axis(lambda row: np.convolve(row, kernel, mode="same"), 1, power)  # (B, K)
    rms = np.sqrt(np.mean(blocks**2, axis=1, keepdims=True))  # (B, 1)
    floor = 1e-12 * PERIOD
    weights = np.where(smooth > floor, rms / np.maximum(smooth, floor), 0.0)
    if not np.any(weights):
        return DetectionResult("audio", False, 0.0, threshold, num_blocks, note="silent audio")
    cross = np.zeros(PERIOD // 2 + 1, np.complex128)
    cross[bins] = (band * weights).sum(axis=0) * np.conj(audio_pattern_spectrum(key)[bins])
    correlation = np.fft.irfft(cross, n=PERIOD)  # (PERIOD,) over circular lags
    median = np.median(correlation)
    spread = 1.4826 * np.median(np.abs(correlation - median))
    score = float((correlation.max() - median) / spread) if spread > 0 else 0.0
    return DetectionResult("audio", score > threshold, score, threshold, num_blocks)
