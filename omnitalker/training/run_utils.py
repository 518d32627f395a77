"""Pieces shared by the training entry points (DiT, renderer, vocoder): Hydra groups and resuming."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig


def instantiate_all(node: DictConfig | None) -> list:
    """Instantiate every non-null entry of a logger/callbacks group (a dict of configs with ``_target_``)."""
    return [hydra.utils.instantiate(c) for c in (node or {}).values() if c is not None]


def resolve_resume(value: str | None, output_dir: Path) -> Path | None:
    """``ckpt_path``: null (fresh run), "auto" (this run's checkpoints/last.ckpt if present) or an explicit path."""
    if value in (None, "", "null"):
        return None
    if value == "auto":
        last = Path(output_dir) / "checkpoints" / "last.ckpt"
        return last if last.is_file() else None
    if not Path(value).is_file():
        raise FileNotFoundError(f"ckpt_path={value}: no such checkpoint to resume from")
    return Path(value)


def fit_and_export(cfg: DictConfig, model, train_loader, val_loader, val_key: str, metric: str) -> dict[str, float]:
    """Shared tail of the decoder trainers: save the config, fit (resuming if asked), record the held-out
    ``val_key`` before and after training as ``{metric}_start`` / ``{metric}_end`` in metrics.json (atomic), and
    export the model in its inference format to ``cfg.export_dir``."""
    import json
    import os

    import lightning as L
    from omegaconf import OmegaConf

    from omnitalker.training.checkpoint_io import AtomicCheckpointIO

    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, output_dir / "config.yaml", resolve=True)
    resume = resolve_resume(cfg.get("ckpt_path"), output_dir)
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer,
        logger=instantiate_all(cfg.get("logger")) or False,
        callbacks=instantiate_all(cfg.get("callbacks")),
        plugins=[AtomicCheckpointIO()],
    )

    def held_out() -> float:
        return float(trainer.validate(model, val_loader, verbose=False)[0][val_key])

    metrics: dict[str, float] = {}
    if cfg.validate_before_fit and resume is None:
        metrics[f"{metric}_start"] = held_out()
    trainer.fit(model, train_loader, val_loader, ckpt_path=resume)
    metrics[f"{metric}_end"] = held_out()
    metrics["global_step"] = trainer.global_step
    export_dir = Path(cfg.export_dir)
    model.export(export_dir)
    OmegaConf.save(cfg, export_dir / "train_config.yaml", resolve=True)
    out = output_dir / "metrics.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2))
    os.replace(tmp, out)
    print(json.dumps(metrics, indent=2))
    return metrics
