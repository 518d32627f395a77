#!/usr/bin/env python
"""Train the renderer: ``python scripts/train_renderer.py [experiment=renderer_smoke] [key=value ...]``.

Writes Lightning checkpoints and logs under the run's output directory, the exported renderer (weights + face model)
to ``export_dir``, and ``metrics.json`` with the held-out reconstruction L1 before and after training.
"""

from __future__ import annotations

import hydra
import lightning as L
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from omnitalker.render.data import RendererPairDataset
from omnitalker.training.run_utils import fit_and_export, train_val_loaders


def build_loaders(cfg: DictConfig, input_size: int, output_size: int) -> tuple[DataLoader, DataLoader]:
    d = cfg.data
    common = {
        "corpus_roots": list(d.corpus_roots),
        "val_fraction": d.val_fraction,
        "split_by": d.split_by,
        "input_size": input_size,
        "output_size": output_size,
        "cache_clips": d.cache_clips,
        "seed": cfg.seed,
    }
    train = RendererPairDataset(split="train", pairs_per_clip=d.pairs_per_clip, **common)
    val = RendererPairDataset(split="val", pairs_per_clip=4, max_clips=d.get("max_val_clips"), **common)
    return train_val_loaders(train, val, d)


@hydra.main(version_base="1.3", config_path="../configs", config_name="train_renderer")
def main(cfg: DictConfig) -> dict[str, float]:
    L.seed_everything(cfg.seed, workers=True)
    model = hydra.utils.instantiate(cfg.model)
    rcfg = model.renderer.cfg
    train_loader, val_loader = build_loaders(cfg, rcfg.input_size, rcfg.output_size)
    print(
        f"renderer: {sum(p.numel() for p in model.renderer.parameters()) / 1e6:.2f} M parameters; "
        f"{len(train_loader.dataset.clips)} train clips, {len(val_loader.dataset.clips)} held-out clips"
    )
    return fit_and_export(cfg, model, train_loader, val_loader, "val/l1", "val_l1")


if __name__ == "__main__":
    main()
