"""Emotion presets and expression offsets as blendshape combinations (ARKit names, `omnitalker.constants`).

A preset is an offset added to the generated blendshapes (scaled by ``emotion_intensity``), so speech articulation
keeps going underneath it. The combinations follow the usual FACS readings of the basic expressions: happy = lip
corner puller + cheek raiser (AU12 + AU6), sad = inner brow raiser + lip corner depressor (AU1 + AU15), angry =
brow lowerer + lid tightener + lip presser (AU4 + AU7 + AU24), surprised = brow raisers + upper lid raiser
(AU1 + AU2 + AU5).
"""

from __future__ import annotations

import numpy as np

from omnitalker.constants import BLENDSHAPE_NAMES

EMOTIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"mouthSmileLeft": 0.6, "mouthSmileRight": 0.6, "cheekSquintLeft": 0.4, "cheekSquintRight": 0.4,
              "eyeSquintLeft": 0.2, "eyeSquintRight": 0.2, "mouthDimpleLeft": 0.2, "mouthDimpleRight": 0.2},
    "sad": {"browInnerUp": 0.6, "mouthFrownLeft": 0.5, "mouthFrownRight": 0.5, "mouthShrugLower": 0.3,
            "eyeSquintLeft": 0.1, "eyeSquintRight": 0.1, "browDownLeft": 0.1, "browDownRight": 0.1},
    "angry": {"browDownLeft": 0.7, "browDownRight": 0.7, "eyeSquintLeft": 0.35, "eyeSquintRight": 0.35,
              "noseSneerLeft": 0.4, "noseSneerRight": 0.4, "mouthPressLeft": 0.3, "mouthPressRight": 0.3},
    "surprised": {"browInnerUp": 0.7, "browOuterUpLeft": 0.7, "browOuterUpRight": 0.7, "eyeWideLeft": 0.6,
                  "eyeWideRight": 0.6, "jawOpen": 0.1},
}

# expression offsets: (channels raised by a positive value, channels raised by a negative value)
OFFSETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "smile": (("mouthSmileLeft", "mouthSmileRight"), ("mouthFrownLeft", "mouthFrownRight")),
    "brow": (("browInnerUp", "browOuterUpLeft", "browOuterUpRight"), ("browDownLeft", "browDownRight")),
    "eye_open": (("eyeWideLeft", "eyeWideRight"), ("eyeSquintLeft", "eyeSquintRight")),
}

# mouth channels that carry articulation (scaled by ``lip``); smile/frown are expression, not articulation
LIP_CHANNELS: tuple[str, ...] = (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthPressLeft", "mouthPressRight", "mouthStretchLeft", "mouthStretchRight",
)


def channel_index(names: tuple[str, ...] | list[str]) -> list[int]:
    return [BLENDSHAPE_NAMES.index(n) for n in names]


def expression_offset(emotion: str | None, intensity: float, smile: float, brow: float,
                      eye_open: float) -> np.ndarray:
    """(51,) blendshape offset of an emotion preset (times ``intensity``) plus the three expression offsets."""
    offset = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
    for name, value in EMOTIONS.get(emotion or "neutral", {}).items():
        offset[BLENDSHAPE_NAMES.index(name)] += intensity * value
    for control, value in (("smile", smile), ("brow", brow), ("eye_open", eye_open)):
        positive, negative = OFFSETS[control]
        offset[channel_index(positive if value > 0 else negative)] += abs(value)
    return offset
