"""Vocos (mel-24khz architecture) built from a typed config, saved and loaded in the public checkpoint's layout.

The public ``charactr/vocos-mel-24khz`` directory holds ``config.yaml`` (jsonargparse ``class_path``/``init_args``
blocks for ``feature_extractor``, ``backbone`` and ``head``) and ``pytorch_model.bin`` (the ``Vocos`` state dict).
We read and write exactly that layout, so the public weights and our own trained vocoders load the same way:
the three classes the config names (only those three are accepted: ``Vocos.from_hparams`` would import and call any
``class_path``) + ``load_state_dict`` of weights read with ``weights_only=True``. Nothing here touches a model hub.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from vocos import Vocos
from vocos.feature_extractors import MelSpectrogramFeatures
from vocos.heads import ISTFTHead
from vocos.models import VocosBackbone

from omnitalker.constants import HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE
from omnitalker.safe_io import describe_load_failure, torch_load_weights_only
from omnitalker.vocoder.errors import VocoderConfigError, VocoderWeightsNotFoundError

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "pytorch_model.bin"


@dataclass(frozen=True)
class VocosArchitecture:
    """Width/depth of the Vocos backbone; the signal parameters are fixed by SPEC §2 (omnitalker.constants)."""

    dim: int = 512  # public mel-24khz: 512
    intermediate_dim: int = 1536  # public mel-24khz: 1536
    num_layers: int = 8  # public mel-24khz: 8

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> VocosArchitecture:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise VocoderConfigError(f"unknown Vocos architecture keys {sorted(unknown)}")
        return cls(**values)


def vocos_hparams(arch: VocosArchitecture = VocosArchitecture()) -> dict[str, Any]:
    """The ``config.yaml`` content of the public mel-24khz checkpoint, with the backbone sizes of ``arch``."""
    return {
        "feature_extractor": {
            "class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
            "init_args": {
                "sample_rate": SAMPLE_RATE,
                "n_fft": N_FFT,
                "hop_length": HOP_LENGTH,
                "n_mels": N_MELS,
                "padding": "center",
            },
        },
        "backbone": {
            "class_path": "vocos.models.VocosBackbone",
            "init_args": {
                "input_channels": N_MELS,
                "dim": arch.dim,
                "intermediate_dim": arch.intermediate_dim,
                "num_layers": arch.num_layers,
            },
        },
        "head": {
            "class_path": "vocos.heads.ISTFTHead",
            "init_args": {"dim": arch.dim, "n_fft": N_FFT, "hop_length": HOP_LENGTH, "padding": "same"},
        },
    }


def build_vocos(arch: VocosArchitecture = VocosArchitecture()) -> Vocos:
    """A randomly initialised Vocos with the public mel-24khz layout (13.5 M parameters at the default sizes)."""
    hp = vocos_hparams(arch)
    model = Vocos(
        feature_extractor=MelSpectrogramFeatures(**hp["feature_extractor"]["init_args"]),
        backbone=VocosBackbone(**hp["backbone"]["init_args"]),
        head=ISTFTHead(**hp["head"]["init_args"]),
    )
    return model.eval()


def check_hparams(config: dict[str, Any], config_path: Path) -> None:
    """Refuse a config whose vocoder cannot decode our mel (24 kHz, hop 256, 100 mel bins, ISTFT head)."""
    try:
        fe = config["feature_extractor"]
        backbone = config["backbone"]["init_args"]
        head = config["head"]
    except (KeyError, TypeError) as exc:
        raise VocoderConfigError(
            f"{config_path}: expected 'feature_extractor', 'backbone' and 'head' blocks with 'init_args' ({exc!r})"
        ) from None
    if not str(fe.get("class_path", "")).endswith("MelSpectrogramFeatures"):
        raise VocoderConfigError(
            f"{config_path}: feature extractor {fe.get('class_path')!r} is not MelSpectrogramFeatures; only the mel "
            "variant of Vocos decodes the project's log-mel"
        )
    fe_args = fe.get("init_args", {})
    expected = {"sample_rate": SAMPLE_RATE, "hop_length": HOP_LENGTH, "n_mels": N_MELS, "n_fft": N_FFT}
    for key, value in expected.items():
        if key in fe_args and fe_args[key] != value:
            raise VocoderConfigError(
                f"{config_path}: feature_extractor {key}={fe_args[key]} but the project uses {value}"
            )
    if backbone.get("input_channels") != N_MELS:
        raise VocoderConfigError(
            f"{config_path}: backbone input_channels={backbone.get('input_channels')}, need {N_MELS}"
        )
    head_args = head.get("init_args", {})
    if head_args.get("hop_length", HOP_LENGTH) != HOP_LENGTH:
        raise VocoderConfigError(f"{config_path}: head hop_length={head_args.get('hop_length')}, need {HOP_LENGTH}")


ALLOWED_CLASSES = {  # config block -> the one class it may name (config.yaml is data, never an import path)
    "feature_extractor": ("vocos.feature_extractors.MelSpectrogramFeatures", MelSpectrogramFeatures),
    "backbone": ("vocos.models.VocosBackbone", VocosBackbone),
    "head": ("vocos.heads.ISTFTHead", ISTFTHead),
}


def vocos_from_config(config: dict[str, Any], config_path: Path) -> Vocos:
    """Build the Vocos a ``config.yaml`` describes. Unlike ``Vocos.from_hparams``, which imports and calls whatever
    ``class_path`` names (so a crafted config could run any function), only the three classes of the mel-24khz
    layout are accepted."""
    parts = {}
    for block, (class_path, cls) in ALLOWED_CLASSES.items():
        init = config[block]
        if init.get("class_path") != class_path:
            raise VocoderConfigError(f"{config_path}: {block} class_path {init.get('class_path')!r} is not allowed; "
                                     f"expected {class_path!r}")
        kwargs = init.get("init_args", {})
        if not isinstance(kwargs, dict):
            raise VocoderConfigError(f"{config_path}: {block} init_args must be a mapping")
        try:
            parts[block] = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise VocoderConfigError(f"{config_path}: invalid {block} init_args: {exc}") from exc
    return Vocos(**parts)


def load_vocos(directory: str | os.PathLike[str], device: str | torch.device = "cpu") -> Vocos:
    """Load a Vocos from a local directory in the public layout (``config.yaml`` + ``pytorch_model.bin``)."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise VocoderWeightsNotFoundError(
            f"Vocos directory {directory} does not exist; it must contain {CONFIG_FILE} and {WEIGHTS_FILE} "
            "(e.g. a local copy of charactr/vocos-mel-24khz, or the output of scripts/train_vocoder.py)"
        )
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise VocoderWeightsNotFoundError(
                f"missing Vocos file {path} (a Vocos directory needs {CONFIG_FILE} and {WEIGHTS_FILE})"
            )
    try:
        with open(config_path) as f:
            config = yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise VocoderConfigError(f"cannot read {config_path}: {type(exc).__name__}") from exc
    check_hparams(config, config_path)
    model = vocos_from_config(config, config_path)
    try:
        state_dict = torch_load_weights_only(weights_path)
    except Exception as exc:  # truncated / not a torch file / pickled objects refused by weights_only
        raise VocoderConfigError(f"Vocos weights: {describe_load_failure(weights_path, exc)[1]}") from exc
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise VocoderConfigError(f"Vocos weights {weights_path} do not match {config_path}: {exc}") from exc
    return model.to(device).eval()


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_vocos(model: Vocos, directory: str | os.PathLike[str], arch: VocosArchitecture) -> Path:
    """Write ``model`` as ``config.yaml`` + ``pytorch_model.bin`` (the public layout), each file atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    hparams = vocos_hparams(arch)

    def write_config(tmp: str) -> None:
        with open(tmp, "w") as f:
            yaml.safe_dump(hparams, f, sort_keys=False)

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    _atomic_write(directory / WEIGHTS_FILE, lambda tmp: torch.save(state, tmp))
    _atomic_write(directory / CONFIG_FILE, write_config)
    return directory


def architecture_of(model: Vocos) -> VocosArchitecture:
    """Read the backbone sizes back from a built model (used when exporting a trained one)."""
    backbone = model.backbone
    return VocosArchitecture(
        dim=backbone.embed.out_channels,
        intermediate_dim=backbone.convnext[0].pwconv1.out_features,
        num_layers=len(backbone.convnext),
    )


__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "VocosArchitecture",
    "architecture_of",
    "build_vocos",
    "load_vocos",
    "save_vocos",
    "vocos_hparams",
]
