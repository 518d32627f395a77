"""Real synthesised speech from libespeak-ng (shipped by the ``espeakng-loader`` wheel), driven through ctypes.

Why ctypes and not a subprocess: the wheel ships only the shared library and its data, no executable; and the
library's synchronous callback also hands us the phoneme events with their audio positions, which time the mouth.

libespeak-ng keeps global state, so one process-wide :class:`EspeakEngine` serialises all calls behind a lock.
Output is float32 mono at 24 kHz (espeak renders at 22050 Hz; resampled with soxr, deterministic).
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from omnitalker.constants import SAMPLE_RATE

# espeak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EE_OK = 0
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE, _PARAM_WORDGAP = 1, 2, 3, 4, 7
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_PHONEME = 0, 1, 7


class SpeechSynthesisError(RuntimeError):
    """libespeak-ng could not be loaded, rejected a voice or parameter, or produced no audio for a text."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT``: audio_position is in milliseconds from the start of the utterance."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


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


class EspeakEngine:
    """Process-wide handle on libespeak-ng in synchronous mode with phoneme events (use :func:`engine`)."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - the dependency is declared in pyproject
            raise SpeechSynthesisError("the 'espeakng-loader' package is required for synthetic speech") from exc
        lib_path = espeakng_loader.get_library_path()
        data_path = espeakng_loader.get_data_path()
        try:
            self._lib = ctypes.CDLL(lib_path)
        except OSError as exc:
            raise SpeechSynthesisError(f"cannot load libespeak-ng from {lib_path}: {exc}") from exc
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        self._data_root = str(Path(data_path).parent).encode()
        self._lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, str]] = []
        self._callback = _SYNTH_CALLBACK(self._on_audio)  # keep a reference: libespeak holds a raw pointer
        self.native_rate = self._initialize()

    def _initialize(self) -> int:
        """(Re-)initialise libespeak-ng: resets its waveform generator, whose state (glottal phase, pitch flutter
        index) would otherwise carry over from one utterance to the next and make the output history-dependent."""
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, self._data_root, options)
        if rate <= 0:
            raise SpeechSynthesisError(f"espeak_Initialize failed (returned {rate}) with data at {self._data_root!r}")
        self._lib.espeak_SetSynthCallback(self._callback)
        return int(rate)

    def _on_audio(self, wav, num_samples, events) -> int:  # noqa: ANN001 - ctypes callback
        if num_samples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type in (_EVENT_WORD, _EVENT_PHONEME):
                label = ev.id.string.decode("utf-8", errors="replace") if ev.type == _EVENT_PHONEME else ""
                self._events.append((ev.type, ev.audio_position, ev.text_position, ev.length, label))
            i += 1
        return 0

    def _set(self, parameter: int, value: int, what: str) -> None:
        if self._lib.espeak_SetParameter(parameter, int(value), 0) != _EE_OK:
            raise SpeechSynthesisError(f"espeak rejected {what}={value}")

    def synthesize(self, text: str, voice: VoiceSettings, seed: int = 0) -> Utterance:
        """Speak ``text`` with ``voice``; returns 24 kHz float32 audio with phoneme/word timings.

        The same (text, voice, seed) always gives the same audio (espeak's random noise generator is re-seeded).
        """
        if not isinstance(text, str) or not text.strip():
            raise SpeechSynthesisError(f"cannot synthesise empty text {text!r}")
        with self._lock:
            self._initialize()
            if self._lib.espeak_SetVoiceByName(voice.name.encode()) != _EE_OK:
                raise SpeechSynthesisError(f"espeak has no voice named {voice.name!r}")
            self._set(_PARAM_RATE, voice.rate, "rate")
            self._set(_PARAM_PITCH, voice.pitch, "pitch")
            self._set(_PARAM_RANGE, voice.pitch_range, "pitch_range")
            self._set(_PARAM_WORDGAP, voice.word_gap, "word_gap")
            self._set(_PARAM_VOLUME, 100, "volume")
            self._chunks, self._events = [], []
            self._lib.espeak_ng_SetRandSeed(seed)  # espeak's noise sources use a PRNG: fix it per utterance
            data = text.encode("utf-8") + b"\0"
            buffer = ctypes.create_string_buffer(data, len(data))
            status = self._lib.espeak_Synth(buffer, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if status != _EE_OK:
                raise SpeechSynthesisError(f"espeak_Synth failed with status {status} for text {text!r}")
            self._lib.espeak_Synchronize()
            chunks, events = self._chunks, self._events
            self._chunks, self._events = [], []
        if not chunks:
            raise SpeechSynthesisError(f"espeak produced no audio for text {text!r} with voice {voice.name!r}")
        native = np.concatenate(chunks).astype(np.float32) / 32768.0  # (samples,) at native_rate
        audio = soxr.resample(native, self.native_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
        phonemes = tuple(
            PhonemeEvent(start=pos / 1000.0, phoneme=label)
            for kind, pos, _, _, label in events
            if kind == _EVENT_PHONEME and label.strip()
        )
        words = tuple(WordEvent(start=pos / 1000.0, text_position=tp, length=ln)
                      for kind, pos, tp, ln, _ in events if kind == _EVENT_WORD)
        return Utterance(text=text, voice=voice, audio=audio, phonemes=phonemes, words=words)


_ENGINE: EspeakEngine | None = None
_ENGINE_LOCK = threading.Lock()


def engine() -> EspeakEngine:
    """The process-wide espeak engine (initialised on first use)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = EspeakEngine()
        return _ENGINE


def synthesize(text: str, voice: VoiceSettings, seed: int = 0) -> Utterance:
    """Convenience wrapper around :meth:`EspeakEngine.synthesize` on the shared engine."""
    return engine().synthesize(text, voice, seed)
