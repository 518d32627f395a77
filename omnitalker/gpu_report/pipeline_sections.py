"""Sections of the GPU report that go through ``OmniTalkerPipeline``: end-to-end FPS of ``generate`` and, when the
pipeline has ``stream``, the first-chunk latency. Random weights of the report's sizes (speed does not depend on
them) are written once into an assets folder in the formats users load: a DiT checkpoint (weights_only-loadable),
a renderer directory, a Vocos directory, and a reference clip (noise frames, noise speech) with its codes file."""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from omnitalker.checkpoint import CHECKPOINT_FORMAT
from omnitalker.constants import CODE_DIM, SAMPLE_RATE
from omnitalker.gpu_report.sections import guarded
from omnitalker.gpu_report.settings import ReportSettings
from omnitalker.inference.mux import write_video
from omnitalker.inference.pipeline import OmniTalkerPipeline, PipelineConfig
from omnitalker.models.factory import build_dit
from omnitalker.render.benchmark import face_model_for_benchmark, renderer_config
from omnitalker.render.checkpoint import save_renderer
from omnitalker.render.renderer import Renderer
from omnitalker.text import Vocab
from omnitalker.vocoder.vocos_model import VocosArchitecture, build_vocos, save_vocos

REFERENCE_TEXT = "This is the reference speech of the speaker, a few words long."
TEXT = "Real time talking heads need every stage to keep up with the speech they make, frame after frame."


def make_assets(s: ReportSettings, folder: Path) -> dict[str, Path]:
    """Write (once) the random-weight models and the reference clip; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"dit": folder / "dit.ckpt", "renderer": folder / "renderer", "vocos": folder / "vocos",
             "reference": folder / "reference.mp4", "codes": folder / "reference_codes.npz"}
    if not paths["dit"].is_file():
        vocab = Vocab.build([REFERENCE_TEXT, TEXT])
        arch = {**s.arch(), "text_vocab_size": len(vocab.symbols), "dropout": 0.0}
        torch.manual_seed(0)
        dit = build_dit(arch)
        normalizer = {"mean": torch.zeros(CODE_DIM), "std": torch.ones(CODE_DIM)}
        meta = {"format": CHECKPOINT_FORMAT, "arch": arch, "objective": {}, "sampler": s.sampler(),
                "vocab": list(vocab.symbols), "normalizer": normalizer, "config": {}, "face_model": None}
        state = {f"net.{k}": v for k, v in dit.state_dict().items()}
        tmp = paths["dit"].with_suffix(".tmp")
        torch.save({"state_dict": state, "omnitalker": meta}, tmp)
        tmp.replace(paths["dit"])
    if not (paths["renderer"] / "renderer.safetensors").is_file():
        torch.manual_seed(0)
        save_renderer(Renderer(renderer_config(s.renderer, "budget"), face_model_for_benchmark()).eval(),
                      paths["renderer"])
    if not (paths["vocos"] / "pytorch_model.bin").is_file():
        torch.manual_seed(0)
        save_vocos(build_vocos(), paths["vocos"], VocosArchitecture())
    if not paths["codes"].is_file():
        rng = np.random.default_rng(0)
        frames = round(s.reference_seconds * s.fps)
        size = 256 if s.renderer == "paper" else 64
        video = rng.integers(0, 255, (frames, size, size, 3), dtype=np.uint8)
        audio = (0.1 * rng.standard_normal(round(s.reference_seconds * SAMPLE_RATE))).astype(np.float32)
        write_video(paths["reference"], video, audio, fps=s.fps)
        codes = (0.05 * rng.standard_normal((frames, CODE_DIM))).astype(np.float32)
        np.savez(paths["codes"], codes=codes, fps=np.float32(s.fps), text=np.array(REFERENCE_TEXT))
    return paths


def _pipeline(s: ReportSettings, paths: dict[str, Path], device: torch.device, **extra: Any) -> OmniTalkerPipeline:
    video_size = 512 if s.renderer == "paper" else 128
    return OmniTalkerPipeline(PipelineConfig(
        str(paths["dit"]), str(paths["renderer"]), vocoder="vocos", vocoder_path=str(paths["vocos"]),
        device=str(device), sampler={"steps": s.steps, "cfg_mode": "full"}, fps=s.fps, video_size=video_size,
        crop="none", **extra))


def end_to_end(s: ReportSettings, device: torch.device, assets: Path) -> dict[str, Any]:
    """``OmniTalkerPipeline.generate`` on ``generated_seconds`` of speech (one chunk), after one warm-up call:
    frames per second of wall time, stage timings as the pipeline reports them. On a GPU (with ``s.compile``) also
    with ``compile=true``, then with CUDA graphs (``compile_mode=reduce-overhead``): whether they pay."""
    paths = make_assets(s, assets)
    runs: list[tuple[str, dict[str, Any]]] = [("eager", {})]
    if s.compile and device.type == "cuda":
        runs += [("compile", {"compile": True}), ("compile + CUDA graphs",
                                                  {"compile": True, "compile_mode": "reduce-overhead"})]
    rows: list[dict[str, Any]] = []
    for name, extra in runs:
        def measure(extra: dict[str, Any] = extra) -> dict[str, Any]:
            t0 = time.perf_counter()
            pipe = _pipeline(s, paths, device, **extra)
            load_s = time.perf_counter() - t0
            out = assets / "out.mp4"

            def run() -> Any:
                return pipe.generate(TEXT, paths["reference"], out, ref_codes=paths["codes"],
                                     duration=s.generated_seconds, progress=False)

            t0 = time.perf_counter()
            run()  # warm-up: CUDA context, cuDNN autotuning, encoder start-up, compiling
            warm = time.perf_counter() - t0
            t0 = time.perf_counter()
            result = run()
            sec = time.perf_counter() - t0
            frames = round(result.duration_s * s.fps)
            return {"seconds": sec, "warmup_s": warm, "load_s": load_s, "video_seconds": result.duration_s,
                    "frames": frames, "fps": frames / sec, "real_time_factor": sec / result.duration_s,
                    **{f"{k}_s": v for k, v in result.timings.items()}}

        guarded(rows, {"precision": "as the pipeline runs it", "variant": name}, measure)
    return {"rows": rows}


def _count_frames(item: Any) -> int:
    """Video frames in one streamed item: the first 4-D array/tensor found in it (T, ...)."""
    parts = item if isinstance(item, (tuple, list)) else [getattr(item, k, None) for k in ("frames", "video")]
    for part in parts:
        if isinstance(part, (np.ndarray, torch.Tensor)) and part.ndim == 4:
            return int(part.shape[0])
    return 0


def streaming(s: ReportSettings, device: torch.device, assets: Path) -> dict[str, Any]:
    """First-chunk latency of ``OmniTalkerPipeline.stream`` (feature-detected: skipped when absent)."""
    stream = getattr(OmniTalkerPipeline, "stream", None)
    if stream is None:
        return {"skipped": "OmniTalkerPipeline.stream does not exist in this revision", "rows": []}
    paths = make_assets(s, assets)
    pipe = _pipeline(s, paths, device)
    accepted = inspect.signature(stream).parameters
    extra = {k: v for k, v in {"ref_codes": paths["codes"], "progress": False}.items() if k in accepted}
    long_text = " ".join([TEXT] * 3)

    def run() -> dict[str, Any]:
        t0 = time.perf_counter()
        first, chunks, frames = None, 0, 0
        for item in pipe.stream(long_text, paths["reference"], **extra):
            if first is None:
                first = time.perf_counter() - t0
            chunks += 1
            frames += _count_frames(item)
        total = time.perf_counter() - t0
        row = {"first_chunk_s": first, "total_s": total, "chunks": chunks, "frames": frames}
        if frames:
            row["real_time_factor"] = total / (frames / s.fps)
        return row

    warm = run()  # warm-up
    row = run()
    return {"rows": [{**row, "warmup_first_chunk_s": warm["first_chunk_s"]}]}
