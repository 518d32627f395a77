"""Visible disclosure label ("AI-generated") drawn onto every generated frame (paper Appendix D).

The label is rendered once per frame size with Pillow's built-in font (`ImageFont.load_default`, shipped inside
Pillow: no font file, no download), white text on a translucent dark box, and alpha-blended into a corner of all
frames at once. Its text height is `scale` x the frame height (>= 9 px).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache

import numpy as np

from omnitalker.inference.errors import MediaArrayError

DEFAULT_LABEL = "AI-generated"
CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
OFF = (None, "off", "none")


@lru_cache(maxsize=16)
def render_label(text: str, text_height: int) -> np.ndarray:
    """(h, w, 4) uint8 RGBA image of `text` (white) on a rounded translucent black box."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=text_height)  # FreeType build: scalable built-in font
        scale = 1
    except (TypeError, ImportError, OSError):
        font = ImageFont.load_default()  # bitmap fallback (~11 px), scaled up below
        scale = max(1, round(text_height / 11))
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    pad = max(2, (bottom - top) // 3)
    width, height = right - left + 2 * pad, bottom - top + 2 * pad
    box = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(box)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=pad, fill=(0, 0, 0, 140))
    draw.text((pad - left, pad - top), text, font=font, fill=(255, 255, 255, 235))
    if scale > 1:
        box = box.resize((width * scale, height * scale), Image.NEAREST)
    return np.asarray(box)


def label_box(frame_height: int, frame_width: int, text: str, position: str, scale: float, margin: float):
    """(label RGBA (h, w, 4), top, left) for a frame size; the label is shrunk to fit narrow frames."""
    if position not in CORNERS:
        raise ValueError(f"label position must be one of {CORNERS} or 'off', got {position!r}")
    text_height = max(9, round(scale * frame_height))
    label = render_label(text, text_height)
    while label.shape[1] > frame_width * 0.9 and text_height > 9:
        text_height -= 1
        label = render_label(text, text_height)
    h, w = label.shape[:2]
    if h > frame_height or w > frame_width:
        raise MediaArrayError(f"frames of {frame_width}x{frame_height} are too small for the label {text!r}")
    gap = round(margin * min(frame_height, frame_width))
    top = gap if position.startswith("top") else frame_height - h - gap
    left = gap if position.endswith("left") else frame_width - w - gap
    return label, max(0, top), max(0, left)


def add_visible_label(
    frames: np.ndarray,
    text: str = DEFAULT_LABEL,
    *,
    position: str | None = "bottom-right",
    scale: float = 0.045,
    margin: float = 0.02,
) -> np.ndarray:
    """(T, H, W, 3) or (H, W, 3) uint8 RGB -> a labelled copy (unchanged copy for position 'off')."""
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or frames.shape[-1] != 3:
        raise MediaArrayError(f"frames must be (T, H, W, 3) or (H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    out = frames.copy()
    if position in OFF:
        return out
    label, top, left = label_box(frames.shape[-3], frames.shape[-2], text, position, scale, margin)
    h, w = label.shape[:2]
    alpha = label[..., 3:].astype(np.float32) / 255.0  # (h, w, 1)
    region = out[..., top : top + h, left : left + w, :].astype(np.float32)
    blended = region * (1.0 - alpha) + label[..., :3].astype(np.float32) * alpha
    out[..., top : top + h, left : left + w, :] = np.rint(blended).astype(np.uint8)
    return out


def iter_add_visible_label(frames: Iterable[np.ndarray], text: str = DEFAULT_LABEL, **kwargs) -> Iterator[np.ndarray]:
    """Streaming version of `add_visible_label` for an iterator of (H, W, 3) frames."""
    for frame in frames:
        yield add_visible_label(np.asarray(frame), text, **kwargs)
