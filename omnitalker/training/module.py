"""LightningModule training the DiT with masked-infilling flow matching (SPEC §4), with EMA weights for inference."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch
from ema_pytorch import EMA

import omnitalker
from omnitalker.checkpoint import CHECKPOINT_FORMAT
from omnitalker.flow.objective import FlowMatchingObjective, ObjectiveConfig
from omnitalker.models.config import DiTConfig
from omnitalker.models.dit import OmniTalkerDiT
from omnitalker.safe_io import plain_data
from omnitalker.training.optim import OptimConfig, build_optimizer

T_BINS = (0.0, 0.25, 0.5, 0.75, 1.0001)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN/inf; the message names the clips of the offending batch."""


class OmniTalkerModule(L.LightningModule):
    """Holds the online DiT (``net``), its EMA copy (``ema.ema_model``) and the objective.

    Randomness of a step (noise, t, masks, condition dropout, dropout layers) is seeded from (seed, global step,
    rank), so a run resumed from a checkpoint continues exactly as the uninterrupted run would have.
    """

    def __init__(
        self,
        arch: dict[str, Any],
        objective: dict[str, Any],
        sampler: dict[str, Any],
        optim: dict[str, Any],
        vocab_symbols: list[str],
        normalizer_state: dict[str, Any],
        ema: dict[str, Any] | None = None,
        seed: int = 0,
        run_config: dict[str, Any] | None = None,
        face_model: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["normalizer_state", "run_config", "face_model"])
        arch = dict(arch, text_vocab_size=len(vocab_symbols))
        self.arch = arch
        self.net = OmniTalkerDiT(DiTConfig.from_dict(arch))
        self.objective = FlowMatchingObjective(ObjectiveConfig.from_dict(objective))
        self.optim_cfg = OptimConfig.from_dict(optim)
        ema = dict(ema or {})
        self.use_ema = bool(ema.pop("enabled", True))
        if self.use_ema:
            self.ema = EMA(self.net, include_online_model=False, **ema)
        self.sampler_cfg = dict(sampler)
        self.vocab_symbols = list(vocab_symbols)
        self.normalizer_state = normalizer_state
        self.run_config = run_config or {}
        self.face_model = face_model  # id of the face model that fitted the corpus's codes (None: not recorded)
        self.seed = seed
        self.batches_in_epoch = 0  # batches started in the current epoch (for exact mid-epoch resume)
        self._step_start: float | None = None

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self):
        fused = self.device.type == "cuda"
        optimizer, scheduler = build_optimizer(self.net.parameters(), self.optim_cfg, fused=fused)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_train_epoch_start(self) -> None:
        resumed_epoch, resumed_batches = self._resumed_position
        self.batches_in_epoch = resumed_batches if resumed_epoch == self.current_epoch else 0
        self._resumed_position = (-1, 0)

    _resumed_position: tuple[int, int] = (-1, 0)

    def on_train_batch_start(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.batches_in_epoch += 1
        self._step_start = time.perf_counter()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        torch.manual_seed(self.seed * 1_000_003 + self.global_step * 7919 + self.global_rank)
        out = self.objective(self.net, batch["mel"], batch["codes"], batch["text"], batch["lengths"],
                             ref_lengths=batch.get("ref_lengths"))
        if not torch.isfinite(out.loss):
            raise NonFiniteLossError(
                f"non-finite loss {out.loss.item()} at step {self.global_step} "
                f"(parts: { {k: float(v) for k, v in out.parts.items()} }); clips in this batch: {batch['clip_ids']}"
            )
        b, n = batch["mel"].shape[:2]
        log = {"train/loss": out.loss.detach()}
        log.update({f"train/loss_{k}": v.detach() for k, v in out.parts.items()})
        log["train/padding_fraction"] = 1.0 - batch["lengths"].sum().float() / (b * n)
        bins = torch.bucketize(out.time.detach(), torch.tensor(T_BINS, device=out.time.device)[1:-1])
        for k in range(len(T_BINS) - 1):
            sel = bins == k
            if bool(sel.any()):
                log[f"train_t/loss_t{T_BINS[k]:.2f}-{min(T_BINS[k + 1], 1):.2f}"] = out.per_sample.detach()[sel].mean()
        self.log_dict(log, prog_bar=False, on_step=True, on_epoch=False, batch_size=b)
        self.log("loss", out.loss.detach(), prog_bar=True, on_step=True, logger=False, batch_size=b)
        self._frames = int(batch["lengths"].sum())
        return out.loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self._step_start is not None:  # forward + backward throughput (excludes callbacks and checkpointing)
            elapsed = time.perf_counter() - self._step_start
            self.log("train/frames_per_s", self._frames / max(elapsed, 1e-9) * self.trainer.world_size, on_step=True)
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
            self.log("train/grad_norm", norm, on_step=True, on_epoch=False)
        self.log("train/lr", optimizer.param_groups[0]["lr"], on_step=True, on_epoch=False)

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        if self.use_ema:  # here, not in on_train_batch_end: checkpoint callbacks run before the module's hooks
            self.ema.update()

    # ------------------------------------------------------------------ inference helpers
    def inference_model(self) -> OmniTalkerDiT:
        """The EMA weights when EMA is on (what inference uses), else the online weights."""
        return self.ema.ema_model if self.use_ema else self.net

    # ------------------------------------------------------------------ checkpoint payload
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["omnitalker"] = plain_data({
            "format": CHECKPOINT_FORMAT,
            "arch": self.arch,
            "objective": self.hparams.objective,
            "sampler": self.sampler_cfg,
            "vocab": self.vocab_symbols,
            "normalizer": self.normalizer_state,
            "config": self.run_config,
            "face_model": self.face_model,
            "position": {"epoch": self.current_epoch, "batches_in_epoch": self.batches_in_epoch},
            "versions": {"omnitalker": omnitalker.__version__, "torch": str(torch.__version__), "lightning": str(L.__version__)},
        }, "checkpoint['omnitalker']")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        meta = checkpoint.get("omnitalker", {})
        if meta.get("vocab") is not None and list(meta["vocab"]) != self.vocab_symbols:
            raise ValueError(
                "cannot resume: the checkpoint's vocabulary differs from this run's "
                f"({len(meta['vocab'])} vs {len(self.vocab_symbols)} symbols); use scripts/finetune.py to adapt"
            )
        position = meta.get("position", {})
        self._resumed_position = (int(position.get("epoch", -1)), int(position.get("batches_in_epoch", 0)))
