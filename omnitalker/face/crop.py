"""Square face crops in the framing the renderer is trained on (`face_model.crop_box`)."""

from __future__ import annotations

import numpy as np

from omnitalker.face.face_model import crop_box


def crop_square(frame: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """(H, W, 3) -> (side, side, 3) crop at (x0, y0); parts outside the frame are filled by edge replication."""
    h, w = frame.shape[:2]
    pad_l, pad_t = max(0, -x0), max(0, -y0)
    pad_r, pad_b = max(0, x0 + side - w), max(0, y0 + side - h)
    region = frame[max(0, y0) : min(h, y0 + side), max(0, x0) : min(w, x0 + side)]
    if pad_l or pad_t or pad_r or pad_b:
        region = np.pad(region, ((pad_t, pad_b), (pad_l, pad_r), (0, 0)), mode="edge")
    return region


def crop_face(frame: np.ndarray, centre_ref: np.ndarray | tuple[float, float], scale_ref: float) -> np.ndarray:
    """The face crop of one frame from a clip's fitted head centre (pixels) and scale (pixels per face unit)."""
    x0, y0, side = crop_box((float(centre_ref[0]), float(centre_ref[1])), float(scale_ref))
    return crop_square(frame, round(x0), round(y0), max(2, round(side)))
