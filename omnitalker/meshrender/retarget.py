"""Drive one face with another face's codes: motion relative to an anchor frame of the driver, added to the
identity image's own code (what LivePortrait calls relative motion), so the portrait keeps its own resting pose and
expression and takes the driver's changes."""

from __future__ import annotations

import numpy as np

from omnitalker.constants import CODE_DIM, EXPRESSION_SLICE


def retarget_codes(driving: np.ndarray, source_code: np.ndarray, anchor: int = 0,
                   expression: str = "relative", anchor_code: np.ndarray | None = None) -> np.ndarray:
    """``driving`` (T, 61), ``source_code`` (61,) -> (T, 61): pose and gaze always relative to ``driving[anchor]``
    (or to ``anchor_code`` (61,) when given: e.g. the code of the identity frame generated codes continue from);
    blendshapes relative too (``expression="relative"``) or taken as they are (``"absolute"``), clipped to [0, 1]."""
    driving = np.asarray(driving, dtype=np.float32)
    source_code = np.asarray(source_code, dtype=np.float32)
    if driving.ndim != 2 or driving.shape[1] != CODE_DIM or source_code.shape != (CODE_DIM,):
        raise ValueError(f"expected driving codes (T, {CODE_DIM}) and a source code ({CODE_DIM},), "
                         f"got {driving.shape} and {source_code.shape}")
    if expression not in ("relative", "absolute"):
        raise ValueError(f"expression must be 'relative' or 'absolute', got {expression!r}")
    if anchor_code is not None:
        anchor_code = np.asarray(anchor_code, dtype=np.float32)
        if anchor_code.shape != (CODE_DIM,):
            raise ValueError(f"anchor_code must be ({CODE_DIM},), got {anchor_code.shape}")
    elif not 0 <= anchor < len(driving):
        raise ValueError(f"anchor frame {anchor} outside the {len(driving)} driving frames")
    base = driving[anchor] if anchor_code is None else anchor_code  # (61,)
    out = source_code + (driving - base)  # (T, 61)
    if expression == "absolute":
        out[:, EXPRESSION_SLICE] = driving[:, EXPRESSION_SLICE]
    out[:, EXPRESSION_SLICE] = np.clip(out[:, EXPRESSION_SLICE], 0.0, 1.0)
    return out
