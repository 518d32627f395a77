"""DNSMOS P.835 (SIG/BAK/OVRL) with the ONNX models bundled in the `speechmos` wheel (needs onnxruntime, librosa)."""

from __future__ import annotations

import numpy as np

from omnitalker.deps import require

DNSMOS_RATE = 16_000


def dnsmos(audio_16k: np.ndarray) -> dict[str, float]:
    """(samples,) float32 in [-1, 1] at 16 kHz -> {"dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak"}."""
    require("onnxruntime", "onnxruntime", "DNSMOS")
    speechmos = require("speechmos.dnsmos", "speechmos", "DNSMOS")
    scores = speechmos.run(np.clip(audio_16k.astype(np.float32), -1.0, 1.0), sr=DNSMOS_RATE)
    return {
        "dnsmos_ovrl": float(scores["ovrl_mos"]),
        "dnsmos_sig": float(scores["sig_mos"]),
        "dnsmos_bak": float(scores["bak_mos"]),
    }
