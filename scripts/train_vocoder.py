#!/usr/bin/env python
"""Train our own Vocos: ``python scripts/train_vocoder.py [experiment=vocoder_smoke] [key=value ...]``.

Exports the generator in the public layout (``config.yaml`` + ``pytorch_model.bin``) to ``export_dir`` and writes
``metrics.json`` with the held-out mel L1 (re-analysed generated audio vs input mel) before and after training.
"""

from __future__ import annotations

import hydra
import lightning as L
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from omnitalker.training.run_utils import fit_and_export, train_val_loaders
from omnitalker.vocoder.data import AudioSegmentDataset


def build_loaders(cfg: DictConfig) -> tuple[DataLoader, DataLoader]:
    d = cfg.data
    common = {
        "corpus_roots": list(d.corpus_roots),
        "wav_dirs": list(d.wav_dirs),
        "segment_samples": d.segment_samples,
        "val_fraction": d.val_fraction,
        "gain_db": tuple(d.gain_db),
        "seed": cfg.seed,
    }
    train = AudioSegmentDataset(split="train", **common)
    val = AudioSegmentDataset(split="val", max_items=d.get("max_val_items"), **common)
    return train_val_loaders(train, val, d)


@hydra.main(version_base="1.3", config_path="../configs", config_name="train_vocoder")
def main(cfg: DictConfig) -> dict[str, float]:
    L.seed_everything(cfg.seed, workers=True)
    model = hydra.utils.instantiate(cfg.model)
    train_loader, val_loader = build_loaders(cfg)
    print(
        f"vocoder: {sum(p.numel() for m in (model.backbone, model.head) for p in m.parameters()) / 1e6:.2f} M "
        f"generator parameters; {len(train_loader.dataset)} train items, {len(val_loader.dataset)} held-out items"
    )
    return fit_and_export(cfg, model, train_loader, val_loader, "val/mel_l1", "val_mel_l1")


if __name__ == "__main__":
    main()
