"""Renderer sizes as typed dataclasses; ``small`` for CPU tests/smoke runs, ``paper`` approximating LivePortrait."""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any

from omnitalker.render.errors import RenderError


@dataclass
class AppearanceConfig:
    """Source image -> 3-D feature volume (LivePortrait F: 3x256x256 -> 32x16x64x64)."""

    block_expansion: int = 64
    num_down_blocks: int = 2
    max_features: int = 512
    reshape_channel: int = 32  # C of the volume
    reshape_depth: int = 16  # D of the volume
    num_resblocks: int = 6


@dataclass
class MotionConfig:
    """Dense motion (warp field + occlusion) from keypoint heatmaps and sparse motions (LivePortrait W)."""

    block_expansion: int = 32
    max_features: int = 1024
    num_blocks: int = 5
    compress: int = 4  # volume channels fed to the hourglass per sparse motion
    kp_variance: float = 0.01  # Gaussian heatmap variance in normalised [-1, 1] units
    mask_kernel_size: int = 7  # 3-D conv predicting the K+1 motion weights (LivePortrait: 7)
    occlusion: bool = True
    # motion keypoints: this many of the face model's keypoints, chosen by farthest-point sampling in (position,
    # expression-motion) space (0 = all of them; LivePortrait drives its warp with 21)
    num_keypoints: int = 0
    # the dense-motion estimator runs on the volume pooled by this factor over (H, W); its displacement field and
    # occlusion are upsampled back (1 = full resolution)
    downsample: int = 1


@dataclass
class GeneratorConfig:
    """SPADE decoder from warped 2-D features to the output image (LivePortrait G)."""

    features: int = 512  # width of the middle SPADE blocks
    num_resblocks: int = 6
    min_features: int = 64  # narrowest up-sampling stage
    spade_hidden: int = 128  # width of SPADE's shared conv (SPADE/LivePortrait: 128)
    spectral_norm: bool = True


@dataclass
class RendererConfig:
    input_size: int = 256
    output_size: int = 512
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    face_model_path: str | None = None  # None -> the face model shipped with omnitalker.face

    @property
    def feature_size(self) -> int:
        return self.input_size // 2**self.appearance.num_down_blocks

    @property
    def warped_features(self) -> int:
        """Channels of the 2-D features after warping (LivePortrait: 256)."""
        return min(self.appearance.max_features, self.appearance.block_expansion * 2**self.appearance.num_down_blocks)

    @property
    def num_upsamples(self) -> int:
        return round(math.log2(self.output_size / self.feature_size))

    def validate(self) -> RendererConfig:
        a = self.appearance
        if self.input_size % 2**a.num_down_blocks:
            raise RenderError(f"input_size {self.input_size} is not divisible by 2^{a.num_down_blocks}")
        ratio = self.output_size / self.feature_size
        if ratio < 2 or 2**self.num_upsamples != ratio:
            raise RenderError(
                f"output_size {self.output_size} must be the feature size {self.feature_size} times a power of two >= 2"
            )
        m = self.motion
        if not isinstance(m.downsample, int) or m.downsample < 1 or self.feature_size % m.downsample:
            raise RenderError(f"motion.downsample must be a positive integer dividing the feature size "
                              f"{self.feature_size}, got {m.downsample!r}")
        motion_size = self.feature_size // m.downsample
        if motion_size % 2**m.num_blocks:
            raise RenderError(
                f"motion resolution {motion_size} (feature size {self.feature_size} / downsample {m.downsample}) is "
                f"not divisible by 2^{m.num_blocks} (motion hourglass)"
            )
        if not isinstance(m.num_keypoints, int) or m.num_keypoints < 0:
            raise RenderError(f"motion.num_keypoints must be >= 0 (0 = all), got {m.num_keypoints!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> RendererConfig:
        return _build(cls, dict(values or {})).validate()


def _build(cls, values: dict[str, Any]):
    known = {f.name: f for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise RenderError(f"unknown {cls.__name__} keys {sorted(unknown)}")
    kwargs = {}
    for name, value in values.items():
        sub = known[name].default_factory if known[name].default_factory is not MISSING else None
        if isinstance(value, dict) and sub is not None and is_dataclass(sub):
            kwargs[name] = _build(sub, value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def small_config(**overrides: Any) -> RendererConfig:
    """64x64 input -> 16x4x16x16 volume -> 128x128 output: CPU tests and the smoke experiment."""
    base = {
        "input_size": 64,
        "output_size": 128,
        "appearance": {
            "block_expansion": 16,
            "max_features": 64,
            "reshape_channel": 16,
            "reshape_depth": 4,
            "num_resblocks": 1,
        },
        "motion": {"block_expansion": 8, "max_features": 64, "num_blocks": 2, "compress": 2, "mask_kernel_size": 3,
                   "num_keypoints": 21, "downsample": 2},
        "generator": {
            "features": 32,
            "num_resblocks": 1,
            "min_features": 16,
            "spectral_norm": False,
            "spade_hidden": 32,
        },
    }
    return RendererConfig.from_dict(_merge(base, overrides))


PAPER_BUDGET = {
    "motion": {"num_keypoints": 21, "downsample": 2, "mask_kernel_size": 3},
    "generator": {"features": 256},
}


def paper_config(**overrides: Any) -> RendererConfig:
    """LivePortrait-like sizes: 256x256 input -> 32x16x64x64 volume -> 512x512 output, with the lean motion and
    generator of ``PAPER_BUDGET`` (0.52 TFLOP per frame; ``paper_config(**PRE_BUDGET)`` restores the 2.2 TFLOP
    pre-budget sizes; missing motion keys default to them, so renderer files written before the budget still load)."""
    return RendererConfig.from_dict(_merge(PAPER_BUDGET, overrides))


PRE_BUDGET = {"motion": {"num_keypoints": 0, "downsample": 1, "mask_kernel_size": 7}, "generator": {"features": 512}}
# the small config before the budget: every face-model keypoint at full resolution, a 64-wide generator (its mask
# conv was already 3^3); ``small_config(**SMALL_PRE_BUDGET)``
SMALL_PRE_BUDGET = {"motion": {"num_keypoints": 0, "downsample": 1}, "generator": {"features": 64}}


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out
