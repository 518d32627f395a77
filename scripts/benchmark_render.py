#!/usr/bin/env python
"""Renderer speed: frames/s at 512x512 for a batch of driving codes, with a per-module breakdown.

    python scripts/benchmark_render.py                                   # paper-scale, CPU, fp32
    python scripts/benchmark_render.py --sizes full                      # the pre-budget sizes (2.2 TFLOP/frame)
    python scripts/benchmark_render.py --device cuda --bf16 --compile    # GPU, bf16 autocast, torch.compile(W, G)
    python scripts/benchmark_render.py --flops-only --sizes full         # FLOPs per module only (seconds, no run)

The source volume is computed once per identity (as ``Renderer.animate`` does) and reported separately. Weights are
random: speed does not depend on them. Results are printed as JSON (and written to ``--out`` if given).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

import torch

from omnitalker.constants import CODE_DIM
from omnitalker.face.face_model import DEFAULT_MODEL_PATH, FaceModel
from omnitalker.render import Renderer, paper_config, small_config
from omnitalker.render.config import PRE_BUDGET
from omnitalker.render.flops import renderer_flops


def face_model_for_benchmark(path: str | None) -> FaceModel:
    if path:
        return FaceModel.load(path)
    if DEFAULT_MODEL_PATH.is_file():
        return FaceModel.default()
    g = torch.Generator().manual_seed(0)  # speed does not depend on the face model's values
    return FaceModel(
        torch.randn(478, 3, generator=g) * 0.5,
        torch.randn(51, 478, 3, generator=g) * 0.05,
        torch.randn(4, 478, 3, generator=g) * 0.02,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=["paper", "small"], default="paper")
    p.add_argument("--sizes", choices=["budget", "full"], default="budget",
                   help="paper config: the lean motion/generator (budget) or the pre-budget full sizes")
    p.add_argument("--flops-only", action="store_true", help="count FLOPs per module and stop")
    p.add_argument("--batch", type=int, default=8, help="frames rendered per forward")
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    p.add_argument("--compile", action="store_true", help="torch.compile the warping network and the generator")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--face-model", default=None)
    p.add_argument("--out", default=None, help="also write the JSON result here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    overrides = PRE_BUDGET if args.sizes == "full" else {}
    cfg = paper_config(**overrides) if args.config == "paper" else small_config()
    renderer = Renderer(cfg, face_model_for_benchmark(args.face_model)).eval()
    flops = {k: round(v / 1e12, 4) for k, v in renderer_flops(renderer).items()}  # TFLOP per frame / identity
    if args.flops_only:
        print(json.dumps({"config": args.config, "sizes": args.sizes, "tflops": flops}, indent=2))
        return
    renderer = renderer.to(device)
    warping, generator = renderer.warping, renderer.generator
    if args.compile:
        warping = torch.compile(warping, mode="max-autotune" if device.type == "cuda" else "default")
        generator = torch.compile(generator, mode="max-autotune" if device.type == "cuda" else "default")
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()

    source = torch.rand(1, 3, cfg.input_size, cfg.input_size, device=device)
    codes = torch.zeros(args.batch, CODE_DIM, device=device)
    codes[:, 24] = torch.linspace(0, 1, args.batch, device=device)  # jawOpen sweep
    codes[:, 51] = torch.linspace(-0.3, 0.3, args.batch, device=device)  # yaw sweep

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    timings: dict[str, list[float]] = {
        k: [] for k in ("appearance_per_identity", "keypoints", "dense_motion", "warp", "generator", "total_per_batch")
    }

    def timed(name: str, fn, *args):
        sync()
        t = time.perf_counter()
        out = fn(*args)
        sync()
        timings[name].append(time.perf_counter() - t)
        return out

    with torch.inference_mode(), autocast:
        for it in range(args.warmup + args.iters):
            if it == args.warmup:
                timings = {k: [] for k in timings}
            start = time.perf_counter()
            volume = timed("appearance_per_identity", renderer.appearance, source)  # (1, C, D, h, w)
            kp_s = renderer.keypoints(codes[:1])  # (1, K, 3)
            kp_d = timed("keypoints", renderer.keypoints, codes)  # (B, K, 3)
            vol = volume.expand(args.batch, -1, -1, -1, -1)
            kp_s = kp_s.expand(args.batch, -1, -1)
            if args.compile:  # compiled W runs dense motion and warp as one graph
                feats, _, _ = timed("warp", warping, vol, kp_s, kp_d)
                timings["dense_motion"].append(0.0)
            else:
                deformation, occlusion = timed("dense_motion", warping.dense_motion, vol, kp_s, kp_d)
                feats = timed("warp", warping.warp_features, vol, deformation, occlusion)
            image = timed("generator", generator, feats)  # (B, 3, 512, 512)
            sync()
            timings["total_per_batch"].append(time.perf_counter() - start)

    mean = {k: sum(v) / len(v) for k, v in timings.items()}
    per_frame_s = (mean["total_per_batch"] - mean["appearance_per_identity"]) / args.batch
    result = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)",
        "config": args.config,
        "sizes": args.sizes,
        "tflops": flops,
        "output": list(image.shape[1:]),
        "batch": args.batch,
        "bf16": args.bf16,
        "compile": args.compile,
        "params_M": {
            n: round(sum(p.numel() for p in getattr(renderer, n).parameters()) / 1e6, 2)
            for n in ("appearance", "warping", "generator")
        },
        "frames_per_s": round(1.0 / per_frame_s, 3),
        "ms_per_frame": round(per_frame_s * 1e3, 2),
        "ms_per_batch": {k: round(v * 1e3, 2) for k, v in mean.items()},
        "share_of_time": {
            k: round(mean[k] / mean["total_per_batch"], 3)
            for k in ("appearance_per_identity", "keypoints", "dense_motion", "warp", "generator")
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        tmp = f"{args.out}.tmp"
        Path(tmp).write_text(text)
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
