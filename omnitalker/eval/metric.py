"""The contract between the evaluation runner and the metric families.

A test-set item is an :class:`EvalItem`: the generated output, the reference it was made from and (when the test set
has one) the ground truth, each a :class:`Clip`. A :class:`Metric` measures one item at a time into a
:class:`Measurement` (scalars plus arrays such as embeddings or motion features, which the runner caches per item as
npz without pickles) and then aggregates all measurements of a test set (mean of the scalars by default; set-level
metrics such as FVD or E-FID override :meth:`Metric.aggregate` and use the cached arrays).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Clip:
    """One side of a comparison. Any part may be missing (audio-only test sets have no frames)."""

    audio: np.ndarray | None = None  # (n,) float32 mono in [-1, 1]
    sample_rate: int = 0
    frames: np.ndarray | None = None  # (T, H, W, 3) uint8 RGB
    fps: float = 0.0
    codes: np.ndarray | None = None  # (T', 61) visual codes (face pipeline fit of the frames, or the DiT's own)
    codes_fps: float = 0.0
    text: str = ""  # what is spoken (the transcript)


@dataclass
class EvalItem:
    id: str
    language: str  # "en", "zh", ...
    generated: Clip
    reference: Clip
    target: Clip | None = None  # ground truth for the same text, when the test set has it


@dataclass
class Measurement:
    scalars: dict[str, float] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # numeric arrays only (cached with allow_pickle=False)


class MetricError(Exception):
    """A metric cannot run: a model file is missing or an input lacks what the metric needs (named in the message)."""


class Metric(ABC):
    """Base class: ``name`` names the family; ``info`` says which model produced the numbers (e.g. which embedder)."""

    name: str = "metric"

    @property
    def info(self) -> dict[str, str]:
        return {}

    @abstractmethod
    def measure(self, item: EvalItem) -> Measurement:
        """Numbers (and cached arrays) for one item; raise :class:`MetricError` when the item lacks an input."""

    def aggregate(self, measurements: list[Measurement]) -> dict[str, float]:
        """Mean of every scalar over the items that have it (NaN = not measurable for that item, skipped)."""
        sums: dict[str, list[float]] = {}
        for m in measurements:
            for key, value in m.scalars.items():
                if value is not None and not math.isnan(value):
                    sums.setdefault(key, []).append(float(value))
        return {key: float(np.mean(values)) for key, values in sums.items()}


_REGISTRY: dict[str, Callable[..., Metric]] = {}


def register(name: str) -> Callable[[Callable[..., Metric]], Callable[..., Metric]]:
    """Class decorator: ``@register("wer")`` makes ``build_metric("wer", **options)`` construct it."""

    def wrap(factory: Callable[..., Metric]) -> Callable[..., Metric]:
        if name in _REGISTRY:
            raise ValueError(f"metric {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory

    return wrap


def build_metric(name: str, **options) -> Metric:
    if name not in _REGISTRY:
        raise MetricError(f"unknown metric {name!r}; known: {', '.join(sorted(_REGISTRY)) or 'none'}")
    return _REGISTRY[name](**options)


def registered() -> list[str]:
    return sorted(_REGISTRY)
