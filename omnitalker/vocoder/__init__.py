"""Mel -> waveform decoders (SPEC §5): Vocos mel-24khz loaded from a local directory, Griffin-Lim as explicit fallback."""

from omnitalker.vocoder.decoders import GriffinLimVocoder, Vocoder, VocoderKind, VocosVocoder, check_mel, load_vocoder
from omnitalker.vocoder.errors import MelShapeError, VocoderConfigError, VocoderError, VocoderWeightsNotFoundError
from omnitalker.vocoder.vocos_model import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    VocosArchitecture,
    architecture_of,
    build_vocos,
    load_vocos,
    save_vocos,
    vocos_hparams,
)

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "GriffinLimVocoder",
    "MelShapeError",
    "Vocoder",
    "VocoderConfigError",
    "VocoderError",
    "VocoderKind",
    "VocoderWeightsNotFoundError",
    "VocosArchitecture",
    "VocosVocoder",
    "architecture_of",
    "build_vocos",
    "check_mel",
    "load_vocoder",
    "load_vocos",
    "save_vocos",
    "vocos_hparams",
]
