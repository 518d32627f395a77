"""Measured training throughput (frames/s) and model FLOPs utilisation of one optimisation step."""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch

from omnitalker.flow.host_lengths import HostLengths
from omnitalker.flow.objective import FlowMatchingObjective, ObjectiveConfig
from omnitalker.models.dit import OmniTalkerDiT
from omnitalker.models.flops import analytic_forward_flops

# Dense bf16 tensor-core peaks (TFLOP/s) for MFU; pass peak_tflops for other devices.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "RTX 4090": 165.2, "L40S": 362.0, "A10": 125.0}


@dataclass
class TrainBenchResult:
    device: str
    precision: str
    compiled: bool
    batch: int
    frames_per_sample: int
    step_s: float
    frames_per_s: float
    tflops_per_s: float
    mfu: float | None
    peak_memory_gb: float | None
    params: int

    def to_dict(self) -> dict:
        return asdict(self)


def peak_tflops_for(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def benchmark_train_step(
    model: OmniTalkerDiT,
    device: torch.device,
    batch: int,
    frames: int,
    bf16: bool,
    compile_model: bool = False,
    warmup: int = 3,
    iters: int = 10,
    peak_tflops: float | None = None,
) -> TrainBenchResult:
    model = model.to(device).train()
    model.set_value_checks(False)  # as in training: no per-step device read-backs (the lengths are known here)
    objective = FlowMatchingObjective(ObjectiveConfig())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda" or None)
    forward = torch.compile(model) if compile_model else model
    gen = torch.Generator(device="cpu").manual_seed(0)
    mel = torch.randn(batch, frames, model.cfg.mel_dim, generator=gen).to(device)  # (b, n, 100)
    codes = torch.randn(batch, frames, model.cfg.code_dim, generator=gen).to(device)  # (b, n, 61)
    text = torch.randint(0, model.cfg.text_vocab_size, (batch, frames // 8), generator=gen).to(device)  # (b, l)
    lengths = torch.full((batch,), frames, device=device)
    host = HostLengths.from_lists([frames] * batch)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()

    def step() -> None:
        with autocast:
            loss = objective(forward, mel, codes, text, lengths, host=host).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        step()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    sync()
    step_s = (time.perf_counter() - start) / iters
    flops = 3 * analytic_forward_flops(model, frames, batch)  # forward + backward ≈ 3x forward
    peak = peak_tflops if peak_tflops is not None else peak_tflops_for(device)
    achieved = flops / step_s / 1e12
    return TrainBenchResult(
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        precision="bf16-mixed" if bf16 else "fp32",
        compiled=compile_model,
        batch=batch,
        frames_per_sample=frames,
        step_s=step_s,
        frames_per_s=batch * frames / step_s,
        tflops_per_s=achieved,
        mfu=achieved / peak if peak else None,
        peak_memory_gb=torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        params=sum(p.numel() for p in model.parameters()),
    )
