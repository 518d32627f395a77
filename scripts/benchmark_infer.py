"""Inference speed through the real pipeline (OmniTalkerPipeline.generate, as infer.py stream=true runs it) with
random models of the chosen sizes: first-piece latency, real-time factor, end-to-end FPS, seconds per stage.

    python scripts/benchmark_infer.py                                                      # CPU, quick-start sizes
    python scripts/benchmark_infer.py model=omnitalker_0.8b renderer=paper device=cuda compile=true   # GPU, bf16
Paper: 25 FPS end to end on one RTX 4090 (0.8B, 16 steps). Results: docs/benchmarks.md.
"""

from __future__ import annotations

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from omnitalker.benchmark_report import report_row
from omnitalker.inference.benchmark import benchmark_pipeline, random_pipeline, synthetic_reference, text_of_length
from omnitalker.inference.pipeline import PipelineConfig
from omnitalker.render.config import paper_config, small_config
from omnitalker.vocoder import VocosArchitecture


@hydra.main(version_base="1.3", config_path="../configs", config_name="benchmark_infer")
def main(cfg: DictConfig) -> None:
    torch.backends.cuda.matmul.allow_tf32 = True
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    sampler = {**OmegaConf.to_container(cfg.model.sampler), "steps": cfg.steps, "cfg_mode": cfg.cfg_mode}
    renderer_cfg = {"small": small_config, "paper": paper_config}[cfg.renderer]()
    pipe_cfg = PipelineConfig("", None, vocoder=cfg.vocoder, device=cfg.device, sampler=sampler, fps=cfg.fps,
                              video_size=cfg.video_size or renderer_cfg.output_size, render_batch=cfg.render_batch,
                              precision=cfg.precision, compile=cfg.compile, first_chunk_seconds=cfg.first_chunk_seconds)
    pipe = random_pipeline(pipe_cfg, OmegaConf.to_container(cfg.model.arch), renderer_cfg, cfg.vocoder,
                           VocosArchitecture(**OmegaConf.to_container(cfg.vocos)))
    ref = synthetic_reference(cfg.reference_seconds, renderer_cfg.input_size)
    result = benchmark_pipeline(pipe, ref, text_of_length(cfg.generated_seconds), cfg.repeats, warmup=cfg.warmup)
    row = {"model": cfg.model.name, "renderer": cfg.renderer, "vocoder": cfg.vocoder, "device": str(pipe.device),
           "precision": str(pipe.autocast_dtype or "fp32"), "compile": cfg.compile, "steps": cfg.steps,
           "cfg_mode": cfg.cfg_mode, "threads": torch.get_num_threads(), **result}
    report_row(row, cfg.out)


if __name__ == "__main__":
    main()
