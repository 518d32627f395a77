"""Watermark keys: a text key -> reproducible pseudo-random generators, one per purpose (audio, video).

The default key is public (it is in this file), so anyone can run the detector on OmniTalker outputs; that is the
point of a disclosure watermark. Deployments that want a watermark only they can detect (and that is harder to
target for removal) pass their own secret key (`--watermark-key` / OMNITALKER_WATERMARK_KEY).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from omnitalker.inference.errors import WatermarkError

DEFAULT_WATERMARK_KEY = "omnitalker-ai-generated-v1"
KEY_ENV_VAR = "OMNITALKER_WATERMARK_KEY"


def resolve_key(key: str | None = None) -> str:
    """The key to use: the argument, else $OMNITALKER_WATERMARK_KEY, else the public default."""
    if key is None:
        key = os.environ.get(KEY_ENV_VAR) or DEFAULT_WATERMARK_KEY
    if not isinstance(key, str) or not key.strip():
        raise WatermarkError(f"a watermark key must be a non-empty string, got {key!r}")
    return key


def key_rng(key: str, purpose: str) -> np.random.Generator:
    """Generator seeded by sha256(purpose, key): independent streams for audio and video."""
    digest = hashlib.sha256(f"omnitalker-watermark/{purpose}/{resolve_key(key)}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))
