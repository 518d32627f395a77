"""Training throughput of a model configuration: frames/s, TFLOP/s and (on a GPU) MFU of one optimisation step.

    python scripts/benchmark_train.py model=small                                  # CPU
    python scripts/benchmark_train.py model=omnitalker_0.8b device=cuda compile=true  # GPU, bf16
"""

from __future__ import annotations

import hydra
import torch
from omegaconf import DictConfig

from omnitalker.benchmark_report import report_row
from omnitalker.device import resolve_device
from omnitalker.models.factory import build_dit
from omnitalker.training.benchmark import benchmark_train_step


@hydra.main(version_base="1.3", config_path="../configs", config_name="benchmark_train")
def main(cfg: DictConfig) -> None:
    device = resolve_device(cfg.device)
    bf16 = device.type == "cuda" if cfg.precision == "auto" else cfg.precision == "bf16"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    model = build_dit(cfg.model.arch, text_vocab_size=cfg.vocab_size, dropout=0.0,
                      checkpoint_activations=cfg.activation_checkpointing)
    batch = max(1, cfg.max_frames // cfg.sample_frames)
    result = benchmark_train_step(model, device, batch, cfg.sample_frames, bf16, cfg.compile, cfg.warmup, cfg.iters,
                                  cfg.peak_tflops)
    row = dict(model=cfg.model.name, **result.to_dict())
    report_row(row, cfg.out)


if __name__ == "__main__":
    main()
