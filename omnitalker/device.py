"""Device selection shared by inference and the benchmarks."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """"auto" = the GPU when one is available, else the CPU; any other name is taken as given ("cpu", "cuda:1")."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
