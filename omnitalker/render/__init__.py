"""Warp-based GAN renderer (SPEC §6): visual codes + one source face crop -> 512x512 talking-head frames."""

from omnitalker.render.checkpoint import load_renderer, save_renderer
from omnitalker.render.config import (
    AppearanceConfig,
    GeneratorConfig,
    MotionConfig,
    RendererConfig,
    paper_config,
    small_config,
)
from omnitalker.render.errors import (
    CodeDimensionError,
    NoFaceError,
    RenderDataError,
    RenderError,
    RenderInputError,
    WeightsNotFoundError,
)
from omnitalker.render.keypoints import CodeKeypoints, check_codes
from omnitalker.render.paste_back import feather_mask, paste_back
from omnitalker.render.renderer import Renderer, RenderOutput
from omnitalker.render.source import check_source_image, prepare_source_image

__all__ = [
    "AppearanceConfig",
    "CodeDimensionError",
    "CodeKeypoints",
    "GeneratorConfig",
    "MotionConfig",
    "NoFaceError",
    "RenderDataError",
    "RenderError",
    "RenderInputError",
    "RenderOutput",
    "Renderer",
    "RendererConfig",
    "WeightsNotFoundError",
    "check_codes",
    "check_source_image",
    "feather_mask",
    "load_renderer",
    "paper_config",
    "paste_back",
    "prepare_source_image",
    "save_renderer",
    "small_config",
]
