"""Which optional pipeline features this install has, detected at run time (the demo works without any of them).

- controls: ``omnitalker.controls.Controls`` (a frozen dataclass) accepted by ``pipeline.generate(..., controls=)``
- sources: ``pipeline.analyse_sources(identity_image, voice_audio, voice_text=None, motion_video=None)``
- stream: ``pipeline.stream(text, reference, ...)`` yielding chunks (a streaming preview)
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# UI ranges of the control fields the demo knows: (minimum, maximum, step); other numeric fields get a number box
SLIDER_RANGES: dict[str, tuple[float, float, float]] = {
    "lip": (0.0, 2.0, 0.05), "head": (0.0, 2.0, 0.05), "smile": (-1.0, 1.0, 0.05), "brow": (-1.0, 1.0, 0.05),
    "eye_open": (-1.0, 1.0, 0.05), "emotion_intensity": (0.0, 1.0, 0.05), "rate": (0.5, 2.0, 0.05),
}
EMOTION_NAMES = ("EMOTIONS", "EMOTION_PRESETS", "PRESETS")  # module attributes that may list the emotion presets


@dataclass(frozen=True)
class ControlField:
    name: str
    kind: str  # slider | number | checkbox | choice | text
    default: Any
    range: tuple[float, float, float] | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Features:
    controls: type | None = None  # the Controls dataclass, when installed and accepted by generate()
    control_fields: tuple[ControlField, ...] = ()
    sources: bool = False
    stream: bool = False

    def describe(self) -> str:
        have = [name for name, on in (("controls", self.controls is not None), ("image + audio identity",
                                                                                  self.sources),
                                      ("streaming preview", self.stream)) if on]
        return ", ".join(have) if have else "none (reference video only)"


def detect(pipeline: object) -> Features:
    controls = _controls_class() if _accepts(getattr(pipeline, "generate", None), "controls") else None
    return Features(
        controls=controls,
        control_fields=control_fields(controls) if controls is not None else (),
        sources=callable(getattr(pipeline, "analyse_sources", None)),
        stream=callable(getattr(pipeline, "stream", None)),
    )


def _accepts(function: object, parameter: str) -> bool:
    if not callable(function):
        return False
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return parameter in params  # explicitly: a **kwargs catch-all may not know the keyword


def _controls_class() -> type | None:
    try:
        module = importlib.import_module("omnitalker.controls")
    except ImportError:
        return None
    cls = getattr(module, "Controls", None)
    if cls is None or not dataclasses.is_dataclass(cls):
        log.warning("omnitalker.controls has no Controls dataclass: controls are not shown")
        return None
    return cls


def _emotion_choices(cls: type) -> tuple[str, ...]:
    module = importlib.import_module(cls.__module__)
    for name in EMOTION_NAMES:
        value = getattr(module, name, None)
        if isinstance(value, dict):
            return tuple(str(k) for k in value)
        if isinstance(value, (list, tuple, frozenset, set)):
            return tuple(sorted(str(v) for v in value))
    return ()


def control_fields(cls: type) -> tuple[ControlField, ...]:
    """One UI field per dataclass field, its default from the dataclass."""
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        if f.name == "emotion":
            choices = _emotion_choices(cls)
            out.append(ControlField(f.name, "choice" if choices else "text", default, choices=choices))
        elif isinstance(default, bool) or f.name == "gaze_lock":
            out.append(ControlField(f.name, "checkbox", bool(default)))
        elif f.name in SLIDER_RANGES and isinstance(default, (int, float)):
            out.append(ControlField(f.name, "slider", float(default), range=SLIDER_RANGES[f.name]))
        elif isinstance(default, (int, float)) or default is None:
            out.append(ControlField(f.name, "number", default))
        else:
            out.append(ControlField(f.name, "text", default))
    return tuple(out)
