"""Choosing the identity frame the renderer animates: frontal and neutral (the paper used a random frame)."""

from __future__ import annotations

import numpy as np

from omnitalker.constants import BLENDSHAPE_NAMES, EXPRESSION_SLICE, POSE_SLICE

# Expression channels that make a frame a poor identity source (open mouth, closed eyes, smile).
_EXPRESSIVE = [BLENDSHAPE_NAMES.index(n) for n in ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft",
                                                  "mouthSmileRight", "mouthFunnel", "mouthPucker")]


def identity_frame_index(codes: np.ndarray) -> int:
    """Index of the frame with the smallest head rotation plus expression activity, from (T, 61) codes."""
    if codes.ndim != 2 or codes.shape[0] == 0:
        raise ValueError(f"codes must be (T, 61) with T >= 1, got {codes.shape}")
    rotation = np.abs(codes[:, POSE_SLICE][:, :3]).sum(1)  # radians
    expression = codes[:, EXPRESSION_SLICE][:, _EXPRESSIVE].sum(1)  # blendshape units
    return int(np.argmin(rotation + 0.5 * expression))
