"""Lazy imports of the heavy optional dependencies of data preparation, with an error naming the pip package."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional package needed by a data-preparation stage is not installed."""


def require(module: str, pip_name: str, stage: str) -> ModuleType:
    """Import `module` or raise MissingDependencyError saying which pip package the `stage` needs."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"the {stage} stage needs the package `{pip_name}`: pip install {pip_name} ({exc})"
        ) from exc
