"""SIM-A: voice similarity between the generated speech and the reference speaker (paper Table 1 "SIM-A").

``sim_a`` is the cosine similarity of speaker embeddings of the generated audio and the reference (prompt) audio, as
Seed-TTS-eval computes SIM; ``sim_a_target`` is the same against the ground-truth target audio when the test item has
one. Embedders (``embedder=``):
- ``wavlm_ecapa``: WavLM-large + ECAPA-TDNN, the field's SIM model (UniSpeech ``wavlm_large_finetune.pth`` from a
  local ``checkpoint`` path; :mod:`omnitalker.eval.wavlm_ecapa`). Numbers comparable with published tables.
- ``resemblyzer`` (default, offline): the GE2E LSTM d-vector whose weights ship in the resemblyzer wheel. Its scale
  differs from WavLM-ECAPA (same speaker typically 0.8-0.95, different speakers 0.5-0.8), so never compare a
  resemblyzer SIM-A with a published one. ``info["embedder"]`` says which model produced a number.
"""

from __future__ import annotations

import warnings
from importlib import metadata

import numpy as np

from omnitalker.deps import MissingDependencyError, require
from omnitalker.eval.audio_clips import MODEL_RATE, clip_audio_16k
from omnitalker.eval.metric import Clip, EvalItem, Measurement, Metric, MetricError, register

EMBEDDERS = ("resemblyzer", "wavlm_ecapa")


class ResemblyzerEmbedder:
    """resemblyzer's VoiceEncoder on its bundled weights (its preprocessing: volume normalisation, VAD trimming)."""

    def __init__(self, device: str = "cpu"):
        try:
            with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources
                warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
                resemblyzer = require("resemblyzer", "resemblyzer", "SIM-A (resemblyzer embedder)")
        except MissingDependencyError as exc:
            raise MetricError(f"sim_a: {exc}; resemblyzer's webrtcvad also needs setuptools<81") from exc
        self._resemblyzer = resemblyzer
        self._encoder = resemblyzer.VoiceEncoder(device, verbose=False)
        self.description = f"resemblyzer {metadata.version('resemblyzer')} GE2E d-vector (weights bundled in the wheel)"

    def embed(self, audio_16k: np.ndarray) -> np.ndarray:
        wav = self._resemblyzer.preprocess_wav(audio_16k, source_sr=MODEL_RATE)
        if len(wav) < MODEL_RATE // 10:
            raise MetricError("sim_a: no speech left after resemblyzer's voice-activity trimming")
        return np.asarray(self._encoder.embed_utterance(wav), dtype=np.float32)  # (256,), unit norm


class WavLMEcapaEmbedder:
    def __init__(self, checkpoint: str | None, device: str = "cpu"):
        if not checkpoint:
            raise MetricError("sim_a: embedder=wavlm_ecapa needs checkpoint=<local path to wavlm_large_finetune.pth>")
        from omnitalker.eval.wavlm_ecapa import load_wavlm_ecapa

        self.device = device
        self._model = load_wavlm_ecapa(checkpoint, device=device)
        self.description = f"WavLM-large + ECAPA-TDNN ({checkpoint})"

    def embed(self, audio_16k: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            wave = torch.from_numpy(np.asarray(audio_16k, np.float32))[None].to(self.device)  # (1, n)
            return self._model(wave)[0].float().cpu().numpy()  # (256,)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    if denom == 0.0:
        raise MetricError("sim_a: a speaker embedding is all zeros")
    return float(a @ b / denom)


@register("sim_a")
class SimAMetric(Metric):
    name = "sim_a"

    def __init__(self, embedder: str = "resemblyzer", checkpoint: str | None = None, device: str = "cpu"):
        if embedder == "resemblyzer":
            self._embedder = ResemblyzerEmbedder(device)
        elif embedder == "wavlm_ecapa":
            self._embedder = WavLMEcapaEmbedder(checkpoint, device)
        else:
            raise MetricError(f"sim_a: unknown embedder {embedder!r}; choose one of {', '.join(EMBEDDERS)}")
        self.embedder = embedder

    @property
    def info(self) -> dict[str, str]:
        return {"embedder": self._embedder.description}

    def embed(self, clip: Clip | None, what: str) -> np.ndarray:
        return self._embedder.embed(clip_audio_16k(clip, what))

    def measure(self, item: EvalItem) -> Measurement:
        generated = self.embed(item.generated, "generated")
        reference = self.embed(item.reference, "reference")
        scalars = {"sim_a": cosine(generated, reference)}
        arrays = {"embedding_generated": generated, "embedding_reference": reference}
        if item.target is not None and item.target.audio is not None:
            target = self.embed(item.target, "target")
            scalars["sim_a_target"] = cosine(generated, target)
            arrays["embedding_target"] = target
        return Measurement(scalars=scalars, arrays=arrays)
