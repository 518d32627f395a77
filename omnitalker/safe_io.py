"""Loading files a user is handed without letting them run code, and saving only what such loading can read back.

``torch.load(weights_only=True)`` unpickles tensors and plain containers only; :func:`describe_load_failure` turns
its refusals and read errors into one-line messages, :func:`plain_data` makes a payload loadable that way.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

_LEAF_TYPES = (torch.Tensor, str, int, float, bool, bytes, type(None), torch.dtype, torch.device, torch.Size)


def torch_load_weights_only(path: str | os.PathLike) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)``, without torch's warning about a bare pickle's
    protocol (such a file is refused right after; the refusal is what the user needs to see)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol")
        return torch.load(path, map_location="cpu", weights_only=True)


def _starts_with(path: str | os.PathLike, prefix: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(prefix)) == prefix
    except OSError:
        return False


def _is_pickle(path: str | os.PathLike) -> bool:
    """Whether the file starts like a pickle of protocol 2-5 (a torch checkpoint is a zip; anything else is garbage)."""
    return any(_starts_with(path, bytes([0x80, protocol])) for protocol in range(2, 6))


def describe_load_failure(path: str | os.PathLike, exc: BaseException, unsafe_hint: str | None = None
                          ) -> tuple[bool, str]:
    """(whether the file was refused as unsafe, a one-line message) for an exception of a ``weights_only`` load."""
    text = str(exc)
    if "Weights only load failed" in text:
        found = re.search(r"GLOBAL ([\w.]+)", text)
        what = f"Python objects ({found.group(1)})" if found else (
            "pickle instructions beyond tensors and plain data" if _is_pickle(path) else None)
        if what is not None:
            hint = f"; {unsafe_hint}" if unsafe_hint else ""
            return True, (f"refusing to load {path}: it holds {what} that could run code when unpickled; only "
                          f"tensors and plain data are loaded{hint}")
        return False, f"cannot read {path}: not a PyTorch checkpoint (neither a torch zip archive nor a pickle)"
    first = (text.strip().splitlines() or [""])[0]
    kind = "truncated or corrupt torch archive: " if _starts_with(path, b"PK\x03\x04") else ""
    return False, f"cannot read {path}: {kind}{type(exc).__name__}: {first}"


def plain_data(obj: Any, where: str = "checkpoint") -> Any:
    """``obj`` rebuilt from tensors and plain containers only, so that ``weights_only=True`` can load it.

    OmegaConf containers become dicts/lists, dict subclasses (Lightning's AttributeDict) dicts, paths strings and
    numpy scalars Python numbers; anything else raises a ``TypeError`` naming where it was found.
    """
    if isinstance(obj, _LEAF_TYPES):
        return obj
    if isinstance(obj, OrderedDict):
        return OrderedDict((k, plain_data(v, f"{where}.{k}")) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: plain_data(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [plain_data(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    if isinstance(obj, (set, frozenset)):
        return type(obj)(plain_data(v, where) for v in obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    module = type(obj).__module__ or ""
    if module.startswith("omegaconf"):
        from omegaconf import OmegaConf

        return plain_data(OmegaConf.to_container(obj, resolve=True), where)
    raise TypeError(
        f"cannot save {type(obj).__module__}.{type(obj).__qualname__} at {where}: checkpoints hold only tensors and "
        "plain data (dict, list, str, numbers), so that loading them can never run code"
    )


