"""Exceptions -> one message for the page: what the user gave wrong, in words; never a traceback.

Errors about the inputs (the project's error classes) are shown with their text; anything else is an internal
error: the page says so and the traceback goes to the server log only.
"""

from __future__ import annotations

import logging

from omnitalker.audio.asr import TranscriptError
from omnitalker.checkpoint import CheckpointError
from omnitalker.face.errors import ClipTooShortError, FaceError, MultipleFacesError, NoFaceError
from omnitalker.inference.errors import InferenceInputError, TextInputError
from omnitalker.render.errors import RenderInputError
from omnitalker.text.errors import TextError

log = logging.getLogger(__name__)

# (classes, heading shown before the error's own text); first match wins
USER_ERRORS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((NoFaceError,), "No face found"),
    ((MultipleFacesError,), "Several faces found"),
    ((ClipTooShortError,), "Reference too short"),
    ((TextInputError, TextError), "Text problem"),
    ((TranscriptError,), "Transcript problem"),
    ((InferenceInputError,), "Input problem"),
    ((FaceError,), "Face problem"),
    ((RenderInputError,), "Renderer input problem"),
    ((CheckpointError,), "Model problem"),
)


class DemoInputError(InferenceInputError):
    """A demo-level input problem (nothing uploaded, conflicting inputs, too long text, bad control value)."""


def user_message(exc: BaseException) -> str:
    """One line for the page. Input errors keep their own text; others are logged with their traceback."""
    for classes, heading in USER_ERRORS:
        if isinstance(exc, classes):
            return f"{heading}: {_one_line(exc)}"
    log.error("generation failed", exc_info=exc)
    return (f"Internal error ({type(exc).__name__}): the generation failed for a reason that is not about your "
            "inputs; the server log has the details.")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if text else type(exc).__name__
