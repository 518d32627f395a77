"""Errors raised by the vocoder package (a specific class per problem, each naming what is wrong)."""

from __future__ import annotations


class VocoderError(Exception):
    """Base class of every vocoder error."""


class VocoderWeightsNotFoundError(VocoderError, FileNotFoundError):
    """A file the vocoder needs (config.yaml / pytorch_model.bin) is missing; the message names it."""


class VocoderConfigError(VocoderError, ValueError):
    """A vocoder config describes an architecture that cannot decode the project's mel (wrong rate, hop, mel bins...)."""


class MelShapeError(VocoderError, ValueError):
    """The mel handed to ``decode`` does not have the shape (batch, frames, 100)."""
