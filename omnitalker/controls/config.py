"""User controls of one generation (issue 13 §1): what they mean, their limits, and their validation.

Where each control acts (see docs/controls.md): ``rate`` on the duration plan (the DiT speaks the text in fewer or
more mel frames); every other control on the generated raw visual codes at the mel rate, before rendering
(`omnitalker.controls.apply`), so the audio is bit-identical under visual-only controls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from omnitalker.inference.errors import InferenceInputError

# (low, high) inclusive range of every numeric control; documented in docs/controls.md
LIMITS: dict[str, tuple[float, float]] = {
    "lip": (0.0, 3.0),  # mouth amplitude factor (0 = closed mouth, 1 = as generated)
    "head": (0.0, 3.0),  # head-motion amplitude factor about the mean pose (0 = still head)
    "smile": (-1.0, 1.0),  # + smile (mouthSmile), - frown (mouthFrown); blendshape units
    "brow": (-1.0, 1.0),  # + raised brows (browInnerUp, browOuterUp), - lowered (browDown)
    "eye_open": (-1.0, 1.0),  # + wide eyes (eyeWide), - narrowed (eyeSquint)
    "emotion_intensity": (0.0, 2.0),  # scale of the emotion preset's offsets
    "blink_rate": (0.0, 60.0),  # blinks per minute (0 = no blinks)
    "rate": (0.5, 2.0),  # speaking-rate factor on the duration plan (2 = twice as fast)
}


class ControlError(InferenceInputError, ValueError):
    """A control value is out of range, of the wrong type, or names an unknown emotion."""


def emotion_names() -> tuple[str, ...]:
    from omnitalker.controls.presets import EMOTIONS

    return tuple(sorted(EMOTIONS))


@dataclass(frozen=True)
class Controls:
    lip: float = 1.0  # mouth amplitude factor
    head: float = 1.0  # head-motion amplitude factor about the clip's own mean pose
    smile: float = 0.0  # expression offsets (blendshape units)
    brow: float = 0.0
    eye_open: float = 0.0
    emotion: str | None = None  # preset built from blendshape combinations: happy, sad, angry, surprised, neutral
    emotion_intensity: float = 1.0
    blink_rate: float | None = None  # blinks per minute; None = as generated
    gaze_lock: bool = False  # look at the camera
    rate: float = 1.0  # speaking rate: acts on the duration plan

    def __post_init__(self) -> None:
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if value is None and name == "blink_rate":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ControlError(f"controls.{name} must be a finite number, got {value!r}")
            if not low <= value <= high:
                raise ControlError(f"controls.{name}={value:g} is outside its range [{low:g}, {high:g}]")
            object.__setattr__(self, name, float(value))
        if not isinstance(self.gaze_lock, bool):
            raise ControlError(f"controls.gaze_lock must be true or false, got {self.gaze_lock!r}")
        if self.emotion is not None:
            if not isinstance(self.emotion, str) or self.emotion.lower() not in emotion_names():
                raise ControlError(f"controls.emotion={self.emotion!r} is unknown; choose one of "
                                   f"{', '.join(emotion_names())} (or leave it unset)")
            object.__setattr__(self, "emotion", self.emotion.lower())

    @classmethod
    def from_dict(cls, values: dict | None) -> Controls:
        """From a plain mapping (a Hydra ``controls:`` block, a JSON job); unknown keys are refused by name."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ControlError(f"unknown control(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)

    @property
    def visual_only(self) -> bool:
        """True when nothing but the picture changes (the audio is then bit-identical to no controls)."""
        return self.rate == 1.0

    @property
    def changes_codes(self) -> bool:
        """False when the visual codes pass through unchanged (only ``rate``, or nothing, is set)."""
        return replace(self, rate=1.0) != Controls()
