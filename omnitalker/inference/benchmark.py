"""Per-stage inference speed: DiT sampling, vocoder, renderer, muxing (and optionally the reference analysis)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from omnitalker.constants import CODE_DIM, MEL_FPS, N_MELS
from omnitalker.flow.sampler import FlowSampler, SamplerConfig
from omnitalker.inference.mux import write_video
from omnitalker.models.dit import OmniTalkerDiT
from omnitalker.render.renderer import Renderer
from omnitalker.vocoder import Vocoder


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Mean seconds of ``fn`` over ``repeats`` runs after one warm-up run."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    fn()
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return (time.perf_counter() - start) / repeats


def benchmark_stages(
    dit: OmniTalkerDiT,
    renderer: Renderer,
    vocoder: Vocoder,
    device: torch.device,
    reference_seconds: float,
    generated_seconds: float,
    fps: float,
    sampler: SamplerConfig,
    bf16: bool,
    render_batch: int = 16,
    repeats: int = 2,
    reference_video: str | None = None,
) -> dict[str, float]:
    """Seconds per stage for one clip of ``generated_seconds``; plus seconds per generated second and FPS."""
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    n_ref, n_gen = round(reference_seconds * MEL_FPS), round(generated_seconds * MEL_FPS)
    n = n_ref + n_gen
    frames = round(generated_seconds * fps)
    gen = torch.Generator().manual_seed(0)
    ctx_a = torch.randn(1, n, N_MELS, generator=gen).to(device)  # (1, n, 100)
    ctx_v = torch.randn(1, n, CODE_DIM, generator=gen).to(device)  # (1, n, 61)
    text = torch.randint(0, dit.cfg.text_vocab_size, (1, n // 6), generator=gen).to(device)  # (1, l)
    flow = FlowSampler(dit.to(device).eval(), sampler)

    def sample() -> None:
        with torch.no_grad(), autocast:
            flow.sample(ctx_a, ctx_v, torch.tensor([n_ref], device=device), torch.tensor([n], device=device), text)

    mel = torch.randn(1, n_gen, N_MELS, generator=gen).to(device) - 4  # (1, n_gen, 100)

    def vocode() -> None:
        with autocast:
            vocoder.decode(mel)

    renderer = renderer.to(device).eval()
    size = renderer.cfg.input_size
    source = torch.rand(1, 3, size, size, generator=gen).to(device)  # (1, 3, S, S)
    source_code = torch.zeros(CODE_DIM, device=device)
    driving = (0.05 * torch.randn(frames, CODE_DIM, generator=gen)).to(device)  # (T, 61)

    def render() -> None:
        with autocast:
            renderer.animate(source, source_code, driving, render_batch, progress=False)

    video = np.random.default_rng(0).integers(0, 255, (frames, 512, 512, 3), dtype=np.uint8)
    audio = (0.1 * np.random.default_rng(1).standard_normal(round(generated_seconds * 24000))).astype(np.float32)
    tmp = Path(tempfile.mkdtemp())

    def mux() -> None:
        write_video(tmp / "bench.mp4", video, audio, fps=fps)

    result = {
        "dit_s": timed(sample, device, repeats),
        "vocoder_s": timed(vocode, device, repeats),
        "renderer_s": timed(render, device, repeats),
        "mux_s": timed(mux, device, max(1, repeats - 1)),
    }
    if reference_video:
        from omnitalker.face.extract import extract_codes

        result["reference_s"] = timed(lambda: extract_codes(reference_video), torch.device("cpu"), 1)
    total = sum(result.values())
    for stage in list(result):
        result[stage.replace("_s", "_s_per_generated_s")] = result[stage] / generated_seconds
    result["total_s"] = total
    result["fps_end_to_end"] = frames / total
    result["renderer_fps"] = frames / result["renderer_s"]
    return result
