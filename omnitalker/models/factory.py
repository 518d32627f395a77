"""Builds the DiT from a (Hydra/OmegaConf or plain) mapping of :class:`DiTConfig` fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omnitalker.models.config import DiTConfig
from omnitalker.models.dit import OmniTalkerDiT


def to_plain_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(values, DictConfig):
            return OmegaConf.to_container(values, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return dict(values)


def build_dit(arch: Mapping[str, Any], **overrides: Any) -> OmniTalkerDiT:
    values = to_plain_dict(arch)
    values.update(overrides)
    return OmniTalkerDiT(DiTConfig.from_dict(values))
