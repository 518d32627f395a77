"""Inference controls (issue 13 §1): lip / head amplitude, expression offsets, emotion presets, blink rate, gaze
lock, speaking rate. ``Controls`` is the validated value object; ``ControlApplier`` acts on generated codes."""

from omnitalker.controls.apply import ControlApplier, apply_controls
from omnitalker.controls.config import LIMITS, ControlError, Controls

__all__ = ["Controls", "ControlError", "ControlApplier", "apply_controls", "LIMITS"]
