"""Stand-alone worker that drives libespeak-ng (from the ``espeakng-loader`` wheel) through ctypes.

Run as ``python espeak_worker.py`` with a JSON request on stdin::

    {"texts": ["...", ...], "voice": {"name": "en-us+m3", "rate": 150, "pitch": 25, "pitch_range": 40,
     "word_gap": 0}, "seed": 0}

and writes a pickled ``("ok", [(pcm_int16_bytes, sample_rate, events), ...])`` or ``("error", message)`` to stdout,
where events are ``(kind, audio_position_ms, text_position, length, ipa)`` with kind "word" or "phoneme".

Why a separate process: libespeak-ng keeps waveform-generator state (e.g. its pitch-flutter index) in C statics
that neither ``espeak_Initialize`` nor ``espeak_Terminate`` reset, so in a long-lived process an utterance depends
on everything synthesised before it. A fresh process per request makes the audio a pure function of the request.
This file imports nothing from the project (only the standard library and espeakng_loader) so it starts fast.
"""

from __future__ import annotations

import ctypes
import json
import pickle
import sys
from pathlib import Path

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EE_OK = 0
_PARAMETERS = {"rate": 1, "pitch": 3, "pitch_range": 4, "word_gap": 7}
_VOLUME = 2
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_PHONEME = 0, 1, 7


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT`` from speak_lib.h; audio_position is in milliseconds from the start of the utterance."""

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


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class WorkerError(Exception):
    """A request the worker cannot fulfil (reported to the parent as a message)."""


def _load():
    try:
        import espeakng_loader
    except ImportError as exc:
        raise WorkerError("the 'espeakng-loader' package is required for synthetic speech") from exc
    lib_path = espeakng_loader.get_library_path()
    try:
        lib = ctypes.CDLL(lib_path)
    except OSError as exc:
        raise WorkerError(f"cannot load libespeak-ng from {lib_path}: {exc}") from exc
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p]
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_ng_SetRandSeed.restype = None
    data_root = str(Path(espeakng_loader.get_data_path()).parent).encode()
    options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_root, options)
    if rate <= 0:
        raise WorkerError(f"espeak_Initialize failed (returned {rate}) with data under {data_root.decode()}")
    return lib, int(rate)


def synthesize_all(texts: list[str], voice: dict, seed: int) -> list[tuple[bytes, int, list[tuple]]]:
    """Synthesise each text in order with one voice; returns raw 16-bit PCM, its sample rate and the events."""
    lib, rate = _load()
    chunks: list[bytes] = []
    events: list[tuple] = []

    def on_audio(wav, num_samples, event_array) -> int:
        if num_samples > 0 and wav:
            chunks.append(ctypes.string_at(wav, num_samples * 2))
        i = 0
        while event_array[i].type != _EVENT_LIST_TERMINATED:
            ev = event_array[i]
            if ev.type == _EVENT_PHONEME:
                events.append(("phoneme", ev.audio_position, ev.text_position, ev.length,
                               ev.id.string.decode("utf-8", errors="replace")))
            elif ev.type == _EVENT_WORD:
                events.append(("word", ev.audio_position, ev.text_position, ev.length, ""))
            i += 1
        return 0

    callback = _CALLBACK(on_audio)
    lib.espeak_SetSynthCallback(callback)
    if lib.espeak_SetVoiceByName(voice["name"].encode()) != _EE_OK:
        raise WorkerError(f"espeak has no voice named {voice['name']!r}")
    for key, parameter in _PARAMETERS.items():
        if lib.espeak_SetParameter(parameter, int(voice[key]), 0) != _EE_OK:
            raise WorkerError(f"espeak rejected {key}={voice[key]!r}")
    lib.espeak_SetParameter(_VOLUME, 100, 0)
    results = []
    for text in texts:
        chunks.clear()
        events.clear()
        lib.espeak_ng_SetRandSeed(seed)
        data = text.encode("utf-8") + b"\0"
        buffer = ctypes.create_string_buffer(data, len(data))
        status = lib.espeak_Synth(buffer, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != _EE_OK:
            raise WorkerError(f"espeak_Synth failed with status {status} for text {text!r}")
        lib.espeak_Synchronize()
        if not chunks:
            raise WorkerError(f"espeak produced no audio for text {text!r} with voice {voice['name']!r}")
        results.append((b"".join(chunks), rate, list(events)))
    return results


def main() -> None:
    try:
        request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        reply = ("ok", synthesize_all(request["texts"], request["voice"], int(request["seed"])))
    except WorkerError as exc:
        reply = ("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises a clear error
        reply = ("error", f"{type(exc).__name__}: {exc}")
    sys.stdout.buffer.write(pickle.dumps(reply))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
