"""Streaming mel -> waveform: each new mel span is decoded with context on both sides, so the joined audio equals
one pass over the whole mel away from nothing but float rounding (Vocos: every output sample depends on
``vocoder.context_frames`` mel frames each side), with no seam at the span boundaries.

    mel so far:  ... | emitted | ---- new span ---- | lookahead |
    decoded:     [ left context | new span | lookahead ]  -> only the new span's samples are handed out

The last ``context_frames`` frames of a span wait for the next one (their right context), or for ``final=True``.
The held-back part was decoded once already; the next window's first samples are cross-faded with it over
``crossfade_frames`` (a no-op for a local decoder like Vocos, where both decodes agree; it hides the phase
mismatch of Griffin-Lim, which is not local).
"""

from __future__ import annotations

import numpy as np
import torch

from omnitalker.vocoder import Vocoder, check_mel


class StreamingVocoder:
    def __init__(self, vocoder: Vocoder, context_frames: int | None = None, crossfade_frames: int = 8) -> None:
        self.vocoder = vocoder
        self.context = int(vocoder.context_frames if context_frames is None else context_frames)
        self.crossfade = min(crossfade_frames, self.context)
        if self.context < 0 or self.crossfade < 0:
            raise ValueError(f"context and crossfade frames must be >= 0, got {self.context}, {self.crossfade}")
        self.hop = vocoder.hop_length
        self._mel = torch.zeros(0, 0)  # (m, 100) frames from _mel_start on (the left context and what is pending)
        self._mel_start = 0  # absolute index of _mel[0]
        self._done = 0  # mel frames whose samples were handed out
        self._tail: np.ndarray | None = None  # (crossfade * hop,) previous decode of the next samples to hand out
        self.frames_in = 0

    def push(self, mel: torch.Tensor, final: bool = False) -> np.ndarray:
        """(n, 100) log-mel continuing what was pushed before -> the newly final float32 samples (n_out,)."""
        mel = check_mel(mel)[0].detach().float().cpu()  # (n, 100)
        self._mel = mel if self._mel.numel() == 0 else torch.cat([self._mel, mel])  # (m, 100)
        self.frames_in += mel.shape[0]
        end = self.frames_in if final else self.frames_in - self.context  # hand out samples of frames < end
        if end <= self._done:
            return np.zeros(0, np.float32)
        w0 = max(self._mel_start, self._done - self.context)  # window start (absolute)
        w1 = min(self.frames_in, end + self.context)
        window = self._mel[w0 - self._mel_start : w1 - self._mel_start]  # (w, 100)
        wav = self.vocoder.decode(window[None])[0].float().cpu().numpy()  # (w * hop,)
        out = wav[(self._done - w0) * self.hop : (end - w0) * self.hop].copy()
        if self._tail is not None:
            n = min(self._tail.shape[0], out.shape[0])
            fade = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)  # (n,) 0 -> 1
            out[:n] = self._tail[:n] * (1 - fade) + out[:n] * fade
        tail_end = min(w1, end + self.crossfade)
        self._tail = None if final or tail_end <= end else wav[(end - w0) * self.hop : (tail_end - w0) * self.hop]
        self._done = end
        keep_from = max(self._mel_start, self._done - self.context)  # the next window's left context
        self._mel = self._mel[keep_from - self._mel_start :]
        self._mel_start = keep_from
        return out
