r"""The warp-based GAN renderer (SPEC §6): source face crop + visual codes -> 512x512 frames.

    source image --F--> feature volume ---------------------\
    source codes --face model--> kp_s --\                    W (dense motion + warp) --> 2-D features --G--> frame
    driving codes --face model--> kp_d --/------------------/
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from omnitalker.device import autocast
from omnitalker.face.face_model import FaceModel
from omnitalker.render.appearance import AppearanceFeatureExtractor
from omnitalker.render.config import RendererConfig
from omnitalker.render.errors import RenderInputError
from omnitalker.render.generator import SPADEGenerator
from omnitalker.render.keypoints import CodeKeypoints, check_codes, select_motion_keypoints
from omnitalker.render.source import check_source_image
from omnitalker.render.warping import WarpingNetwork


@dataclass
class RenderOutput:
    image: torch.Tensor  # (B, 3, out, out) in [0, 1]
    deformation: torch.Tensor  # (B, D, h, w, 3) source coordinates sampled for each driving voxel
    occlusion: torch.Tensor | None  # (B, 1, h, w) in [0, 1]
    kp_source: torch.Tensor  # (B, K, 3) normalised crop coordinates
    kp_driving: torch.Tensor  # (B, K, 3)


class Renderer(nn.Module):
    """Appearance extractor F, warping network W (with dense motion), SPADE generator G; motion from the face model."""

    def __init__(self, cfg: RendererConfig, face_model: FaceModel) -> None:
        super().__init__()
        self.cfg = cfg.validate()
        self.keypoints = CodeKeypoints(face_model)
        self.appearance = AppearanceFeatureExtractor(cfg.appearance)
        n_motion = cfg.motion.num_keypoints
        motion_indices = select_motion_keypoints(self.keypoints, n_motion) if n_motion else None  # (M,) or None
        self.warping = WarpingNetwork(cfg, self.keypoints.num_keypoints, motion_indices)
        self.generator = SPADEGenerator(cfg)

    @property
    def face_model(self) -> FaceModel:
        return self.keypoints.face_model

    def encode_source(self, source_image: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [0, 1] -> feature volume (B, C, D, S/4, S/4); compute once per identity."""
        check_source_image(source_image, self.cfg.input_size)
        return self.appearance(source_image)  # (B, 32, 16, 64, 64)

    def decode(self, volume: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> RenderOutput:
        """Warp a cached volume from source to driving keypoints and generate the frames."""
        features, deformation, occlusion = self.warping(volume, kp_source, kp_driving)  # (B, 256, 64, 64)
        image = self.generator(features)  # (B, 3, 512, 512)
        return RenderOutput(image, deformation, occlusion, kp_source, kp_driving)

    def forward(
        self, source_image: torch.Tensor, source_codes: torch.Tensor, driving_codes: torch.Tensor
    ) -> RenderOutput:
        """source (B, 3, S, S), source codes (B, 61), driving codes (B, 61) -> RenderOutput with (B, 3, out, out)."""
        check_codes(source_codes, "source codes")
        check_codes(driving_codes, "driving codes")
        b = source_image.shape[0]
        if source_codes.shape != (b, source_codes.shape[-1]) or driving_codes.shape != source_codes.shape:
            raise RenderInputError(
                f"expected source and driving codes of shape ({b}, 61) for {b} source images, "
                f"got {tuple(source_codes.shape)} and {tuple(driving_codes.shape)}"
            )
        volume = self.encode_source(source_image)  # (B, 32, 16, 64, 64)
        return self.decode(volume, self.keypoints(source_codes), self.keypoints(driving_codes))

    @torch.no_grad()
    def prepare_identity(
        self, source_image: torch.Tensor, source_code: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(1, 3, S, S) or (3, S, S) source image and its code (61,) -> (feature volume, source keypoints), computed
        once per identity and reused by :meth:`animate_batches` for any number of code spans."""
        check_codes(source_code, "source code")
        if source_code.dim() != 1:
            raise RenderInputError(f"animate expects a source code (61,), got {tuple(source_code.shape)}")
        if source_image.dim() == 3:
            source_image = source_image[None]  # (1, 3, S, S)
        if source_image.shape[0] != 1:
            raise RenderInputError(f"animate takes one source image, got a batch of {source_image.shape[0]}")
        device = next(self.parameters()).device
        volume = self.encode_source(source_image.to(device))  # (1, 32, 16, 64, 64)
        return volume, self.keypoints(source_code.to(device)[None])  # (1, K, 3)

    @torch.no_grad()
    def animate_batches(
        self,
        identity: tuple[torch.Tensor, torch.Tensor],
        driving_codes: torch.Tensor,
        batch_size: int = 16,
        autocast_dtype: torch.dtype | None = None,
    ) -> Iterator[torch.Tensor]:
        """Frames of (T, 61) driving codes, ``batch_size`` at a time: yields (b, 3, out, out) float in [0, 1] on the
        renderer's device (under autocast when ``autocast_dtype`` is given), so a caller can convert and hand on each
        batch before the next is drawn."""
        check_codes(driving_codes, "driving codes")
        if driving_codes.dim() != 2:
            raise RenderInputError(f"animate expects driving codes (T, 61), got {tuple(driving_codes.shape)}")
        volume, kp_source = identity
        for start in range(0, driving_codes.shape[0], batch_size):
            codes = driving_codes[start : start + batch_size].to(volume.device)  # (b, 61)
            n = codes.shape[0]
            with autocast(volume.device, autocast_dtype):
                out = self.decode(volume.expand(n, -1, -1, -1, -1), kp_source.expand(n, -1, -1), self.keypoints(codes))
            yield out.image.float()  # (b, 3, out, out)

    @torch.no_grad()
    def animate(
        self,
        source_image: torch.Tensor,
        source_code: torch.Tensor,
        driving_codes: torch.Tensor,
        batch_size: int = 16,
        progress: bool = True,
    ) -> torch.Tensor:
        """One identity, a code sequence: (1, 3, S, S), (61,), (T, 61) -> frames (T, 3, out, out) in [0, 1].

        The source volume and keypoints are computed once; frames are generated ``batch_size`` at a time.
        """
        check_codes(source_code, "source code")
        check_codes(driving_codes, "driving codes")
        if source_code.dim() != 1 or driving_codes.dim() != 2:
            raise RenderInputError(
                f"animate expects a source code (61,) and driving codes (T, 61), got {tuple(source_code.shape)} "
                f"and {tuple(driving_codes.shape)}"
            )
        identity = self.prepare_identity(source_image, source_code)
        batches = self.animate_batches(identity, driving_codes, batch_size)
        total = -(-driving_codes.shape[0] // batch_size)
        return torch.cat([b.cpu() for b in tqdm(batches, total=total, desc="render", disable=not progress)])
