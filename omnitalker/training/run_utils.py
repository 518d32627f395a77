"""Pieces shared by the training entry points (DiT, renderer, vocoder): Hydra groups and resuming."""

from __future__ import annotations

import json
import os
from pathlib import Path

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset

from omnitalker.checkpoint import CheckpointError
from omnitalker.data.epoch_sampler import EpochShuffleSampler
from omnitalker.training.checkpoint_io import AtomicCheckpointIO


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
        raise CheckpointError(f"checkpoint not found: ckpt_path={value} (no such checkpoint to resume from)")
    return Path(value)


def corpus_face_model(roots: list[Path]) -> str | None:
    """Id of the face model that fitted every corpus root's codes (None when any root does not record it);
    refuses a corpus that mixes codes of different face models."""
    from omnitalker.data.corpus_reader import load_top_index

    ids = {load_top_index(Path(root), allow_incomplete=True).get("face_model") for root in roots}
    known = sorted(i for i in ids if i is not None)
    if len(known) > 1:
        raise ValueError(f"the corpus mixes codes fitted by different face models {known}: refit them with one model")
    return None if None in ids or not known else known[0]


def check_face_model(expected: str | None, found: str | None, what: str) -> None:
    """Refuse training a checkpoint on codes of another face model than the one its codes came from."""
    if expected is not None and found is not None and expected != found:
        raise CheckpointError(f"{what} was trained on codes of face model {expected} but this corpus was fitted by "
                              f"{found}: the codes mean different things; refit the corpus with the same face model")


def fit_and_export(cfg: DictConfig, model, train_loader, val_loader, val_key: str, metric: str) -> dict[str, float]:
    """Shared tail of the decoder trainers: save the config, fit (resuming if asked), record the held-out
    ``val_key`` before and after training as ``{metric}_start`` / ``{metric}_end`` in metrics.json (atomic), and
    export the model in its inference format to ``cfg.export_dir``."""
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
    trainer.fit(model, train_loader, val_loader, ckpt_path=resume, weights_only=True)  # and AtomicCheckpointIO
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


def train_val_loaders(train: Dataset, val: Dataset, data: DictConfig) -> tuple[DataLoader, DataLoader]:
    """Shuffled training loader (dropping a ragged last batch when there is more than one) and a held-out loader,
    sized by the data config's batch_size / val_batch_size / num_workers. A training set with ``set_epoch`` and a
    ``seed`` gets ``(index, epoch)`` keys in a ``(seed, epoch)``-seeded order (``EpochShuffleSampler``)."""
    workers = int(data.num_workers)
    tagged = callable(getattr(train, "set_epoch", None)) and hasattr(train, "seed")
    return (
        DataLoader(
            train,
            batch_size=data.batch_size,
            sampler=EpochShuffleSampler(len(train), seed=train.seed) if tagged else None,
            shuffle=None if tagged else True,
            num_workers=workers,
            drop_last=len(train) > data.batch_size,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
        ),
        DataLoader(val, batch_size=data.val_batch_size, shuffle=False, num_workers=workers),
    )
