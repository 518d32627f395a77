#!/usr/bin/env python
"""Train our own Vocos: ``python scripts/train_vocoder.py [experiment=vocoder_smoke] [key=value ...]``.

Exports the generator in the public layout (``config.yaml`` + ``pytorch_model.bin``) to ``export_dir`` and writes
``metrics.json`` with the held-out mel L1 (re-analysed generated audio vs input mel) before and after training.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnitalker.training.checkpoint_io import AtomicCheckpointIO
from omnitalker.training.run_utils import instantiate_all, resolve_resume
from omnitalker.vocoder.data import AudioSegmentDataset


def build_loaders(cfg: DictConfig) -> tuple[DataLoader, DataLoader]:
    d = cfg.data
    common = {
        "corpus_roots": list(d.corpus_roots),
        "wav_dirs": list(d.wav_dirs),
        "segment_samples": d.segment_samples,
        "val_fraction": d.val_fraction,
        "gain_db": tuple(d.gain_db),
    }
    train = AudioSegmentDataset(split="train", **common)
    val = AudioSegmentDataset(split="val", max_items=d.get("max_val_items"), **common)
    workers = int(d.num_workers)
    return (
        DataLoader(
            train,
            batch_size=d.batch_size,
            shuffle=True,
            num_workers=workers,
            drop_last=len(train) > d.batch_size,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
        ),
        DataLoader(val, batch_size=d.val_batch_size, shuffle=False, num_workers=workers),
    )


@hydra.main(version_base="1.3", config_path="../configs", config_name="train_vocoder")
def main(cfg: DictConfig) -> dict[str, float]:
    L.seed_everything(cfg.seed, workers=True)
    model = hydra.utils.instantiate(cfg.model)
    train_loader, val_loader = build_loaders(cfg)
    print(
        f"vocoder: {sum(p.numel() for p in list(model.backbone.parameters()) + list(model.head.parameters())) / 1e6:.2f} M "
        f"generator parameters; {len(train_loader.dataset)} train items, {len(val_loader.dataset)} held-out items"
    )
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
    metrics: dict[str, float] = {}
    if cfg.validate_before_fit and resume is None:
        metrics["val_mel_l1_start"] = float(trainer.validate(model, val_loader, verbose=False)[0]["val/mel_l1"])
    trainer.fit(model, train_loader, val_loader, ckpt_path=resume)
    metrics["val_mel_l1_end"] = float(trainer.validate(model, val_loader, verbose=False)[0]["val/mel_l1"])
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


if __name__ == "__main__":
    main()
