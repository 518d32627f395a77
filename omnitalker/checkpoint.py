"""What a training checkpoint carries besides weights, and loading the DiT from one for inference or fine-tuning.

A Lightning checkpoint of :class:`omnitalker.training.module.OmniTalkerModule` holds, under ``"omnitalker"``:
``format`` (version), ``arch`` / ``objective`` / ``sampler`` (model config), ``vocab`` (symbols, index 0 = space),
``normalizer`` (visual-code mean/std), ``config`` (the whole resolved run config), ``face_model`` (id of the face
model that fitted the training corpus's codes, or None when the corpus does not record it) and ``versions``.

Every checkpoint is read with ``torch.load(weights_only=True)``: only tensors and plain containers (dict, list,
str, numbers) can be unpickled, so a crafted file cannot run code. Everything saved is made plain first
(:func:`omnitalker.safe_io.plain_data`). Files holding other Python objects (e.g. OmegaConf configs in early
checkpoints) are refused with the command that converts them, for trusted files:
``python scripts/convert_checkpoint.py OLD.ckpt NEW.ckpt``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from omnitalker.models.config import DiTConfig
from omnitalker.models.dit import OmniTalkerDiT
from omnitalker.safe_io import describe_load_failure, torch_load_weights_only

CHECKPOINT_FORMAT = 2  # 2: plain metadata only (weights_only-loadable) + face_model; 1: the same without face_model
READABLE_FORMATS = (1, 2)
EMA_PREFIX = "ema.ema_model."
ONLINE_PREFIX = "net."
CONVERT_SCRIPT = "scripts/convert_checkpoint.py"


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, unsafe, or does not match what is asked of it."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint holds Python objects that only a full (code-executing) unpickling could rebuild."""


@dataclass
class LoadedDiT:
    model: OmniTalkerDiT
    vocab_symbols: list[str]
    normalizer_state: dict[str, Any]
    meta: dict[str, Any]  # the whole "omnitalker" payload (configs, versions)
    weights: str  # "ema" or "online"

    @property
    def face_model(self) -> str | None:
        """Id of the face model that fitted the training corpus (None: not recorded)."""
        return self.meta.get("face_model")


def convert_command(path: str | os.PathLike) -> str:
    src = Path(path)
    return f"python {CONVERT_SCRIPT} {src} {src.with_name(src.stem + '.v' + str(CHECKPOINT_FORMAT) + src.suffix)}"


def load_error(path: str | os.PathLike, exc: BaseException) -> CheckpointError:
    """A one-line :class:`CheckpointError` for an exception raised by ``torch.load(path, weights_only=True)``."""
    unsafe, message = describe_load_failure(path, exc, f"if it is an older OmniTalker checkpoint from a source you "
                                                       f"trust, convert it with: {convert_command(path)}")
    return (UnsafeCheckpointError if unsafe else CheckpointError)(message)


def safe_torch_load(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU; any failure becomes a one-line :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return torch_load_weights_only(path)
    except Exception as exc:  # unsafe content, truncated file, not a torch file, ...
        raise load_error(path, exc) from exc


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    ckpt = safe_torch_load(path)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("omnitalker"), dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not an OmniTalker DiT checkpoint (no 'omnitalker' metadata / state_dict)")
    fmt = ckpt["omnitalker"].get("format")
    if fmt not in READABLE_FORMATS:
        raise CheckpointError(f"{path} has checkpoint format {fmt}, this code reads formats {list(READABLE_FORMATS)}")
    return ckpt


def extract_weights(state_dict: dict[str, torch.Tensor], prefer_ema: bool = True) -> tuple[dict[str, torch.Tensor], str]:
    """The DiT's own state dict from a LightningModule state dict, EMA weights when present and asked for."""
    for prefix, kind in ((EMA_PREFIX, "ema"), (ONLINE_PREFIX, "online")) if prefer_ema else ((ONLINE_PREFIX, "online"),):
        weights = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if weights:
            return weights, kind
    raise CheckpointError("checkpoint state_dict holds no DiT weights (neither 'ema.ema_model.*' nor 'net.*')")


def load_dit(path: str | os.PathLike, prefer_ema: bool = True, device: str | torch.device = "cpu") -> LoadedDiT:
    """Builds the DiT described by the checkpoint and loads its (EMA) weights, strictly."""
    ckpt = read_checkpoint(path)
    meta = ckpt["omnitalker"]
    try:
        cfg = DiTConfig.from_dict(meta["arch"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid architecture metadata: {exc}") from exc
    vocab = list(meta.get("vocab") or [])
    if len(vocab) != cfg.text_vocab_size:
        raise CheckpointError(f"{path}: vocabulary has {len(vocab)} symbols but the model expects {cfg.text_vocab_size}")
    weights, kind = extract_weights(ckpt["state_dict"], prefer_ema)
    model = OmniTalkerDiT(cfg)
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as exc:  # shape mismatches
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise CheckpointError(f"{path}: weights do not match the architecture ({first})") from exc
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not match the architecture (missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]})"
        )
    return LoadedDiT(model.to(device).eval(), vocab, meta["normalizer"], meta, kind)
