"""Output length of one generation (SPEC §5): how many mel frames the new speech gets.

    new frames = reference frames x (units of new text / units of reference text) / speed

with language-aware units from `omnitalker.text.length_units` (syllables for Chinese, letters for Latin scripts,
never bytes). When one text is written in syllables and the other in letters (or either mixes both), syllables are
weighted by `LETTERS_PER_SYLLABLE` so both texts are measured in letter-equivalents. An explicit `duration`
(seconds of new speech) overrides the rule. The model's sequence = reference frames + new frames, at MEL_FPS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omnitalker.constants import MEL_FPS
from omnitalker.inference.errors import DurationError, TextInputError
from omnitalker.text import LETTERS_PER_SYLLABLE, EmptyTextError, TextError, length_units


@dataclass(frozen=True)
class DurationPlan:
    reference_frames: int  # mel frames of the reference audio
    new_frames: int  # mel frames to generate for the new text
    syllable_weight: float  # weight used for Chinese syllables (1, or LETTERS_PER_SYLLABLE across scripts)
    reference_units: float
    new_units: float

    @property
    def total_frames(self) -> int:
        """Length of the model's sequence (reference + new), in mel frames."""
        return self.reference_frames + self.new_frames

    @property
    def new_seconds(self) -> float:
        return self.new_frames / MEL_FPS


def seconds_to_mel_frames(seconds: float) -> int:
    return round(seconds * MEL_FPS)


def _script_counts(text: str) -> tuple[float, float]:
    """(syllables, letters) of a text; (0, 0) for empty / unpronounceable text."""
    try:
        syllables = length_units(text, syllable_weight=1.0, letter_weight=0.0)
        letters = length_units(text, syllable_weight=0.0, letter_weight=1.0)
    except EmptyTextError:
        return 0.0, 0.0
    return syllables, letters


def syllable_weight_for(*texts: str) -> float:
    """1.0 when all texts are measured in the same unit (all syllabic, or all without syllables), else
    LETTERS_PER_SYLLABLE (the texts mix scripts, so syllables are converted to letter-equivalents)."""
    counts = [_script_counts(t) for t in texts]
    all_syllabic = all(letters == 0 for _, letters in counts)
    no_syllables = all(syllables == 0 for syllables, _ in counts)
    return 1.0 if all_syllabic or no_syllables else LETTERS_PER_SYLLABLE


def text_units(text: str, syllable_weight: float) -> float:
    """Spoken length of `text` (0 for empty text, instead of an exception; used by the chunker)."""
    try:
        return length_units(text, syllable_weight=syllable_weight)
    except EmptyTextError:
        return 0.0


def plan_duration(
    reference_text: str,
    new_text: str,
    reference_frames: int,
    *,
    speed: float = 1.0,
    duration: float | None = None,
    syllable_weight: float | None = None,
) -> DurationPlan:
    """Mel-frame budget for speaking `new_text` in the style of a reference of `reference_frames` mel frames whose
    transcript is `reference_text`. `duration` (seconds of new speech) overrides the rule; `syllable_weight`
    overrides the automatic script choice. Raises TextInputError / DurationError (both InferenceInputError)."""
    if not isinstance(reference_frames, int) or reference_frames <= 0:
        raise DurationError(f"reference_frames must be a positive int (mel frames), got {reference_frames!r}")
    if not (isinstance(speed, (int, float)) and math.isfinite(speed) and speed > 0):
        raise DurationError(f"speed must be a finite number > 0, got {speed!r}")
    if duration is not None and not (isinstance(duration, (int, float)) and math.isfinite(duration) and duration > 0):
        raise DurationError(f"duration must be a finite number of seconds > 0, got {duration!r}")
    weight = syllable_weight if syllable_weight is not None else syllable_weight_for(reference_text, new_text)
    units = {}
    for name, text in (("reference transcript", reference_text), ("text to speak", new_text)):
        if not text or not text.strip():
            raise TextInputError(f"the {name} is empty")
        try:
            units[name] = length_units(text, syllable_weight=weight)
        except TextError as exc:
            raise TextInputError(f"the {name} cannot be read: {exc}") from exc
        if units[name] <= 0:
            raise TextInputError(f"the {name} has nothing to pronounce (no letters or syllables): {text!r}")
    ref_units, new_units = units["reference transcript"], units["text to speak"]
    if duration is not None:
        new_frames = max(1, seconds_to_mel_frames(duration))
    else:
        new_frames = max(1, round(reference_frames * new_units / ref_units / speed))
    return DurationPlan(reference_frames, new_frames, weight, ref_units, new_units)
