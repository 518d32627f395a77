"""Per-dimension standardisation of the 61-D visual codes with dataset statistics (SPEC §2).

The statistics travel with the checkpoint (``state_dict``) so inference normalises exactly like training did.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from omnitalker.constants import CODE_DIM, CODE_NAMES

DEFAULT_MIN_STD = 1e-2  # codes live on O(0.1..1) scales; a never-moving dimension must not be amplified 1000x


class CodeNormalizer(nn.Module):
    """``normalize(codes) = (codes - mean) / std`` over the last (61) dimension; ``denormalize`` inverts it."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float32)
        std = torch.as_tensor(std, dtype=torch.float32)
        if mean.shape != (CODE_DIM,) or std.shape != (CODE_DIM,):
            raise ValueError(f"mean and std must have shape ({CODE_DIM},), got {tuple(mean.shape)} and "
                             f"{tuple(std.shape)}")
        if not torch.isfinite(mean).all() or not torch.isfinite(std).all() or (std <= 0).any():
            raise ValueError("mean must be finite and std finite and strictly positive")
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    @classmethod
    def identity(cls) -> CodeNormalizer:
        return cls(torch.zeros(CODE_DIM), torch.ones(CODE_DIM))

    def _check(self, codes: torch.Tensor) -> None:
        if not isinstance(codes, torch.Tensor) or codes.shape[-1:] != (CODE_DIM,):
            shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
            raise ValueError(f"codes must be a tensor of shape (..., {CODE_DIM}), got {shape}")

    def normalize(self, codes: torch.Tensor) -> torch.Tensor:
        self._check(codes)
        return (codes - self.mean.to(codes)) / self.std.to(codes)

    def denormalize(self, codes: torch.Tensor) -> torch.Tensor:
        self._check(codes)
        return codes * self.std.to(codes) + self.mean.to(codes)

    forward = normalize

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> CodeNormalizer:
        missing = {"mean", "std"} - set(state)
        if missing:
            raise KeyError(f"CodeNormalizer state is missing {sorted(missing)}")
        return cls(state["mean"], state["std"])

    def save(self, path: str | os.PathLike) -> None:
        """Human-readable JSON (names, mean, std), written atomically."""
        path = Path(path)
        payload = {"code_names": list(CODE_NAMES), "mean": self.mean.tolist(), "std": self.std.tolist()}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(payload, indent=1))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CodeNormalizer:
        """Read a file written by :meth:`save` (plain JSON: loading it cannot run code)."""
        try:
            payload = json.loads(Path(path).read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"cannot read code statistics {path}: not a JSON file written by "
                             f"CodeNormalizer.save ({type(exc).__name__})") from exc
        if not isinstance(payload, dict) or not {"mean", "std"} <= set(payload):
            raise ValueError(f"{path}: code statistics need 'code_names', 'mean' and 'std'")
        if payload.get("code_names") != list(CODE_NAMES):
            raise ValueError(f"{path}: code layout differs from omnitalker.constants.CODE_NAMES")
        return cls(torch.tensor(payload["mean"]), torch.tensor(payload["std"]))

    @classmethod
    def fit(cls, reader: Any, min_std: float = DEFAULT_MIN_STD, max_clips: int | None = None, seed: int = 0,
            progress: bool = True) -> CodeNormalizer:
        """Mean/std of every code frame of ``reader`` (a ``CorpusReader``), streamed clip by clip.

        Statistics are merged per clip with Chan et al.'s parallel update in float64 (no catastrophic
        cancellation). ``max_clips`` fits on a seeded random subset; ``min_std`` floors the std.
        """
        count, mean, m2 = 0, np.zeros(CODE_DIM), np.zeros(CODE_DIM)
        indices = np.arange(len(reader))
        if max_clips is not None and max_clips < len(indices):
            indices = np.sort(np.random.default_rng(seed).choice(indices, size=max_clips, replace=False))
        if len(indices) == 0:
            raise ValueError("cannot fit code statistics on an empty corpus")
        iterator = indices
        if progress:
            from tqdm import tqdm

            iterator = tqdm(indices, desc="code statistics", unit="clip", mininterval=2.0)
        for i in iterator:
            codes = reader.read_arrays(int(i), ("codes",))["codes"].astype(np.float64)  # (T_v, 61)
            n = codes.shape[0]
            clip_mean = codes.mean(0)
            clip_m2 = ((codes - clip_mean) ** 2).sum(0)
            total = count + n
            delta = clip_mean - mean
            mean = mean + delta * (n / total)
            m2 = m2 + clip_m2 + delta**2 * (count * n / total)
            count = total
        std = np.maximum(np.sqrt(m2 / count), min_std)
        return cls(torch.from_numpy(mean).float(), torch.from_numpy(std).float())
