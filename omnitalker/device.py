"""Device selection shared by inference and the benchmarks."""

from __future__ import annotations

import contextlib

import torch


def resolve_device(name: str) -> torch.device:
    """"auto" = the GPU when one is available, else the CPU; any other name is taken as given ("cpu", "cuda:1")."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a precision setting: "auto" = bf16 on CUDA, fp32 (None: no autocast) elsewhere;
    "fp32" = None; "bf16" = torch.bfloat16 on any device (CPU bf16 autocast exists but is rarely faster)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")  # torch.compile modes; reduce-overhead = CUDA graphs


def compile_module(module, mode: str = "default", dynamic: bool | None = None):
    """``torch.compile(module)`` in one of :data:`COMPILE_MODES` ("reduce-overhead" replays CUDA graphs: launch
    overhead gone, one graph per input shape, CUDA only), with a clear error for an unknown mode."""
    return torch.compile(module, mode=check_compile_mode(mode), dynamic=dynamic)


def check_compile_mode(mode: str) -> str:
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode must be one of {COMPILE_MODES}, got {mode!r}")
    return mode


def autocast(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype`` on ``device``, or a no-op context for fp32 (``dtype=None``)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
