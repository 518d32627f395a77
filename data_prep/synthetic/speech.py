"""Real synthesised speech from libespeak-ng (shipped by the ``espeakng-loader`` wheel), with phoneme timings.

The library is driven through ctypes in a short-lived worker process (``espeak_worker.py``): libespeak-ng keeps
waveform state in C statics that cannot be reset, so a fresh process per request is what makes the audio a pure
function of (texts, voice, seed). The worker also returns espeak's phoneme and word events with their audio
positions, which time the mouth. Output is float32 mono at 24 kHz (espeak renders 22050 Hz; resampled with soxr).
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from omnitalker.constants import SAMPLE_RATE

_WORKER = Path(__file__).with_name("espeak_worker.py")
_TIMEOUT_S = 300


class SpeechSynthesisError(RuntimeError):
    """libespeak-ng could not be loaded, rejected a voice or parameter, or produced no audio for a text."""


@dataclass(frozen=True)
class VoiceSettings:
    """An espeak voice: ``name`` is a language voice with an optional variant (``"en-us+m3"``, ``"cmn+f2"``).

    ``rate`` words per minute (80-450), ``pitch`` base pitch 0-100, ``pitch_range`` intonation range 0-100,
    ``word_gap`` extra pause between words in units of 10 ms.
    """

    name: str
    rate: int = 165
    pitch: int = 50
    pitch_range: int = 50
    word_gap: int = 0


@dataclass(frozen=True)
class PhonemeEvent:
    """One phoneme (IPA, as espeak reports it) starting at ``start`` seconds into the utterance audio."""

    start: float
    phoneme: str


@dataclass(frozen=True)
class WordEvent:
    """A word starting at ``start`` seconds; ``text_position``/``length`` index the input text (characters, 1-based)."""

    start: float
    text_position: int
    length: int


@dataclass(frozen=True)
class Utterance:
    """Synthesised speech: ``audio`` (samples,) float32 at 24 kHz plus espeak's phoneme and word timings."""

    text: str
    voice: VoiceSettings
    audio: np.ndarray
    phonemes: tuple[PhonemeEvent, ...]
    words: tuple[WordEvent, ...]

    @property
    def duration(self) -> float:
        return self.audio.shape[0] / SAMPLE_RATE


def synthesize_many(texts: list[str], voice: VoiceSettings, seed: int = 0) -> list[Utterance]:
    """Speak each text with ``voice`` (one worker process for all); deterministic for the same arguments."""
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise SpeechSynthesisError(f"cannot synthesise empty text {text!r}")
    if not texts:
        return []
    request = json.dumps({"texts": list(texts), "voice": dataclasses.asdict(voice), "seed": int(seed)})
    try:
        done = subprocess.run([sys.executable, str(_WORKER)], input=request.encode("utf-8"), capture_output=True,
                              timeout=_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SpeechSynthesisError(f"the espeak worker did not finish within {_TIMEOUT_S} s") from exc
    try:
        status, payload = pickle.loads(done.stdout)
    except Exception as exc:  # a crashed worker leaves no (or a truncated) reply
        detail = done.stderr.decode("utf-8", errors="replace").strip()[-2000:]
        raise SpeechSynthesisError(f"the espeak worker failed (exit code {done.returncode}): {detail}") from exc
    if status != "ok":
        raise SpeechSynthesisError(payload)
    utterances = []
    for text, (pcm, rate, events) in zip(texts, payload):
        native = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0  # (samples,) at espeak's rate
        audio = soxr.resample(native, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
        phonemes = tuple(PhonemeEvent(pos / 1000.0, label) for kind, pos, _, _, label in events
                         if kind == "phoneme" and label.strip())
        words = tuple(WordEvent(pos / 1000.0, tp, ln) for kind, pos, tp, ln, _ in events if kind == "word")
        utterances.append(Utterance(text=text, voice=voice, audio=audio, phonemes=phonemes, words=words))
    return utterances


def synthesize(text: str, voice: VoiceSettings, seed: int = 0) -> Utterance:
    """Speak one text (see :func:`synthesize_many`)."""
    return synthesize_many([text], voice, seed)[0]
