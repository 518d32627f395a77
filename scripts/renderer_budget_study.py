#!/usr/bin/env python
"""Renderer quality at equal training: the lean (budget) sizes against the pre-budget sizes, other keypoint choices,
and the copy-the-source baseline, on the renderer_smoke recipe (128 px, synthetic corpus, CPU).

    python scripts/make_synthetic_corpus.py out=/work/data/synthetic          # once, if there is no corpus yet
    python scripts/renderer_budget_study.py --corpus /work/data/synthetic/corpus --steps 50 --seeds 0 1 \
        --work-dir /work/data/render_study --out outputs/renderer_budget_study

Every variant is trained by ``scripts/train_renderer.py experiment=renderer_smoke`` (a subprocess, so each run is
exactly what a user gets) for the same number of optimiser steps with the same seed, which fixes the initialisation,
the training pairs and the held-out pairs; the held-out L1 is the run's ``val_l1_end`` (metrics.json). The
copy-the-source baseline is scored on the same held-out pairs per seed (``scripts/renderer_baseline.py``). The
small (128 px) model is what is trained; FLOPs per frame are counted for the paper-size (512 px) version of each
variant, which applies the same motion changes and the same generator-width ratio. Writes ``study.json`` and
``study.md`` into ``--out``; ``--reuse`` keeps runs whose metrics.json already exists.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from renderer_baseline import main as baseline_main  # the copy-the-source score on the trainer's own pairs

from omnitalker.face.face_model import FaceModel
from omnitalker.render.config import PRE_BUDGET, SMALL_PRE_BUDGET, paper_config, small_config
from omnitalker.render.flops import renderer_flops
from omnitalker.render.renderer import Renderer


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    small: dict[str, Any] = field(default_factory=dict)  # overrides of small_config (the trained 128 px model)
    paper: dict[str, Any] = field(default_factory=dict)  # overrides of paper_config (FLOPs at 512 px)


VARIANTS = {
    v.name: v
    for v in (
        Variant("lean", "budget sizes (default): 21 motion keypoints, dense motion at 1/2 resolution, generator "
                        "at half width"),
        Variant("pre_budget", "sizes before the budget: all 65 face-model keypoints, full-resolution dense motion "
                              "(7^3 mask conv at 512 px), full-width generator", SMALL_PRE_BUDGET, PRE_BUDGET),
        Variant("all_keypoints", "lean, but all 65 face-model keypoints drive the warp",
                {"motion": {"num_keypoints": 0}}, {"motion": {"num_keypoints": 0}}),
        Variant("kp10", "lean, but only 10 motion keypoints", {"motion": {"num_keypoints": 10}},
                {"motion": {"num_keypoints": 10}}),
        Variant("lean_full_generator", "lean motion with the full-width generator",
                {"generator": {"features": 64}}, {"generator": {"features": 512}}),
    )
}


def overrides_of(values: dict[str, Any], prefix: str = "model.renderer") -> list[str]:
    """Nested dict -> Hydra overrides ``model.renderer.motion.num_keypoints=0``."""
    out = []
    for key, value in values.items():
        if isinstance(value, dict):
            out += overrides_of(value, f"{prefix}.{key}")
        else:
            out.append(f"{prefix}.{key}={value}")
    return out


def tflops(variant: Variant, face_model: FaceModel) -> dict[str, float]:
    paper = renderer_flops(Renderer(paper_config(**variant.paper), face_model))
    small = renderer_flops(Renderer(small_config(**variant.small), face_model))
    return {"paper_512_tflop_per_frame": round(paper["per_frame"] / 1e12, 4),
            "small_128_gflop_per_frame": round(small["per_frame"] / 1e9, 3)}


def train(variant: Variant, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    run_dir = Path(args.work_dir) / f"{variant.name}_seed{seed}"
    metrics_path = run_dir / "metrics.json"
    if args.reuse and metrics_path.is_file():
        return {**json.loads(metrics_path.read_text()), "wall_s": None, "reused": True}
    cmd = [sys.executable, str(ROOT / "scripts" / "train_renderer.py"), "experiment=renderer_smoke",
           *common_overrides(args, seed), f"trainer.max_steps={args.steps}",
           f"trainer.val_check_interval={10 * args.steps}",  # held-out L1 only before and after training
           f"paths.output_dir={run_dir}", f"hydra.run.dir={run_dir}", "ckpt_path=null",
           "trainer.enable_progress_bar=false", *overrides_of(variant.small)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    log = run_dir.with_suffix(".log")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if proc.returncode != 0 or not metrics_path.is_file():
        raise SystemExit(f"training {variant.name} seed {seed} failed (exit {proc.returncode}); see {log}")
    return {**json.loads(metrics_path.read_text()), "wall_s": round(time.perf_counter() - start, 1)}


def common_overrides(args: argparse.Namespace, seed: int) -> list[str]:
    return [f"data.corpus_roots=[{Path(args.corpus).resolve()}]", f"seed={seed}"]


def summarise(values: list[float]) -> dict[str, float]:
    return {"mean": round(statistics.fmean(values), 5),
            "spread": round((max(values) - min(values)) / 2, 5),  # half the range: with 2 seeds, |a - b| / 2
            "values": [round(v, 5) for v in values]}


def markdown(result: dict[str, Any]) -> str:
    seeds = result["seeds"]
    lines = [f"Renderer quality at equal training: renderer_smoke recipe, {result['steps']} optimiser steps, "
             f"128 px, seeds {seeds}, {result['threads']} CPU thread(s). Held-out L1 (lower is better), mean ± half "
             f"the range over seeds; Δ vs lean = paired difference per seed (same held-out pairs).", "",
             "| variant | TFLOP / 512² frame | GFLOP / 128² frame | held-out L1 | Δ vs lean | vs copy-source |",
             "|---|---|---|---|---|---|"]
    copy = result["copy_source"]["l1"]
    for name, row in result["variants"].items():
        l1 = row["l1_end"]
        delta = row.get("delta_vs_lean")
        wins = sum(a < b for a, b in zip(l1["values"], copy["values"]))
        lines.append(f"| {name} | {row['tflops']['paper_512_tflop_per_frame']:.3f} | "
                     f"{row['tflops']['small_128_gflop_per_frame']:.2f} | {l1['mean']:.4f} ± {l1['spread']:.4f} | "
                     + (f"{delta['mean']:+.4f} ± {delta['spread']:.4f}" if delta else "—")
                     + f" | better in {wins}/{len(l1['values'])} seeds |")
    lines.append(f"| copy the source | 0 | 0 | {copy['mean']:.4f} ± {copy['spread']:.4f} | — | — |")
    lines.append(f"| (untrained lean, step 0) | | | {result['variants']['lean']['l1_start']['mean']:.4f} | | |"
                 if "lean" in result["variants"] else "")
    return "\n".join(line for line in lines if line) + "\n"


def collect(args: argparse.Namespace, copy: list[float], runs: dict[str, list[dict[str, Any]]],
            face_model: FaceModel) -> dict[str, Any]:
    """The study so far (a variant summarises the seeds it has finished; differences pair equal seeds)."""
    variants: dict[str, Any] = {}
    for name, rows in runs.items():
        if rows:
            variant = VARIANTS[name]
            variants[name] = {"description": variant.description, "small_overrides": variant.small,
                              "paper_overrides": variant.paper, "tflops": tflops(variant, face_model),
                              "runs": rows, "l1_start": summarise([r["val_l1_start"] for r in rows]),
                              "l1_end": summarise([r["val_l1_end"] for r in rows])}
    if "lean" in variants:
        lean = variants["lean"]["l1_end"]["values"]
        for name, row in variants.items():
            if name != "lean":
                row["delta_vs_lean"] = summarise([v - b for v, b in zip(row["l1_end"]["values"], lean)])
    return {"steps": args.steps, "seeds": args.seeds[: len(copy)], "threads": args.threads,
            "corpus": str(args.corpus),
            "recipe": "experiment=renderer_smoke (GAN from generator step 100, random VGG, batch 8)",
            "copy_source": {"l1": summarise(copy)}, "variants": variants}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="a corpus folder (e.g. /work/data/synthetic/corpus)")
    p.add_argument("--variants", nargs="+", default=["lean", "pre_budget", "all_keypoints"], choices=list(VARIANTS))
    p.add_argument("--steps", type=int, default=50, help="optimiser steps per run (the same for every variant)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--threads", type=int, default=1, help="CPU threads per training run")
    p.add_argument("--work-dir", default="outputs/renderer_budget_study/runs", help="training runs go here")
    p.add_argument("--out", default="outputs/renderer_budget_study", help="study.json and study.md go here")
    p.add_argument("--reuse", action="store_true", help="keep runs that already have metrics.json")
    args = p.parse_args(argv)
    if not Path(args.corpus).is_dir():
        raise SystemExit(f"no corpus at {args.corpus}: make one with scripts/make_synthetic_corpus.py")
    face_model = FaceModel.default()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    copy: list[float] = []
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in args.variants}
    result: dict[str, Any] = {}
    for seed in args.seeds:  # seed-major: a stopped study still has every variant at the first seeds
        copy.append(baseline_main(["experiment=renderer_smoke", *common_overrides(args, seed)])["copy_source_l1"])
        for name in args.variants:
            runs[name].append({"seed": seed, **train(VARIANTS[name], seed, args)})
            print(json.dumps({"variant": name, **runs[name][-1]}), flush=True)
            result = collect(args, copy, runs, face_model)
            (out / "study.json").write_text(json.dumps(result, indent=2))
            (out / "study.md").write_text(markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
