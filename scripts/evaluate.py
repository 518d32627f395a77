"""Score a test set: generate every item with the real pipeline (or take another system's outputs, or a baseline),
measure it with the registered metrics, and write metrics.json + report.md + plots. Resumable.

    python scripts/evaluate.py testset=set.jsonl dit=run/checkpoints/last.ckpt renderer=renderer_dir out=eval/ours
    python scripts/evaluate.py testset=set.jsonl generated=peer_outputs/ out=eval/peer
    python scripts/evaluate.py testset=set.jsonl system=copy_reference out=eval/copy
    python scripts/evaluate.py compare=[eval/ours,eval/copy] out=eval/table
    python scripts/evaluate.py build_from=data/corpus/test out=eval/set

Errors print one line and exit with status 1 (OMNITALKER_DEBUG=1 for a traceback).
"""

from __future__ import annotations

import logging
import os
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from omnitalker.device import resolve_device
from omnitalker.eval.report import compare
from omnitalker.eval.runner import Evaluation, RunOptions
from omnitalker.eval.testsets import build_from_corpus, load_testset


def make_pipeline(cfg: DictConfig):
    from omnitalker.inference.pipeline import OmniTalkerPipeline, PipelineConfig
    from omnitalker.inference.safety import SafetyConfig

    sampler = {"steps": cfg.steps, "method": cfg.method, "cfg_mode": cfg.cfg_mode,
               "guidance": OmegaConf.to_container(cfg.guidance)}
    safety = SafetyConfig(label=cfg.label, label_position=cfg.label_position, watermark=cfg.watermark,
                          watermark_key=cfg.watermark_key)
    return OmniTalkerPipeline(PipelineConfig(
        dit_checkpoint=cfg.dit, renderer=cfg.renderer, vocoder=cfg.vocoder, vocoder_path=cfg.vocoder_path,
        device=cfg.device, sampler=sampler, fps=cfg.fps, crop=cfg.crop, face_model=cfg.face_model,
        asr_model=cfg.asr_model, asr_language=cfg.asr_language, safety=safety, seed=cfg.seed))


def run(cfg: DictConfig) -> str:
    if cfg.compare:
        return f"wrote {compare(list(cfg.compare), cfg.out)}"
    if cfg.build_from:
        path = build_from_corpus(cfg.build_from, cfg.out, **OmegaConf.to_container(cfg.build))
        return f"wrote {path}"
    if not cfg.testset:
        raise ValueError("give testset=... (a .jsonl manifest or a Seed-TTS .lst), or compare=/build_from=")
    system = cfg.system or ("generated" if cfg.generated else "generate")
    if system == "generate" and (not cfg.dit or (not cfg.renderer and not str(cfg.testset).endswith(".lst"))):
        raise ValueError("system=generate needs dit=... and renderer=... (or give generated=DIR or a baseline "
                         "system=ground_truth|copy_reference|mean_motion)")
    items = load_testset(cfg.testset)[: cfg.limit or None]
    options_of = OmegaConf.to_container(cfg.metrics) or {}
    metrics = {name: dict(options_of.get(name) or {}) for name in cfg.use}
    options = RunOptions(system=system, metrics=metrics, generated_dir=cfg.generated, max_side=cfg.max_side,
                         modules=dict(cfg.metric_modules), progress=cfg.progress, plots=cfg.plots,
                         renderer=cfg.renderer if system == "mean_motion" else None,
                         device=str(resolve_device(cfg.device)))
    pipeline = make_pipeline(cfg) if system == "generate" else None
    summary = Evaluation(items, cfg.out, options, testset=str(cfg.testset), pipeline=pipeline).run()
    lines = [f"{name}: " + ", ".join(f"{k}={v:.4g}" for k, v in m["values"].items()) + (
        f" ({len(m['errors'])} failed)" if m["errors"] else "") for name, m in summary["metrics"].items()]
    return "\n".join(lines + [f"wrote {cfg.out}/metrics.json and {cfg.out}/report.md"])


@hydra.main(version_base="1.3", config_path="../configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        print(run(cfg))
    except Exception as exc:  # every failure is one line
        if os.environ.get("OMNITALKER_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
