"""What a training checkpoint carries besides weights, and loading the DiT from one for inference or fine-tuning.

A Lightning checkpoint of :class:`omnitalker.training.module.OmniTalkerModule` holds, under ``"omnitalker"``:
``format`` (version), ``arch`` / ``objective`` / ``sampler`` (model config), ``vocab`` (symbols, index 0 = space),
``normalizer`` (visual-code mean/std), ``config`` (the whole resolved run config) and ``versions``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from omnitalker.models.config import DiTConfig
from omnitalker.models.dit import OmniTalkerDiT

CHECKPOINT_FORMAT = 1
EMA_PREFIX = "ema.ema_model."
ONLINE_PREFIX = "net."


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, or does not match what is asked of it."""


@dataclass
class LoadedDiT:
    model: OmniTalkerDiT
    vocab_symbols: list[str]
    normalizer_state: dict[str, Any]
    meta: dict[str, Any]  # the whole "omnitalker" payload (configs, versions)
    weights: str  # "ema" or "online"


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # truncated file, not a torch file, ...
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(ckpt, dict) or "omnitalker" not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not an OmniTalker DiT checkpoint (no 'omnitalker' metadata / state_dict)")
    fmt = ckpt["omnitalker"].get("format")
    if fmt != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {fmt}, this code reads format {CHECKPOINT_FORMAT}")
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
