"""Model-level sections of the GPU report: DiT sampling, renderer, training. Each returns ``{"rows": [...]}``; a row
that fails records its error and the section goes on with the next row."""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch

from omnitalker.constants import CODE_DIM, MEL_FPS, N_MELS
from omnitalker.flow.sampler import FlowSampler, SamplerConfig
from omnitalker.gpu_report.settings import ReportSettings
from omnitalker.models.factory import build_dit
from omnitalker.models.flops import analytic_forward_flops
from omnitalker.render.benchmark import face_model_for_benchmark, renderer_config, tflops_per_frame, time_renderer
from omnitalker.render.renderer import Renderer
from omnitalker.training.benchmark import benchmark_train_step, peak_tflops_for

GUIDANCE_BRANCHES = {"full": 4, "two_pass": 2, "none": 1}


def guarded(rows: list[dict[str, Any]], label: dict[str, Any], fn: Callable[[], dict[str, Any]]) -> None:
    """Run one measurement; on failure record its error (one line) instead of losing the section."""
    try:
        rows.append({**label, **fn()})
    except Exception as exc:  # noqa: BLE001 - a report row must not take the others down
        traceback.print_exc()
        rows.append({**label, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"})
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    if path := os.environ.get("GPU_REPORT_ROWS"):  # rows done so far survive a section that runs out of time
        with open(path, "a") as f:
            f.write(json.dumps(rows[-1], default=str) + "\n")


def variants(s: ReportSettings, device: torch.device) -> list[tuple[bool, bool]]:
    """(bf16, compile) pairs: fp32 eager as the baseline, then on a GPU bf16 eager and bf16 compiled (bf16 autocast
    on a CPU is slower than fp32, and compiling takes minutes: neither belongs in the CPU smoke run)."""
    if device.type != "cuda":
        return [(False, False)]
    return [(False, False), (True, False)] + ([(True, True)] if s.compile else [])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def dit_sampling(s: ReportSettings, device: torch.device) -> dict[str, Any]:
    """Sampling FPS (video frames at ``s.fps`` per second of wall time) and MFU of the DiT, full 4-branch CFG in one
    batched forward and the two-pass variant, for each precision/compile variant."""
    torch.manual_seed(0)
    model = build_dit(s.arch(), text_vocab_size=s.vocab_size, dropout=0.0).to(device).eval()
    n_ref, n_gen = round(s.reference_seconds * MEL_FPS), round(s.generated_seconds * MEL_FPS)
    n = n_ref + n_gen
    gen = torch.Generator().manual_seed(0)
    ctx_a = torch.randn(1, n, N_MELS, generator=gen).to(device)  # (1, n, 100)
    ctx_v = torch.randn(1, n, CODE_DIM, generator=gen).to(device)  # (1, n, 61)
    text = torch.randint(0, s.vocab_size, (1, n // 6), generator=gen).to(device)  # (1, l)
    peak = peak_tflops_for(device)
    rows: list[dict[str, Any]] = []
    compiled = None
    for bf16, compile_model in variants(s, device):
        if compile_model and compiled is None:
            compiled = torch.compile(model, mode=s.compile_mode)
        net = compiled if compile_model else model
        for cfg_mode in ("full", "two_pass"):
            sampler = SamplerConfig.from_dict({**s.sampler(), "steps": s.steps, "cfg_mode": cfg_mode})
            flow = FlowSampler(net, sampler)

            def measure(flow: FlowSampler = flow, bf16: bool = bf16, cfg_mode: str = cfg_mode) -> dict[str, Any]:
                autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()

                def run() -> None:
                    with torch.no_grad(), autocast:
                        flow.sample(ctx_a, ctx_v, torch.tensor([n_ref], device=device),
                                    torch.tensor([n], device=device), text)

                t0 = time.perf_counter()
                run()  # warm-up (and compilation)
                _sync(device)
                warm = time.perf_counter() - t0
                t0 = time.perf_counter()
                for _ in range(s.repeats):
                    run()
                _sync(device)
                sec = (time.perf_counter() - t0) / s.repeats
                flops = s.steps * analytic_forward_flops(model, n, GUIDANCE_BRANCHES[cfg_mode])
                frames = s.generated_seconds * s.fps
                return {"seconds": sec, "warmup_s": warm, "fps": frames / sec,
                        "real_time_factor": sec / s.generated_seconds,
                        "tflop": flops / 1e12, "tflops_per_s": flops / sec / 1e12,
                        "mfu": flops / sec / 1e12 / peak if peak else None}

            guarded(rows, {"cfg_mode": cfg_mode, "bf16": bf16, "compile": compile_model}, measure)
    return {"model": s.model, "params": sum(p.numel() for p in model.parameters()), "frames_total": n,
            "generated_seconds": s.generated_seconds, "steps": s.steps, "peak_tflops": peak, "rows": rows}


def renderer(s: ReportSettings, device: torch.device) -> dict[str, Any]:
    """Frames/s of the lean renderer (and of the pre-budget sizes, bf16, for before/after)."""
    face_model = face_model_for_benchmark()
    rows: list[dict[str, Any]] = []
    runs = [("budget", bf16, comp) for bf16, comp in variants(s, device)] + [("full", device.type == "cuda", False)]
    flops: dict[str, Any] = {}
    for sizes, bf16, compile_modules in runs:
        def measure(sizes: str = sizes, bf16: bool = bf16, compile_modules: bool = compile_modules) -> dict[str, Any]:
            torch.manual_seed(0)
            model = Renderer(renderer_config(s.renderer, sizes), face_model).eval()
            flops.setdefault(sizes, tflops_per_frame(model))
            out = time_renderer(model, device, s.render_batch, s.render_iters, 1, bf16, compile_modules,
                                s.compile_mode)
            return {"fps": out["frames_per_s"], "ms_per_frame": out["ms_per_frame"], "output": out["output"],
                    "batch": s.render_batch, "tflop_per_frame": flops[sizes]["per_frame"],
                    "tflops_per_s": flops[sizes]["per_frame"] * out["frames_per_s"]}

        guarded(rows, {"sizes": sizes, "bf16": bf16, "compile": compile_modules}, measure)
    return {"config": s.renderer, "tflops": flops, "rows": rows}


def training(s: ReportSettings, device: torch.device) -> dict[str, Any]:
    """Training frames/s and MFU of one optimisation step (``omnitalker.training.benchmark``)."""
    rows: list[dict[str, Any]] = []
    runs = [(device.type == "cuda", False)] + ([(True, True)] if s.compile and device.type == "cuda" else [])
    for bf16, compile_model in runs:
        def measure(bf16: bool = bf16, compile_model: bool = compile_model) -> dict[str, Any]:
            torch.manual_seed(0)
            model = build_dit(s.arch(), text_vocab_size=s.vocab_size, dropout=0.0)
            out = benchmark_train_step(model, device, s.train_batch, s.train_frames, bf16, compile_model,
                                       s.train_warmup, s.train_iters).to_dict()
            return {k: out[k] for k in ("batch", "frames_per_sample", "step_s", "frames_per_s", "tflops_per_s", "mfu",
                                        "peak_memory_gb", "params")}

        guarded(rows, {"bf16": bf16, "compile": compile_model}, measure)
    return {"model": s.model, "rows": rows}
