"""Lightning 2 module training the warp-based GAN renderer with manual G/D optimisation (SPEC §6).

Generator losses: L1 reconstruction, multi-scale VGG19 perceptual, mouth-region perceptual (a crop around the
driving mouth keypoints projected into the image), hinge GAN + discriminator feature matching from a multi-scale
patch discriminator (switched on after ``gan_start_step`` generator steps). Validation reports the L1 of generated
vs real held-out driving frames and writes a sample grid (source | driving | generated) as an image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
import torchvision

from omnitalker.face.face_model import FaceModel
from omnitalker.render.checkpoint import save_renderer
from omnitalker.render.config import RendererConfig
from omnitalker.render.data import resize_frames
from omnitalker.render.discriminator import MultiScaleDiscriminator
from omnitalker.render.losses import (
    VGGPerceptualLoss,
    crop_boxes,
    feature_matching_loss,
    hinge_d_loss,
    hinge_g_loss,
    keypoint_boxes,
)
from omnitalker.render.renderer import Renderer
from omnitalker.training.gan_steps import GeneratorStepCounter

DEFAULT_LOSS: dict[str, Any] = {
    "l1": 1.0,
    "perceptual": 1.0,
    "mouth_perceptual": 0.5,
    "gan": 0.1,
    "feature_matching": 1.0,
    "gan_start_step": 0,
    "vgg_weights": None,
    "allow_random_vgg": False,
    "vgg_scales": [1.0, 0.5, 0.25],
    "vgg_num_layers": 5,  # relu1_1 .. relu5_1; fewer layers = cheaper (CPU smoke runs)
    "mouth_crop_size": 64,
    "mouth_margin": 0.35,
}
DEFAULT_DISC: dict[str, Any] = {"num_scales": 2, "channels": 64, "num_layers": 4, "max_channels": 512}
DEFAULT_OPTIM: dict[str, Any] = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": [0.5, 0.999], "grad_clip": 1.0}


def _merged(defaults: dict[str, Any], values: dict[str, Any] | None) -> dict[str, Any]:
    values = dict(values or {})
    unknown = set(values) - set(defaults)
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; expected a subset of {sorted(defaults)}")
    return {**defaults, **values}


class RendererModule(GeneratorStepCounter, L.LightningModule):
    """Renderer (generator) + multi-scale patch discriminator; ``automatic_optimization = False``."""

    def __init__(
        self,
        renderer: dict[str, Any] | None = None,
        face_model_path: str | None = None,
        loss: dict[str, Any] | None = None,
        discriminator: dict[str, Any] | None = None,
        optim: dict[str, Any] | None = None,
        num_sample_images: int = 4,
        face_model: FaceModel | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["face_model"])
        self.automatic_optimization = False
        self.loss_cfg = _merged(DEFAULT_LOSS, loss)
        self.optim_cfg = _merged(DEFAULT_OPTIM, optim)
        cfg = RendererConfig.from_dict(renderer)
        if face_model is None:
            face_model = FaceModel.load(face_model_path) if face_model_path else FaceModel.default()
        self.renderer = Renderer(cfg, face_model)
        self.discriminator = MultiScaleDiscriminator(**_merged(DEFAULT_DISC, discriminator))
        self.perceptual = VGGPerceptualLoss(
            self.loss_cfg["vgg_weights"],
            self.loss_cfg["allow_random_vgg"],
            tuple(self.loss_cfg["vgg_scales"]),
            self.loss_cfg["vgg_num_layers"],
        )
        self.mouth_indices = self.renderer.keypoints.mouth_indices()
        self._g_steps = 0

    # -- losses --------------------------------------------------------------------------------------------
    def _mouth_crops(self, pred: torch.Tensor, target: torch.Tensor, kp_driving: torch.Tensor):
        mouth_xy = kp_driving[:, self.mouth_indices, :2].detach()  # (B, M, 2) crop-normalised
        boxes = keypoint_boxes(mouth_xy, margin=self.loss_cfg["mouth_margin"])  # (B, 4)
        size = self.loss_cfg["mouth_crop_size"]
        return crop_boxes(pred, boxes, size), crop_boxes(target, boxes, size)  # (B, 3, s, s) x2

    def generator_losses(self, batch: dict[str, torch.Tensor], use_gan: bool) -> tuple[torch.Tensor, dict, Any]:
        c = self.loss_cfg
        out = self.renderer(batch["source"], batch["source_codes"], batch["driving_codes"])
        pred, target = out.image, batch["driving"]  # (B, 3, S, S) each
        logs = {"l1": (pred - target).abs().mean()}
        logs["perceptual"] = self.perceptual(pred, target)
        mouth_pred, mouth_target = self._mouth_crops(pred, target, out.kp_driving)
        logs["mouth_perceptual"] = self.perceptual(mouth_pred, mouth_target)
        total = (
            c["l1"] * logs["l1"]
            + c["perceptual"] * logs["perceptual"]
            + c["mouth_perceptual"] * logs["mouth_perceptual"]
        )
        if use_gan:
            fake_feats, fake_logits = self.discriminator(pred)
            with torch.no_grad():
                real_feats, _ = self.discriminator(target)
            logs["gan_g"] = hinge_g_loss(fake_logits)
            logs["feature_matching"] = feature_matching_loss(real_feats, fake_feats)
            total = total + c["gan"] * logs["gan_g"] + c["feature_matching"] * logs["feature_matching"]
        logs["total"] = total
        return total, logs, out

    # -- training ------------------------------------------------------------------------------------------
    def generator_steps_from_global(self, global_step: int) -> int:
        """Generator steps behind Lightning's ``global_step`` (which counts G and D optimiser steps): one per batch
        before ``gan_start_step``, then one G + one D step per batch. Only for checkpoints without the counter."""
        if self.loss_cfg["gan"] <= 0:
            return int(global_step)
        start = int(self.loss_cfg["gan_start_step"])
        return int(global_step) if global_step <= start else start + (int(global_step) - start) // 2

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        use_gan = self.loss_cfg["gan"] > 0 and self._g_steps >= self.loss_cfg["gan_start_step"]

        self.toggle_optimizer(opt_g)
        total, logs, out = self.generator_losses(batch, use_gan)
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(total)
        self.clip_gradients(opt_g, gradient_clip_val=self.optim_cfg["grad_clip"], gradient_clip_algorithm="norm")
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        self._g_steps += 1

        if use_gan:
            self.toggle_optimizer(opt_d)
            _, real_logits = self.discriminator(batch["driving"])
            _, fake_logits = self.discriminator(out.image.detach())
            d_loss = hinge_d_loss(real_logits, fake_logits)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            opt_d.step()
            self.untoggle_optimizer(opt_d)
            logs["gan_d"] = d_loss
        b = batch["source"].shape[0]
        self.log_dict({f"train/{k}": v.detach() for k, v in logs.items()}, prog_bar=False, batch_size=b)
        self.log("train/l1_step", logs["l1"].detach(), prog_bar=True, batch_size=b)

    # -- validation ----------------------------------------------------------------------------------------
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self.renderer(batch["source"], batch["source_codes"], batch["driving_codes"])
        l1 = (out.image - batch["driving"]).abs().mean()
        self.log("val/l1", l1, prog_bar=True, sync_dist=True, batch_size=batch["source"].shape[0])
        if batch_idx == 0 and self.hparams.num_sample_images:
            self._log_samples(batch, out.image)
        return l1

    def sample_grid(self, batch: dict[str, torch.Tensor], generated: torch.Tensor) -> torch.Tensor:
        """(3, H, W) grid, one row per sample: source | driving | generated."""
        n = min(self.hparams.num_sample_images, generated.shape[0])
        size = generated.shape[-1]
        source = resize_frames(batch["source"][:n].float(), size)  # (n, 3, S, S)
        rows = torch.stack([source, batch["driving"][:n].float(), generated[:n].float()], dim=1)  # (n, 3, 3, S, S)
        return torchvision.utils.make_grid(rows.flatten(0, 1).clamp(0, 1).cpu(), nrow=3, padding=2)

    def _log_samples(self, batch: dict[str, torch.Tensor], generated: torch.Tensor) -> None:
        if self._trainer is None or not self.trainer.is_global_zero:
            return
        grid = self.sample_grid(batch, generated)  # (3, H, W)
        if self.trainer.log_dir is not None:
            out = Path(self.trainer.log_dir) / "samples"
            out.mkdir(parents=True, exist_ok=True)
            torchvision.utils.save_image(grid, out / f"step{self.global_step:08d}.png")
        for logger in self.loggers:
            experiment = getattr(logger, "experiment", None)
            if hasattr(experiment, "add_image"):  # TensorBoard
                experiment.add_image("val/samples", grid, self.global_step)
            elif hasattr(logger, "log_image"):  # Weights & Biases
                logger.log_image("val/samples", [grid], step=self.global_step)

    # -- optimisers / export -------------------------------------------------------------------------------
    def configure_optimizers(self):
        o = self.optim_cfg
        betas = tuple(o["betas"])
        opt_g = torch.optim.Adam(self.renderer.parameters(), lr=o["lr_g"], betas=betas)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=o["lr_d"], betas=betas)
        return [opt_g, opt_d]

    def export(self, directory: str | Path) -> Path:
        """Write the generator in the inference format (``omnitalker.render.load_renderer``)."""
        return save_renderer(self.renderer, directory)
