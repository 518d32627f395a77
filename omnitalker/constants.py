"""Representation constants fixed by SPEC §2; every module imports these instead of repeating numbers."""

from __future__ import annotations

# --- audio / log-mel (identical to what vocos-mel-24khz expects) ---
SAMPLE_RATE: int = 24_000
N_FFT: int = 1024
WIN_LENGTH: int = 1024
HOP_LENGTH: int = 256
N_MELS: int = 100
MEL_FPS: float = SAMPLE_RATE / HOP_LENGTH  # 93.75 frames per second
LOG_MEL_FLOOR: float = 1e-5

# --- visual code (61 dims per frame) ---
# The 51 ARKit blendshapes in MediaPipe FaceLandmarker order, without "_neutral".
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft",
    "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)
assert len(BLENDSHAPE_NAMES) == 51
POSE_NAMES: tuple[str, ...] = ("yaw", "pitch", "roll", "tx", "ty", "tz")
EYE_NAMES: tuple[str, ...] = ("gaze_yaw_left", "gaze_pitch_left", "gaze_yaw_right", "gaze_pitch_right")
CODE_NAMES: tuple[str, ...] = BLENDSHAPE_NAMES + POSE_NAMES + EYE_NAMES

CODE_DIM: int = 61
EXPRESSION_SLICE = slice(0, 51)  # blendshape coefficients in [0, 1]
POSE_SLICE = slice(51, 57)  # rotation (3, radians: yaw/pitch/roll) + translation (3, / face scale)
EYE_SLICE = slice(57, 61)  # gaze yaw/pitch per eye (radians)
assert len(CODE_NAMES) == CODE_DIM

# --- video ---
DEFAULT_OUTPUT_FPS: float = 25.0
RENDER_SIZE: int = 512
