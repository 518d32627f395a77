"""Errors raised by the renderer package; each names the offending input and what was expected."""

from __future__ import annotations


class RenderError(Exception):
    """Base class of every renderer error."""


class RenderInputError(RenderError, ValueError):
    """A source image or code tensor has the wrong shape, type, size or range."""


class CodeDimensionError(RenderInputError):
    """Visual codes whose last dimension is not 61."""


class NoFaceError(RenderInputError):
    """The source frame carries no usable face (blank image, or its codes are missing / not finite)."""


class WeightsNotFoundError(RenderError, FileNotFoundError):
    """A pretrained file the renderer or its losses need (VGG19, renderer checkpoint) does not exist."""


class RenderDataError(RenderError, ValueError):
    """The renderer training data is empty, lacks videos, or a clip cannot be decoded."""
