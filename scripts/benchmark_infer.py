"""Inference speed per stage (DiT sampling, vocoder, renderer, muxing; optionally reference analysis).

    python scripts/benchmark_infer.py model=small renderer=small                                  # CPU
    python scripts/benchmark_infer.py model=omnitalker_0.8b renderer=paper device=cuda compile=true   # GPU, bf16
Paper: 25 FPS end to end on one RTX 4090 (0.8B, 16 steps). Results: docs/benchmarks.md.
"""

from __future__ import annotations

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from omnitalker.benchmark_report import report_row
from omnitalker.device import resolve_device
from omnitalker.face.face_model import FaceModel
from omnitalker.flow.sampler import SamplerConfig
from omnitalker.inference.benchmark import benchmark_stages
from omnitalker.models.factory import build_dit
from omnitalker.render.config import paper_config, small_config
from omnitalker.render.renderer import Renderer
from omnitalker.vocoder import GriffinLimVocoder, VocosVocoder, build_vocos


@hydra.main(version_base="1.3", config_path="../configs", config_name="benchmark_infer")
def main(cfg: DictConfig) -> None:
    device = resolve_device(cfg.device)
    bf16 = device.type == "cuda" if cfg.bf16 == "auto" else bool(cfg.bf16)
    torch.backends.cuda.matmul.allow_tf32 = True
    dit = build_dit(cfg.model.arch, text_vocab_size=cfg.vocab_size, dropout=0.0)
    renderer = Renderer({"small": small_config, "paper": paper_config}[cfg.renderer](), FaceModel.default())
    vocoder = VocosVocoder(build_vocos(), device) if cfg.vocoder == "vocos" else GriffinLimVocoder(device)
    if cfg.compile:
        dit = torch.compile(dit)
        renderer.warping = torch.compile(renderer.warping)
        renderer.generator = torch.compile(renderer.generator)
    sampler = SamplerConfig.from_dict({**OmegaConf.to_container(cfg.model.sampler), "steps": cfg.steps,
                                       "cfg_mode": cfg.cfg_mode})
    result = benchmark_stages(dit, renderer, vocoder, device, cfg.reference_seconds, cfg.generated_seconds, cfg.fps,
                              sampler, bf16, cfg.render_batch, cfg.repeats, cfg.reference_video)
    row = {"model": cfg.model.name, "renderer": cfg.renderer, "vocoder": cfg.vocoder, "device": str(device),
           "bf16": bf16, "compile": cfg.compile, "steps": cfg.steps, "cfg_mode": cfg.cfg_mode, **result}
    report_row(row, cfg.out)


if __name__ == "__main__":
    main()
