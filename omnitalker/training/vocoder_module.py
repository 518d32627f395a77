"""Lightning 2 module training our own Vocos (mel-24khz layout) with manual G/D optimisation.

Reuses the ``vocos`` package's backbone, ISTFT head, discriminators (multi-period + multi-resolution) and losses;
only the loop is ours, because ``vocos.experiment`` is written for Lightning 1.x (one ``training_step`` per
optimiser). The generator sees the project's log-mel (``omnitalker.audio.mel``), i.e. exactly what the DiT emits.
Hyper-parameters follow vocos v0.1.0: AdamW lr 5e-4, betas (0.8, 0.9), mel L1 x 45, MRD x 0.1, cosine schedule.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.optim.lr_scheduler import LambdaLR
from vocos.discriminators import MultiPeriodDiscriminator, MultiResolutionDiscriminator
from vocos.loss import DiscriminatorLoss, FeatureMatchingLoss, GeneratorLoss, MelSpecReconstructionLoss

from omnitalker.audio.mel import LogMelSpectrogram
from omnitalker.constants import HOP_LENGTH, N_MELS, SAMPLE_RATE
from omnitalker.training.gan_steps import GeneratorStepCounter
from omnitalker.vocoder.vocos_model import VocosArchitecture, build_vocos, save_vocos


def cosine_with_warmup(warmup_steps: int, total_steps: int):
    """Linear warm-up then cosine decay to 0 (what vocos takes from transformers, without the dependency)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))

    return factor


class VocoderModule(GeneratorStepCounter, L.LightningModule):
    """Vocos generator (backbone + ISTFT head) against MPD + MRD discriminators."""

    def __init__(
        self,
        arch: dict[str, Any] | None = None,
        lr: float = 5e-4,
        betas: tuple[float, float] = (0.8, 0.9),
        warmup_steps: int = 0,
        total_steps: int = 1_000_000,
        mel_loss_coeff: float = 45.0,
        mrd_loss_coeff: float = 0.1,
        pretrain_mel_steps: int = 0,
        decay_mel_coeff: bool = False,
        num_val_audio_logged: int = 2,
        mpd_periods: tuple[int, ...] = (2, 3, 5, 7, 11),
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self._g_steps = 0
        self.arch = VocosArchitecture.from_dict(dict(arch or {}))
        vocos = build_vocos(self.arch).train()
        self.backbone = vocos.backbone
        self.head = vocos.head
        self.mel = LogMelSpectrogram()
        self.mpd = MultiPeriodDiscriminator(periods=tuple(mpd_periods))
        self.mrd = MultiResolutionDiscriminator()
        self.disc_loss = DiscriminatorLoss()
        self.gen_loss = GeneratorLoss()
        self.feat_matching_loss = FeatureMatchingLoss()
        self.melspec_loss = MelSpecReconstructionLoss(
            sample_rate=SAMPLE_RATE, n_fft=1024, hop_length=HOP_LENGTH, n_mels=N_MELS
        )

    # -- generator -----------------------------------------------------------------------------------------
    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel (B, T, 100) -> waveform (B, T * 256)."""
        hidden = self.backbone(mel.transpose(1, 2))  # (B, T, dim)
        return self.head(hidden)  # (B, T * 256)

    def _reconstruct(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mel = self.mel(audio)  # (B, segment / 256 + 1, 100)
        audio_hat = self(mel[:, :-1])  # (B, segment) - drop the centre-padding frame so lengths match exactly
        return audio_hat, mel

    def generator_steps_from_global(self, global_step: int) -> int:
        """Generator steps behind Lightning's ``global_step`` (which counts G and D optimiser steps): one per batch
        during the ``pretrain_mel_steps``, then one D + one G step per batch. Only for checkpoints without the
        counter."""
        start = int(self.hparams.pretrain_mel_steps)
        return int(global_step) if global_step <= start else start + (int(global_step) - start) // 2

    def _mel_coeff(self) -> float:
        if not self.hparams.decay_mel_coeff:
            return self.hparams.mel_loss_coeff
        return self.hparams.mel_loss_coeff * cosine_with_warmup(0, self.hparams.total_steps // 2)(self._g_steps)

    # -- training ------------------------------------------------------------------------------------------
    def training_step(self, audio: torch.Tensor, batch_idx: int) -> None:
        """audio: (B, segment) float in [-1, 1]."""
        opt_d, opt_g = self.optimizers()
        sched_d, sched_g = self.lr_schedulers()
        audio_hat, _ = self._reconstruct(audio)  # (B, segment)
        train_disc = self._g_steps >= self.hparams.pretrain_mel_steps

        if train_disc:
            real_p, fake_p, _, _ = self.mpd(audio, audio_hat.detach())
            real_r, fake_r, _, _ = self.mrd(audio, audio_hat.detach())
            loss_mp, _, _ = self.disc_loss(real_p, fake_p)
            loss_mrd, _, _ = self.disc_loss(real_r, fake_r)
            loss_d = loss_mp / len(real_p) + self.hparams.mrd_loss_coeff * loss_mrd / len(real_r)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()
            sched_d.step()
            self.log("train/disc_loss", loss_d, prog_bar=True)

        mel_loss = self.melspec_loss(audio_hat, audio)
        loss_g = self._mel_coeff() * mel_loss
        if train_disc:
            _, fake_p, fmap_rp, fmap_gp = self.mpd(audio, audio_hat)
            _, fake_r, fmap_rr, fmap_gr = self.mrd(audio, audio_hat)
            gen_mp, _ = self.gen_loss(fake_p)
            gen_mrd, _ = self.gen_loss(fake_r)
            fm_mp = self.feat_matching_loss(fmap_rp, fmap_gp) / len(fmap_rp)
            fm_mrd = self.feat_matching_loss(fmap_rr, fmap_gr) / len(fmap_rr)
            c = self.hparams.mrd_loss_coeff
            adv = gen_mp / len(fake_p) + c * gen_mrd / len(fake_r) + fm_mp + c * fm_mrd
            loss_g = loss_g + adv.squeeze()
            self.log("train/gen_adv_fm_loss", adv.squeeze())
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        sched_g.step()
        self._g_steps += 1
        self.log("train/mel_loss", mel_loss, prog_bar=True)
        self.log("train/total_loss", loss_g)

    # -- validation ----------------------------------------------------------------------------------------
    def validation_step(self, audio: torch.Tensor, batch_idx: int) -> torch.Tensor:
        audio_hat, mel = self._reconstruct(audio)  # (B, segment), (B, frames, 100)
        mel_hat = self.mel(audio_hat)  # (B, frames, 100)
        mel_l1 = (mel_hat - mel).abs().mean()
        self.log("val/mel_l1", mel_l1, prog_bar=True, sync_dist=True)
        self.log("val/mel_loss", self.melspec_loss(audio_hat, audio), sync_dist=True)
        if batch_idx == 0 and self.hparams.num_val_audio_logged:
            self._write_val_audio(audio, audio_hat)
        return mel_l1

    def _write_val_audio(self, audio: torch.Tensor, audio_hat: torch.Tensor) -> None:
        """Save the first validation segments (target and generated) as wav next to the logs."""
        import soundfile as sf

        if self.trainer is None or self.trainer.log_dir is None or not self.trainer.is_global_zero:
            return
        out = Path(self.trainer.log_dir) / "val_audio" / f"step{self.global_step:08d}"
        out.mkdir(parents=True, exist_ok=True)
        for i in range(min(self.hparams.num_val_audio_logged, audio.shape[0])):
            sf.write(out / f"{i}_target.wav", audio[i].float().cpu().numpy(), SAMPLE_RATE)
            sf.write(out / f"{i}_generated.wav", audio_hat[i].float().clamp(-1, 1).cpu().numpy(), SAMPLE_RATE)

    # -- optimisers / export -------------------------------------------------------------------------------
    def configure_optimizers(self):
        h = self.hparams
        disc_params = list(self.mpd.parameters()) + list(self.mrd.parameters())
        gen_params = list(self.backbone.parameters()) + list(self.head.parameters())
        opt_d = torch.optim.AdamW(disc_params, lr=h.lr, betas=tuple(h.betas))
        opt_g = torch.optim.AdamW(gen_params, lr=h.lr, betas=tuple(h.betas))
        per_optimiser = max(1, h.total_steps // 2)  # Lightning counts both optimisers' steps in global_step
        sched = cosine_with_warmup(h.warmup_steps, per_optimiser)
        return [opt_d, opt_g], [LambdaLR(opt_d, sched), LambdaLR(opt_g, sched)]

    def export(self, directory: str | Path) -> Path:
        """Write the generator as a Vocos directory in the public layout (loadable by ``load_vocoder``)."""
        vocos = build_vocos(self.arch)
        vocos.backbone.load_state_dict(self.backbone.state_dict())
        vocos.head.load_state_dict(self.head.state_dict())
        return save_vocos(vocos, directory, self.arch)

    def arch_dict(self) -> dict[str, int]:
        return asdict(self.arch)
