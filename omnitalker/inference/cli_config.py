"""The command-line settings (configs/infer.yaml keys, also composed by configs/demo.yaml) -> `PipelineConfig`.

Shared by scripts/infer.py and the web demo (omnitalker/demo), so both take the same model overrides
(``dit=... renderer=... vocoder=... steps=...``).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from omnitalker.controls import Controls
from omnitalker.inference.pipeline import PipelineConfig
from omnitalker.inference.safety import SafetyConfig


def pipeline_config(cfg: DictConfig) -> PipelineConfig:
    sampler = {"steps": cfg.steps, "method": cfg.method, "cfg_mode": cfg.cfg_mode,
               "guidance": OmegaConf.to_container(cfg.guidance)}
    safety = SafetyConfig(label=cfg.label, label_position=cfg.label_position, watermark=cfg.watermark,
                          watermark_key=cfg.watermark_key)
    return PipelineConfig(
        dit_checkpoint=cfg.dit, renderer=cfg.renderer, vocoder=cfg.vocoder, vocoder_path=cfg.vocoder_path,
        device=cfg.device, sampler=sampler, fps=cfg.fps, crop=cfg.crop, face_model=cfg.face_model,
        asr_model=cfg.asr_model, asr_language=cfg.asr_language, safety=safety, seed=cfg.seed,
        allow_face_model_mismatch=cfg.get("allow_face_model_mismatch", False),
        precision=cfg.get("precision", "auto"), compile=cfg.get("compile", False),
        compile_mode=cfg.get("compile_mode", "default"),
        first_chunk_seconds=cfg.get("first_chunk_seconds", 2.0),
    )


def controls_config(cfg: DictConfig) -> Controls:
    """The ``controls:`` block (configs/infer.yaml) -> validated `Controls` (before any model is loaded)."""
    return Controls.from_dict(OmegaConf.to_container(cfg.controls) if cfg.get("controls") is not None else None)
