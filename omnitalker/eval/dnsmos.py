"""DNSMOS P.835 (Microsoft DNS challenge): non-intrusive speech quality of the generated audio (extra metric).

Runs the ONNX models shipped in the ``speechmos`` wheel (``dnsmos_models/sig_bak_ovr.onnx`` + ``model_v8.onnx``),
or the same two files from ``model_dir``. Scalars per item (1-5, higher is better): ``dnsmos_ovrl`` (overall),
``dnsmos_sig`` (speech signal), ``dnsmos_bak`` (background), ``dnsmos_p808``. Clips shorter than the model's 9 s
window are repeated to fill it (speechmos' behaviour, as in the DNS challenge script).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnitalker.deps import MissingDependencyError, require
from omnitalker.eval.audio_clips import MODEL_RATE, clip_audio_16k
from omnitalker.eval.metric import EvalItem, Measurement, Metric, MetricError, register

PRIMARY, P808 = "sig_bak_ovr.onnx", "model_v8.onnx"


@register("dnsmos")
class DnsmosMetric(Metric):
    name = "dnsmos"

    def __init__(self, model_dir: str | None = None, personalized: bool = False):
        try:
            dnsmos = require("speechmos.dnsmos", "speechmos onnxruntime librosa requests", "DNSMOS")
        except MissingDependencyError as exc:
            raise MetricError(f"dnsmos: {exc}") from exc
        if model_dir is None:
            package = Path(dnsmos.__file__).parent
            model_dir = str(package / ("pdnsmos_models" if personalized else "dnsmos_models"))
            p808_dir = package / "dnsmos_models"
        else:
            p808_dir = Path(model_dir)
        primary, p808 = Path(model_dir) / PRIMARY, p808_dir / P808
        for path in (primary, p808):
            if not path.is_file():
                raise MetricError(f"dnsmos: model file not found: {path}")
        self._model = dnsmos.DNSMOS(str(primary), str(p808))
        self._personalized = bool(personalized)
        self._desc = f"DNSMOS P.835 {'personalized ' if personalized else ''}({primary}, {p808})"

    @property
    def info(self) -> dict[str, str]:
        return {"model": self._desc}

    def measure(self, item: EvalItem) -> Measurement:
        audio = np.clip(clip_audio_16k(item.generated, "generated"), -1.0, 1.0)  # (n,) 16 kHz
        scores = self._model(audio, MODEL_RATE, self._personalized)
        return Measurement(
            scalars={
                "dnsmos_ovrl": float(scores["ovrl_mos"]),
                "dnsmos_sig": float(scores["sig_mos"]),
                "dnsmos_bak": float(scores["bak_mos"]),
                "dnsmos_p808": float(scores["p808_mos"]),
            }
        )
