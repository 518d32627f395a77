"""Training callbacks: periodic generated samples (plots + audio) from the EMA model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import soundfile as sf
import torch

from omnitalker.constants import SAMPLE_RATE
from omnitalker.data.normalization import CodeNormalizer
from omnitalker.flow.sampler import FlowSampler, SamplerConfig
from omnitalker.training.sample_plots import sample_figure

log = logging.getLogger(__name__)


class SampleLogger(L.Callback):
    """Every ``every_n_steps``, continues the first clip of a fixed batch from its first ``reference_fraction`` and
    saves (and logs to wandb/TensorBoard) the comparison figure and the audio.

    Audio uses the Griffin-Lim decoder unless ``vocoder_path`` names a local Vocos directory: a diagnostic, not the
    final audio quality.
    """

    def __init__(
        self,
        every_n_steps: int = 1000,
        reference_fraction: float = 0.3,
        steps: int = 16,
        out_dir: str | None = None,
        vocoder_path: str | None = None,
        audio: bool = True,
    ) -> None:
        super().__init__()
        self.every_n_steps = every_n_steps
        self.reference_fraction = reference_fraction
        self.steps = steps
        self.out_dir = out_dir
        self.vocoder_path = vocoder_path
        self.audio = audio
        self._batch: dict[str, Any] | None = None
        self._vocoder = None

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if self._batch is None:
            self._batch = {k: (v[:1].detach().clone() if torch.is_tensor(v) else v[:1]) for k, v in batch.items()}
        step = trainer.global_step
        if not trainer.is_global_zero or self.every_n_steps <= 0 or step % self.every_n_steps:
            return
        try:
            self._log_sample(trainer, module, step)
        except Exception:  # a diagnostic must never kill a training run
            log.exception("sample generation at step %d failed", step)

    @torch.no_grad()
    def _log_sample(self, trainer: L.Trainer, module: L.LightningModule, step: int) -> None:
        batch = self._batch
        length = int(batch["lengths"][0])
        reference = max(1, min(length - 1, int(length * self.reference_fraction)))
        model = module.inference_model()
        was_training = model.training
        model.eval()
        cfg = SamplerConfig.from_dict(dict(module.sampler_cfg, steps=self.steps))
        mel_true = batch["mel"][:, :length]  # (1, n, 100)
        codes_true = batch["codes"][:, :length]  # (1, n, 61)
        mel_gen, codes_gen = FlowSampler(model, cfg).sample(
            mel_true, codes_true, torch.tensor([reference], device=mel_true.device),
            torch.tensor([length], device=mel_true.device), batch["text"], seeds=[step],
        )
        model.train(was_training)
        normalizer = CodeNormalizer.from_state_dict(module.normalizer_state).to(codes_true.device)
        to_np = lambda x: x[0].float().cpu().numpy()
        fig = sample_figure(
            to_np(mel_true), to_np(mel_gen), to_np(normalizer.denormalize(codes_true)),
            to_np(normalizer.denormalize(codes_gen)), reference, f"step {step}: {batch['clip_ids'][0]}",
        )
        out_dir = Path(self.out_dir or trainer.default_root_dir) / "samples"
        out_dir.mkdir(parents=True, exist_ok=True)
        png = out_dir / f"step_{step:08d}.png"
        fig.savefig(png, dpi=80)
        wav = None
        if self.audio:
            wav = self._decode(mel_gen[:, :length].float().cpu())
            sf.write(out_dir / f"step_{step:08d}.wav", wav, SAMPLE_RATE)
        for logger in trainer.loggers:
            name = type(logger).__name__
            if name == "WandbLogger":
                logger.log_image("samples/figure", [str(png)], step=step)
                if wav is not None:
                    import wandb

                    logger.experiment.log({"samples/audio": wandb.Audio(wav, sample_rate=SAMPLE_RATE)}, step=step)
            elif name == "TensorBoardLogger":
                logger.experiment.add_figure("samples/figure", fig, step)
                if wav is not None:
                    logger.experiment.add_audio("samples/audio", torch.from_numpy(wav)[None], step, SAMPLE_RATE)
        import matplotlib.pyplot as plt

        plt.close(fig)

    def _decode(self, mel: torch.Tensor) -> np.ndarray:
        if self._vocoder is None:
            from omnitalker.vocoder import load_vocoder

            kind = "vocos" if self.vocoder_path else "griffin_lim"
            self._vocoder = load_vocoder(kind, self.vocoder_path)
        return self._vocoder.decode(mel)[0].numpy()
