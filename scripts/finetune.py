"""Fine-tune a pretrained DiT checkpoint on a new corpus (paper: pre-train on public data, fine-tune on a curated set).

    python scripts/finetune.py init_from=/ckpts/pretrain/last.ckpt data.corpus=/data/curated

The architecture, vocabulary and code statistics come from the pretrained checkpoint; symbols of the new corpus that
the pretrained vocabulary lacks extend the text embedding instead of failing. Starts from the EMA weights unless
init_weights=online.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from omnitalker.checkpoint import CheckpointError
from omnitalker.training.run import train


@hydra.main(version_base="1.3", config_path="../configs", config_name="finetune")
def main(cfg: DictConfig) -> None:
    if not cfg.get("init_from"):
        raise SystemExit("finetune.py needs init_from=/path/to/pretrained.ckpt")
    try:
        metrics = train(cfg)
    except CheckpointError as exc:  # missing, unreadable, unsafe or mismatched checkpoint: one line, exit status 1
        raise SystemExit(f"error: {type(exc).__name__}: {exc}") from None
    print({k: round(v, 5) for k, v in metrics.items()})


if __name__ == "__main__":
    main()
