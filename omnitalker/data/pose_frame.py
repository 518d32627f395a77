"""Re-expressing a clip's head translation/scale in another clip's reference frame (weak perspective, SPEC §2).

The fitting (``omnitalker.face.fitting``) measures each clip against its own references: ``centre_ref`` (pixels,
the median projected head centre) and ``scale_ref`` (pixels per face unit, the median scale), so that
``tx, ty = (t_px - centre_ref) / scale_ref`` and ``tz = log(s_px / scale_ref)``. Two clips of one source video share
pixels but not references; data preparation stores both numbers in each clip's ``extra``. Moving a clip into another
clip's frame is the exact change of reference: the head is where it was in the video, measured from the other
clip's centre and scale. Rotations, blendshapes and gaze do not depend on the references.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

TRANSLATION = slice(54, 56)  # tx, ty in the code layout (omnitalker.constants.POSE_SLICE = 51:57)
DEPTH = 56  # tz = log relative scale


class PoseFrameError(ValueError):
    """A clip's stored pose references are malformed."""


@dataclass(frozen=True)
class PoseFrame:
    """A clip's weak-perspective references: ``centre`` (x, y) in pixels and ``scale`` in pixels per face unit."""

    centre: tuple[float, float]
    scale: float

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any], clip_id: str = "?") -> PoseFrame | None:
        """The frame stored by data preparation in a clip's ``extra`` (``centre_ref``, ``scale_ref``), or None."""
        if "centre_ref" not in extra and "scale_ref" not in extra:
            return None
        try:
            centre = tuple(float(v) for v in extra["centre_ref"])
            scale = float(extra["scale_ref"])
        except (KeyError, TypeError, ValueError) as e:
            raise PoseFrameError(f"clip {clip_id}: extra needs both centre_ref [x, y] and scale_ref ({e})") from e
        if len(centre) != 2 or not all(math.isfinite(v) for v in centre) or not (math.isfinite(scale) and scale > 0):
            raise PoseFrameError(f"clip {clip_id}: bad pose references centre_ref={extra['centre_ref']!r}, "
                                 f"scale_ref={extra['scale_ref']!r}")
        return cls((centre[0], centre[1]), scale)


def reexpress_pose(codes: np.ndarray, src: PoseFrame, dst: PoseFrame) -> np.ndarray:
    """(T, 61) codes measured in frame ``src`` -> the same motion measured in frame ``dst`` (a new array)."""
    out = np.array(codes, dtype=np.float32, copy=True)  # (T, 61)
    centre_src = np.asarray(src.centre, dtype=np.float64)
    centre_dst = np.asarray(dst.centre, dtype=np.float64)
    pixels = src.scale * codes[:, TRANSLATION].astype(np.float64) + centre_src  # (T, 2) head centre in pixels
    out[:, TRANSLATION] = (pixels - centre_dst) / dst.scale
    out[:, DEPTH] = codes[:, DEPTH].astype(np.float64) + math.log(src.scale / dst.scale)
    return out
