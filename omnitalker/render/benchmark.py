"""Renderer speed: frames/s of the per-frame path (keypoints, dense motion, warp, generator) for a batch of driving
codes, the source volume computed once per identity as ``Renderer.animate`` does. Used by
``scripts/benchmark_render.py`` and the GPU report (``omnitalker/gpu_report``); weights are random (speed does not
depend on them)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import torch

from omnitalker.constants import CODE_DIM
from omnitalker.face.face_model import DEFAULT_MODEL_PATH, FaceModel
from omnitalker.render.config import (
    PRE_BUDGET,
    SMALL_PRE_BUDGET,
    RendererConfig,
    paper_config,
    small_config,
)
from omnitalker.render.flops import renderer_flops
from omnitalker.render.renderer import Renderer

STAGES = ("appearance_per_identity", "keypoints", "dense_motion", "warp", "generator", "total_per_batch")


def face_model_for_benchmark(path: str | None = None) -> FaceModel:
    """The given face model, else the bundled one, else a random one of the same size (speed does not depend on it)."""
    if path:
        return FaceModel.load(path)
    if DEFAULT_MODEL_PATH.is_file():
        return FaceModel.default()
    g = torch.Generator().manual_seed(0)
    return FaceModel(
        torch.randn(478, 3, generator=g) * 0.5,
        torch.randn(51, 478, 3, generator=g) * 0.05,
        torch.randn(4, 478, 3, generator=g) * 0.02,
    )


def renderer_config(config: str, sizes: str) -> RendererConfig:
    """``config`` small | paper, ``sizes`` budget (the lean defaults) | full (the sizes before the compute budget)."""
    if config not in ("small", "paper") or sizes not in ("budget", "full"):
        raise ValueError(f"config must be small|paper and sizes budget|full, got {config!r}, {sizes!r}")
    if config == "paper":
        return paper_config(**(PRE_BUDGET if sizes == "full" else {}))
    return small_config(**(SMALL_PRE_BUDGET if sizes == "full" else {}))


def tflops_per_frame(renderer: Renderer) -> dict[str, float]:
    """TFLOP per frame by module (``appearance`` once per identity), FlopCounterMode on the meta device."""
    return {k: round(v / 1e12, 4) for k, v in renderer_flops(renderer).items()}


def time_renderer(
    renderer: Renderer,
    device: torch.device,
    batch: int = 8,
    iters: int = 3,
    warmup: int = 1,
    bf16: bool = False,
    compile_modules: bool = False,
    compile_mode: str | None = None,
) -> dict[str, Any]:
    """Mean milliseconds per stage over ``iters`` batches after ``warmup`` batches, frames/s of the per-frame path
    (appearance excluded: it runs once per identity) and each stage's share of the batch time. ``compile_modules``
    wraps the warping network and the generator in ``torch.compile(mode=compile_mode)`` (default: max-autotune on
    CUDA)."""
    cfg = renderer.cfg
    renderer = renderer.to(device).eval()
    warping, generator = renderer.warping, renderer.generator
    if compile_modules:
        mode = compile_mode or ("max-autotune" if device.type == "cuda" else "default")
        warping, generator = torch.compile(warping, mode=mode), torch.compile(generator, mode=mode)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    source = torch.rand(1, 3, cfg.input_size, cfg.input_size, device=device)  # (1, 3, S, S)
    codes = torch.zeros(batch, CODE_DIM, device=device)  # (B, 61)
    codes[:, 24] = torch.linspace(0, 1, batch, device=device)  # jawOpen sweep
    codes[:, 51] = torch.linspace(-0.3, 0.3, batch, device=device)  # yaw sweep

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    timings: dict[str, list[float]] = {k: [] for k in STAGES}
    cpu_s: list[float] = []  # process CPU time per batch: on a shared CPU, what the work cost without the waiting

    def timed(name: str, fn: Callable[..., Any], *args: Any) -> Any:
        sync()
        t = time.perf_counter()
        out = fn(*args)
        sync()
        timings[name].append(time.perf_counter() - t)
        return out

    with torch.inference_mode(), autocast:
        for it in range(warmup + iters):
            if it == warmup:
                timings = {k: [] for k in STAGES}
                cpu_s = []
            start = time.perf_counter()
            volume = timed("appearance_per_identity", renderer.appearance, source)  # (1, C, D, h, w)
            cpu_start = time.process_time()
            kp_s = renderer.keypoints(codes[:1]).expand(batch, -1, -1)  # (B, K, 3)
            kp_d = timed("keypoints", renderer.keypoints, codes)  # (B, K, 3)
            vol = volume.expand(batch, -1, -1, -1, -1)  # (B, C, D, h, w)
            if compile_modules:  # the compiled W runs dense motion and warp as one graph
                feats, _, _ = timed("warp", warping, vol, kp_s, kp_d)  # (B, C2, h, w)
                timings["dense_motion"].append(0.0)
            else:
                deformation, occlusion = timed("dense_motion", warping.dense_motion, vol, kp_s, kp_d)
                feats = timed("warp", warping.warp_features, vol, deformation, occlusion)  # (B, C2, h, w)
            image = timed("generator", generator, feats)  # (B, 3, out, out)
            sync()
            timings["total_per_batch"].append(time.perf_counter() - start)
            cpu_s.append(time.process_time() - cpu_start)

    mean = {k: sum(v) / len(v) for k, v in timings.items()}
    per_frame_s = (mean["total_per_batch"] - mean["appearance_per_identity"]) / batch
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda"
        else f"cpu ({torch.get_num_threads()} threads)",
        "output": list(image.shape[1:]),
        "batch": batch,
        "iters": iters,
        "bf16": bf16,
        "compile": compile_modules,
        "params_M": {n: round(sum(p.numel() for p in getattr(renderer, n).parameters()) / 1e6, 2)
                     for n in ("appearance", "warping", "generator")},
        "frames_per_s": round(1.0 / per_frame_s, 3),
        "ms_per_frame": round(per_frame_s * 1e3, 2),
        # process CPU seconds per frame of the per-frame path; with one thread ~ the time on an unloaded core
        "cpu_ms_per_frame": round(sum(cpu_s) / len(cpu_s) / batch * 1e3, 2) if device.type == "cpu" else None,
        "ms_per_batch": {k: round(v * 1e3, 2) for k, v in mean.items()},
        "share_of_time": {k: round(mean[k] / mean["total_per_batch"], 3) for k in STAGES[:-1]},
    }
