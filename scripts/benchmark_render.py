#!/usr/bin/env python
"""Renderer speed: frames/s for a batch of driving codes, with a per-module breakdown and FLOPs per frame.

    python scripts/benchmark_render.py                                   # paper-scale (512 px), lean sizes, CPU, fp32
    python scripts/benchmark_render.py --sizes full                      # the pre-budget sizes (2.2 TFLOP/frame)
    python scripts/benchmark_render.py --config small                    # 128 px (tests / smoke experiment)
    python scripts/benchmark_render.py --compare --threads 1 --out r.json  # {small, paper} x {full, budget}
    python scripts/benchmark_render.py --device cuda --bf16 --compile    # GPU, bf16 autocast, torch.compile(W, G)
    python scripts/benchmark_render.py --flops-only --sizes full         # FLOPs per module only (seconds, no run)

The source volume is computed once per identity (as ``Renderer.animate`` does) and reported separately. Weights are
random: speed does not depend on them. Results are printed as JSON (and written to ``--out`` if given). ``--compare``
times the pre-budget ("full") and lean ("budget") sizes at 128 px (``--batch``/``--iters``/``--warmup``) and at 512 px
(``--paper-batch``/``--paper-iters``/``--paper-warmup``: one frame of the full sizes takes ~1 min on one CPU thread)
and adds the speed-up per resolution, by wall time and by process CPU time (``cpu_ms_per_frame``: on a shared
machine the CPU time of a one-thread run is close to what the frame costs on an idle core).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import torch

from omnitalker.render import Renderer
from omnitalker.render.benchmark import face_model_for_benchmark, renderer_config, tflops_per_frame, time_renderer


def run_one(config: str, sizes: str, args: argparse.Namespace, batch: int, iters: int, warmup: int) -> dict[str, Any]:
    renderer = Renderer(renderer_config(config, sizes), face_model_for_benchmark(args.face_model)).eval()
    result: dict[str, Any] = {"config": config, "sizes": sizes, "tflops": tflops_per_frame(renderer)}
    if not args.flops_only:
        result.update(time_renderer(renderer, torch.device(args.device), batch, iters, warmup, args.bf16, args.compile))
    return result


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """Both sizes at both resolutions; speed-up = lean frames/s over pre-budget frames/s."""
    runs = []
    for config, (batch, iters, warmup) in (("small", (args.batch, args.iters, args.warmup)),
                                           ("paper", (args.paper_batch, args.paper_iters, args.paper_warmup))):
        for sizes in ("full", "budget"):
            runs.append(run_one(config, sizes, args, batch, iters, warmup))
            print(json.dumps({k: runs[-1].get(k) for k in ("config", "sizes", "frames_per_s", "ms_per_frame",
                                                           "cpu_ms_per_frame", "tflops")}), flush=True)
    out: dict[str, Any] = {"runs": runs}
    if not args.flops_only:
        by = {(r["config"], r["sizes"]): r for r in runs}
        out["speedup"] = {c: round(by[c, "budget"]["frames_per_s"] / by[c, "full"]["frames_per_s"], 2)
                          for c in ("small", "paper")}
        if all(r.get("cpu_ms_per_frame") for r in runs):  # CPU time: the same ratio without other jobs' noise
            out["speedup_cpu_time"] = {c: round(by[c, "full"]["cpu_ms_per_frame"] / by[c, "budget"]["cpu_ms_per_frame"],
                                                2) for c in ("small", "paper")}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=["paper", "small"], default="paper")
    p.add_argument("--sizes", choices=["budget", "full"], default="budget",
                   help="the lean motion/generator (budget) or the pre-budget full sizes")
    p.add_argument("--compare", action="store_true", help="time full and budget sizes at 128 px and 512 px")
    p.add_argument("--flops-only", action="store_true", help="count FLOPs per module and stop")
    p.add_argument("--batch", type=int, default=8, help="frames rendered per forward")
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--paper-batch", type=int, default=1, help="--compare: frames per forward at 512 px")
    p.add_argument("--paper-iters", type=int, default=1, help="--compare: timed batches at 512 px")
    p.add_argument("--paper-warmup", type=int, default=0, help="--compare: warm-up batches at 512 px")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    p.add_argument("--compile", action="store_true", help="torch.compile the warping network and the generator")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--face-model", default=None)
    p.add_argument("--out", default=None, help="also write the JSON result here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compare:
        result = compare(args)
    else:
        result = run_one(args.config, args.sizes, args, args.batch, args.iters, args.warmup)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        tmp = f"{args.out}.tmp"
        Path(tmp).write_text(text)
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
