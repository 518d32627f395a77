"""LightningModule training the DiT with masked-infilling flow matching (SPEC §4), with EMA weights for inference."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch
from ema_pytorch import EMA

import omnitalker
from omnitalker.checkpoint import CHECKPOINT_FORMAT
from omnitalker.flow.host_lengths import HostLengths
from omnitalker.flow.objective import FlowMatchingObjective, ObjectiveConfig
from omnitalker.models.config import DiTConfig
from omnitalker.models.dit import OmniTalkerDiT
from omnitalker.safe_io import plain_data
from omnitalker.training.nonfinite import NonFiniteLossError, NonFiniteWatch
from omnitalker.training.optim import OptimConfig, build_optimizer

T_BINS = (0.0, 0.25, 0.5, 0.75, 1.0001)

__all__ = ["NonFiniteLossError", "OmniTalkerModule", "T_BINS"]


class OmniTalkerModule(L.LightningModule):
    """Holds the online DiT (``net``), its EMA copy (``ema.ema_model``) and the objective.

    Randomness of a step (noise, t, masks, condition dropout, dropout layers) is seeded from (seed, global step,
    rank), so a run resumed from a checkpoint continues exactly as the uninterrupted run would have.

    The step reads nothing back from the device (docs/training.md, "Host syncs"): lengths come from the collate
    function as Python ints, the non-finite loss check runs once per logging interval and before every checkpoint
    save, and frames/s is measured over the logging interval. ``compile_net`` wraps the DiT in ``torch.compile``;
    ``debug_checks`` turns the DiT's per-step input value checks back on.
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
        compile_net: bool = False,
        debug_checks: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["normalizer_state", "run_config", "face_model"])
        arch = dict(arch, text_vocab_size=len(vocab_symbols))
        self.arch = arch
        self.net = OmniTalkerDiT(DiTConfig.from_dict(arch))
        self.net.set_value_checks(debug_checks)  # the data's values are checked in collate, on the host
        # Kept out of the module tree (plain __dict__ entry): the compiled wrapper shares net's parameters, and the
        # state dict keeps its "net." keys.
        self.__dict__["_forward_net"] = torch.compile(self.net) if compile_net else self.net
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
        self._nonfinite = NonFiniteWatch()
        self._interval_frames = 0  # real frames trained since the last check (host ints)
        self._interval_start: float | None = None
        self._last_loss: torch.Tensor | None = None

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
        if self._interval_start is None:
            self._interval_start = time.perf_counter()

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        torch.manual_seed(self.seed * 1_000_003 + self.global_step * 7919 + self.global_rank)
        host = _host_lengths(batch)
        out = self.objective(self._forward_net, batch["mel"], batch["codes"], batch["text"], batch["lengths"],
                             ref_lengths=batch.get("ref_lengths"), host=host)
        self._nonfinite.observe(self.global_step, out.loss, out.parts, batch["clip_ids"])
        b, n = batch["mel"].shape[:2]
        log = {"train/loss": out.loss.detach()}
        log.update({f"train/loss_{k}": v.detach() for k, v in out.parts.items()})
        log.update(t_bin_losses(out.time.detach(), out.per_sample.detach()))
        # Host numbers go in as CPU tensors: a Python float would be copied to the device (a sync) by self.log.
        log["train/padding_fraction"] = torch.tensor(1.0 - host.total / (b * n))
        self.log_dict(log, prog_bar=False, on_step=True, on_epoch=False, batch_size=b)
        self._interval_frames += host.total
        self._last_loss = out.loss.detach()
        return out.loss

    def on_train_batch_end(self, outputs: Any, batch: dict[str, Any], batch_idx: int) -> None:
        every = max(1, int(self.trainer.log_every_n_steps or 1))
        if self.global_step % every == 0:  # the steps Lightning writes its logs at
            self._check_interval(f"after step {self.global_step - 1}")

    def on_train_end(self) -> None:
        self._nonfinite.check("at the end of training")

    def _check_interval(self, when: str) -> None:
        """The once-per-interval read-back: non-finite losses, then wall-clock frames/s of the whole interval (data,
        step, optimizer, callbacks and any checkpoint save: the read-back has just waited for the device) and the
        progress bar's loss (Lightning reads progress-bar values back every step, so they are kept on the CPU)."""
        self._nonfinite.check(when)
        now = time.perf_counter()
        if self._interval_start is not None and self._interval_frames:
            frames_per_s = self._interval_frames / max(now - self._interval_start, 1e-9) * self.trainer.world_size
            self.log("train/frames_per_s", torch.tensor(frames_per_s), on_step=True, on_epoch=False)
        if self._last_loss is not None:
            self.log("loss", self._last_loss.float().cpu(), prog_bar=True, on_step=True, logger=False)
        self._interval_start, self._interval_frames = now, 0

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
            self.log("train/grad_norm", norm, on_step=True, on_epoch=False)
        self.log("train/lr", torch.tensor(float(optimizer.param_groups[0]["lr"])), on_step=True, on_epoch=False)

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
        self._nonfinite.check(f"before saving the checkpoint of step {self.global_step}")  # never save NaN weights
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


def _host_lengths(batch: dict[str, Any]) -> HostLengths:
    """The batch's lengths as host ints: from collate's lists (free), else read back once from the tensors."""
    if "host_lengths" in batch:
        return HostLengths.from_lists(batch["host_lengths"], batch.get("host_ref_lengths"))
    return HostLengths.from_tensors(batch["lengths"], batch.get("ref_lengths"))


_BIN_EDGES: dict[torch.device, torch.Tensor] = {}  # inner edges of T_BINS per device: copied there once, not per step


def t_bin_losses(t: torch.Tensor, per_sample: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean per-sample loss in each flow-time bin of ``T_BINS``, on the device (no read-back); NaN for empty bins."""
    if t.device not in _BIN_EDGES:
        _BIN_EDGES[t.device] = torch.tensor(T_BINS[1:-1], device=t.device)  # (bins - 1,)
    bins = torch.bucketize(t, _BIN_EDGES[t.device])  # (b,) bin index per sample
    num = len(T_BINS) - 1
    loss = per_sample.float()  # (b,)
    sums = torch.zeros(num, device=t.device).scatter_add_(0, bins, loss)  # (bins,)
    counts = torch.zeros(num, device=t.device).scatter_add_(0, bins, torch.ones_like(loss))  # (bins,)
    means = sums / counts  # (bins,) 0/0 = NaN where no sample fell
    return {f"train_t/loss_t{T_BINS[k]:.2f}-{min(T_BINS[k + 1], 1):.2f}": means[k] for k in range(num)}
