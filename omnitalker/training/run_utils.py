"""Pieces shared by the training entry points (DiT, renderer, vocoder): Hydra groups and resuming."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig


def instantiate_all(node: DictConfig | None) -> list:
    """Instantiate every non-null entry of a logger/callbacks group (a dict of configs with ``_target_``)."""
    return [hydra.utils.instantiate(c) for c in (node or {}).values() if c is not None]


def resolve_resume(value: str | None, output_dir: Path) -> Path | None:
    """``ckpt_path``: null (fresh run), "auto" (this run's checkpoints/last.ckpt if present) or an explicit path."""
    if value in (None, "", "null"):
        return None
    if value == "auto":
        last = Path(output_dir) / "checkpoints" / "last.ckpt"
        return last if last.is_file() else None
    if not Path(value).is_file():
        raise FileNotFoundError(f"ckpt_path={value}: no such checkpoint to resume from")
    return Path(value)
