"""One synthetic "source video": a speaker's session of several utterances with pauses, cut into clips.

All boundaries are whole video frames (24000 / 25 = 960 samples), so audio and codes of a clip line up exactly.
Clip k spans from the middle of the pause before utterance k to the middle of the pause after it; the clips tile the
session without gaps, as segments cut from one continuous recording would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_prep.synthetic.speech import PhonemeEvent, VoiceSettings, WordEvent, synthesize_many
from omnitalker.constants import SAMPLE_RATE

TARGET_RMS = 0.08  # loudness of each utterance (about -22 dBFS) before the peak limit
PEAK_LIMIT = 0.95
NOISE_FLOOR = 2e-4  # faint seeded room noise, so pauses are not digital silence


@dataclass(frozen=True)
class ClipSpan:
    """Clip ``index`` of a session: frames [start_frame, end_frame) and the utterance it contains."""

    index: int
    start_frame: int
    end_frame: int
    text: str
    speech_start: float  # seconds into the session where the utterance's audio begins
    speech_end: float

    @property
    def num_frames(self) -> int:
        return self.end_frame - self.start_frame


@dataclass(frozen=True)
class SessionSpeech:
    """The audio track of a session and espeak's timing of everything said in it (seconds from session start)."""

    audio: np.ndarray  # (frames * samples_per_frame,) float32, 24 kHz
    fps: float
    phonemes: tuple[PhonemeEvent, ...]
    words: tuple[WordEvent, ...]
    clips: tuple[ClipSpan, ...]

    @property
    def samples_per_frame(self) -> int:
        return samples_per_frame(self.fps)

    @property
    def num_frames(self) -> int:
        return self.audio.shape[0] // self.samples_per_frame


def samples_per_frame(fps: float) -> int:
    """Audio samples per video frame; the corpus requires an integer (24000 / 25 = 960)."""
    spf = SAMPLE_RATE / fps
    if abs(spf - round(spf)) > 1e-9:
        raise ValueError(f"fps={fps} does not divide the sample rate {SAMPLE_RATE} into whole samples per frame")
    return round(spf)


def _normalise(audio: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    if rms <= 0:
        raise ValueError("cannot normalise silent audio")
    audio = audio * (TARGET_RMS / rms)
    peak = float(np.abs(audio).max())
    return audio * (PEAK_LIMIT / peak) if peak > PEAK_LIMIT else audio


def build_session(sentences: list[str], voice: VoiceSettings, rng: np.random.Generator, fps: float) -> SessionSpeech:
    """Synthesise ``sentences`` with ``voice`` into one continuous, frame-aligned session with seeded pauses."""
    if not sentences:
        raise ValueError("a session needs at least one sentence")
    spf = samples_per_frame(fps)
    lead = int(rng.integers(int(0.25 * fps), int(0.5 * fps) + 1))  # frames of silence before the first utterance
    pauses = [int(rng.integers(int(0.4 * fps), int(0.9 * fps) + 1)) for _ in sentences]  # after each utterance
    pieces: list[np.ndarray] = [np.zeros(lead * spf, np.float32)]
    phonemes: list[PhonemeEvent] = []
    words: list[WordEvent] = []
    bounds: list[tuple[int, float, float]] = []  # (utterance start frame, speech start s, speech end s)
    frame = lead
    for sentence, pause, utt in zip(sentences, pauses, synthesize_many(sentences, voice)):
        audio = _normalise(utt.audio)
        n_frames = -(-audio.shape[0] // spf)  # ceil: pad the utterance to whole frames
        padded = np.zeros(n_frames * spf, np.float32)
        padded[: audio.shape[0]] = audio
        offset = frame / fps
        phonemes += [PhonemeEvent(offset + p.start, p.phoneme) for p in utt.phonemes]
        words += [WordEvent(offset + w.start, w.text_position, w.length) for w in utt.words]
        bounds.append((frame, offset, offset + audio.shape[0] / SAMPLE_RATE))
        pieces += [padded, np.zeros(pause * spf, np.float32)]
        frame += n_frames + pause
    audio = np.concatenate(pieces)
    audio += (NOISE_FLOOR * rng.standard_normal(audio.shape[0])).astype(np.float32)

    # clip boundaries: middle of each pause (first clip starts at 0, last ends at the session end)
    starts = [0]
    for k in range(1, len(sentences)):
        starts.append(bounds[k][0] - pauses[k - 1] // 2)
    ends = starts[1:] + [frame]
    clips = tuple(ClipSpan(i, s, e, text, b[1], b[2])
                  for i, (s, e, text, b) in enumerate(zip(starts, ends, sentences, bounds)))
    return SessionSpeech(audio=audio.astype(np.float32), fps=fps, phonemes=tuple(phonemes), words=tuple(words),
                         clips=clips)
