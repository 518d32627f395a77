"""Speaking-style metrics: E-FID, P-FID (Fréchet distance of motion coefficients) and motion-style statistics.

Following EMO / Hallo and the paper's §4 ("the Fréchet distance between motion coefficients extracted from the
reference and generated videos"): every frame's visual code is one feature vector; all frames of all items are
pooled per side (set level) and a Gaussian fitted to each side. E-FID uses the expression part, blendshapes + eye
movement (``EXPRESSION_SLICE`` + ``EYE_SLICE``, 55 dims); P-FID the head pose. The paper's head-pose symbol is the
whole similarity transform of Eq. 1 (rotation and translation), which is ``POSE_SLICE`` (6 dims) in our code, so the
default is ``pose="full"``; ``pose="rotation"`` keeps only yaw/pitch/roll (translation depends on framing).

Which codes stand for the generated side is an option, reported in ``info``:
- ``codes="video"`` (default): our face pipeline fitted to the generated *frames* (what the viewer sees);
- ``codes="dit"``: the codes the model produced (``Clip.codes``), no renderer in the loop.
The reference / target side uses ``Clip.codes`` when given (the same face pipeline, precomputed) and otherwise fits
its frames.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections import OrderedDict

import numpy as np

from omnitalker.constants import EXPRESSION_SLICE, EYE_SLICE, POSE_SLICE
from omnitalker.eval.frechet import frechet_distance_of
from omnitalker.eval.metric import Clip, EvalItem, Measurement, Metric, MetricError, register
from omnitalker.eval.motion import STAT_KEYS, motion_stats

CODE_SOURCES = ("video", "dit")
SIDES = ("reference", "target")
_FIT_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()  # frames digest -> codes; E-FID, P-FID, motion share fits
_FIT_CACHE_SIZE = 16


def _digest(frames: np.ndarray, fps: float) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((frames.shape, str(frames.dtype), float(fps))).encode())
    h.update(np.ascontiguousarray(frames).data)
    return h.hexdigest()


def fit_frames(frames: np.ndarray, fps: float, name: str = "clip") -> np.ndarray:
    """Visual codes (T, 61) of in-memory RGB frames (T, H, W, 3) through the face pipeline (landmarks + Eq. 1 fit).

    Memoised on the frames' content, so the style metrics of one item fit each clip once."""
    from omnitalker.face.errors import FaceError
    from omnitalker.face.extract import FaceCheckConfig, check_track
    from omnitalker.face.face_model import FaceModel
    from omnitalker.face.fitting import fit_track
    from omnitalker.face.landmarks import LandmarkerConfig, track_frames

    key = _digest(frames, fps)
    if key in _FIT_CACHE:
        _FIT_CACHE.move_to_end(key)
        return _FIT_CACHE[key]
    t, h, w = frames.shape[:3]
    try:
        track = track_frames(enumerate(frames), fps, w, h, LandmarkerConfig(count_faces_every=0), total=t)
        check_track(track, FaceCheckConfig(), name=name)
        codes = fit_track(track, FaceModel.default()).codes.astype(np.float32)  # (T, 61)
    except FaceError as exc:
        raise MetricError(f"face pipeline on the {name}: {exc}") from exc
    _FIT_CACHE[key] = codes
    if len(_FIT_CACHE) > _FIT_CACHE_SIZE:
        _FIT_CACHE.popitem(last=False)
    return codes


def clip_codes(clip: Clip | None, role: str, source: str) -> tuple[np.ndarray, float]:
    """(codes (T, 61), fps) of one side. ``role`` names it in errors; ``source`` = video | dit (generated side) or
    "given" (reference / target: stored codes if any, else a fit of the frames)."""
    if clip is None:
        raise MetricError(f"the item has no {role} clip")
    use_stored = source == "dit" or (source == "given" and clip.codes is not None)
    if use_stored:
        if clip.codes is None:
            raise MetricError(f"the {role} clip has no visual codes (codes=dit needs the model's codes); "
                              "use codes=video to fit the rendered frames")
        codes, fps = np.asarray(clip.codes, np.float32), float(clip.codes_fps or clip.fps)
    else:
        if clip.frames is None:
            raise MetricError(f"the {role} clip has no frames to fit (audio-only or codes-only output); "
                              "use codes=dit to score the model's codes")
        codes, fps = fit_frames(clip.frames, clip.fps, name=f"{role} video"), float(clip.fps)
    if codes.ndim != 2 or codes.shape[1] != 61 or codes.shape[0] < 2:
        raise MetricError(f"the {role} codes must be (T >= 2, 61), got {codes.shape}")
    if fps <= 0:
        raise MetricError(f"the {role} codes have no frame rate")
    return codes, fps


def _check_options(codes: str, against: str) -> None:
    if codes not in CODE_SOURCES:
        raise MetricError(f"codes must be one of {CODE_SOURCES}, got {codes!r}")
    if against not in SIDES:
        raise MetricError(f"against must be one of {SIDES}, got {against!r}")


class CodeFrechet(Metric):
    """Set-level Fréchet distance of per-frame code features, generated vs reference (or target)."""

    name = "code_fid"
    part = "expression"

    def __init__(self, codes: str = "video", against: str = "reference") -> None:
        _check_options(codes, against)
        self.codes, self.against = codes, against

    @abstractmethod
    def features(self, codes: np.ndarray) -> np.ndarray:
        """(T, 61) codes -> (T, D) features."""

    @property
    def info(self) -> dict[str, str]:
        return {"codes": self.codes, "against": self.against, "features": self.part,
                "extractor": "omnitalker face pipeline (MediaPipe landmarks + Eq. 1 fit)"}

    def measure(self, item: EvalItem) -> Measurement:
        gen, _ = clip_codes(item.generated, "generated", self.codes)
        other = item.reference if self.against == "reference" else item.target
        ref, _ = clip_codes(other, self.against, "given")
        return Measurement(arrays={"generated": self.features(gen), self.against: self.features(ref)})

    def aggregate(self, measurements: list[Measurement]) -> dict[str, float]:
        usable = [m for m in measurements if "generated" in m.arrays and self.against in m.arrays]
        if not usable:
            return {}
        gen = np.concatenate([m.arrays["generated"] for m in usable])  # (N, D)
        ref = np.concatenate([m.arrays[self.against] for m in usable])  # (M, D)
        return {self.name: frechet_distance_of(gen, ref), f"{self.name}_frames": float(gen.shape[0])}


@register("efid")
class ExpressionFID(CodeFrechet):
    """E-FID: blendshapes + eye movement (55 dims per frame)."""

    name = "efid"
    part = "blendshapes+eyes"

    def features(self, codes: np.ndarray) -> np.ndarray:
        return np.concatenate([codes[:, EXPRESSION_SLICE], codes[:, EYE_SLICE]], axis=1)  # (T, 55)


@register("pfid")
class PoseFID(CodeFrechet):
    """P-FID: head pose, rotation (radians) + translation (face units) by default, or rotation only."""

    name = "pfid"

    def __init__(self, codes: str = "video", against: str = "reference", pose: str = "full") -> None:
        super().__init__(codes, against)
        if pose not in ("full", "rotation"):
            raise MetricError(f"pose must be 'full' (rotation + translation) or 'rotation', got {pose!r}")
        self.pose = pose
        self.part = "pose rotation+translation" if pose == "full" else "pose rotation"

    def features(self, codes: np.ndarray) -> np.ndarray:
        pose = codes[:, POSE_SLICE]  # (T, 6)
        return pose if self.pose == "full" else pose[:, :3]


@register("motion")
class MotionStyle(Metric):
    """Motion-style statistics of the generated codes and of the reference (head-pose amplitude, speed, dominant
    frequency, blink rate, gaze bias), plus the pose / gaze tracks the figures are drawn from."""

    name = "motion"

    def __init__(self, codes: str = "video", blink_on: float = 0.5, blink_off: float = 0.3) -> None:
        _check_options(codes, "reference")
        self.codes, self.blink_on, self.blink_off = codes, blink_on, blink_off

    @property
    def info(self) -> dict[str, str]:
        return {"codes": self.codes, "blink_thresholds": f"{self.blink_on}/{self.blink_off}"}

    def measure(self, item: EvalItem) -> Measurement:
        sides = {"gen": clip_codes(item.generated, "generated", self.codes),
                 "ref": clip_codes(item.reference, "reference", "given")}
        out = Measurement()
        for prefix, (codes, fps) in sides.items():
            for key, value in motion_stats(codes, fps, self.blink_on, self.blink_off).items():
                out.scalars[f"{prefix}_{key}"] = value
            side = "generated" if prefix == "gen" else "reference"
            out.arrays[f"{side}_pose"] = codes[:, POSE_SLICE]  # (T, 6)
            out.arrays[f"{side}_gaze"] = codes[:, EYE_SLICE]  # (T, 4)
            out.arrays[f"{side}_fps"] = np.array([fps], np.float64)
        for key in STAT_KEYS:
            out.scalars[f"abs_diff_{key}"] = abs(out.scalars[f"gen_{key}"] - out.scalars[f"ref_{key}"])
        return out
