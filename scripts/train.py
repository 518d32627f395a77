"""Train the OmniTalker DiT.

    python scripts/train.py experiment=smoke                 # small model on the synthetic corpus, CPU, minutes
    python scripts/train.py experiment=pretrain data.corpus=/data/corpus   # paper recipe (8 GPUs, DDP, bf16)
    python scripts/train.py experiment=smoke run_name=myrun  # re-running the same run_name resumes it (ckpt_path=auto)
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from omnitalker.checkpoint import CheckpointError
from omnitalker.training.run import train


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(cfg: DictConfig) -> None:
    try:
        metrics = train(cfg)
    except CheckpointError as exc:  # missing, unreadable, unsafe or mismatched checkpoint: one line, exit status 1
        raise SystemExit(f"error: {type(exc).__name__}: {exc}") from None
    print({k: round(v, 5) for k, v in metrics.items()})


if __name__ == "__main__":
    main()
