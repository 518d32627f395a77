"""Inference speed through the real pipeline (`OmniTalkerPipeline.generate`, the code path users run) with random
models of any size: first-piece latency, real-time factor, frames per second, seconds per stage.

Speed does not depend on trained weights, so the benchmarks build random models of the chosen sizes
(:func:`random_pipeline`) and a synthetic reference (:func:`synthetic_reference`); everything after that is the
pipeline's own code.
"""

from __future__ import annotations

import string
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from omnitalker.checkpoint import LoadedDiT
from omnitalker.constants import CODE_DIM, MEL_FPS, N_MELS, SAMPLE_RATE
from omnitalker.face.face_model import FaceModel
from omnitalker.inference.pipeline import OmniTalkerPipeline, PipelineConfig, ReferenceAnalysis
from omnitalker.models.factory import build_dit
from omnitalker.render.config import RendererConfig
from omnitalker.render.renderer import Renderer
from omnitalker.text import Vocab
from omnitalker.vocoder import GriffinLimVocoder, VocosArchitecture, VocosVocoder, build_vocos

REFERENCE_TEXT = "this is the reference speaker saying a few plain words for the voice and the face"
BENCH_TEXT = ("The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step, "
              "and every step after it counts just as much. ")


def text_of_length(seconds: float, words_per_second: float = 2.5) -> str:
    """The benchmark text repeated to about ``seconds`` of speech at the synthetic reference's speaking rate."""
    words = BENCH_TEXT.split()
    return " ".join(words[i % len(words)] for i in range(max(1, round(seconds * words_per_second)))) + "."


def random_pipeline(cfg: PipelineConfig, arch: Mapping[str, Any], renderer_cfg: RendererConfig, vocoder: str = "vocos",
                    vocos_arch: VocosArchitecture = VocosArchitecture(), code_std: float = 0.05) -> OmniTalkerPipeline:
    """A pipeline around randomly initialised models: a DiT of ``arch`` (its vocabulary: the characters of the
    benchmark texts), a renderer of ``renderer_cfg`` and a Vocos of ``vocos_arch`` (or Griffin-Lim). The code
    normaliser's std ``code_std`` keeps the random codes near the neutral face."""
    torch.manual_seed(0)
    vocab = Vocab.build([REFERENCE_TEXT, BENCH_TEXT, string.ascii_letters + " .,;:!?'-"])
    model = build_dit(arch, text_vocab_size=max(len(vocab), int(arch.get("text_vocab_size", 0))), dropout=0.0)
    normalizer = {"mean": torch.zeros(CODE_DIM), "std": torch.full((CODE_DIM,), code_std)}
    loaded = LoadedDiT(model.eval(), vocab.symbols, normalizer, {}, "ema")
    renderer = Renderer(renderer_cfg, FaceModel.default()).eval()
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if cfg.device == "auto" else cfg.device))
    decoder = VocosVocoder(build_vocos(vocos_arch), device) if vocoder == "vocos" else GriffinLimVocoder(device)
    return OmniTalkerPipeline.from_models(cfg, loaded, renderer, decoder)


def synthetic_reference(seconds: float, image_size: int, text: str = REFERENCE_TEXT, seed: int = 0
                        ) -> ReferenceAnalysis:
    """A reference analysis without a video: a speech-like log-mel, neutral codes and a smooth random face crop.
    Its speaking rate sets the duration rule: 6.4 s for the 16 words of ``REFERENCE_TEXT`` is 2.5 words/s."""
    gen = torch.Generator().manual_seed(seed)
    n = round(seconds * MEL_FPS)
    mel = torch.randn(n, N_MELS, generator=gen) - 4.0  # (n, 100)
    codes = 0.02 * torch.randn(n, CODE_DIM, generator=gen)  # (n, 61)
    low = torch.rand(1, 3, 8, 8, generator=gen)  # (1, 3, 8, 8) a smooth image: like a face crop, compresses alike
    image = torch.nn.functional.interpolate(low, size=image_size, mode="bicubic", align_corners=False)[0]
    image = (image.clamp(0, 1).permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()  # (S, S, 3)
    return ReferenceAnalysis(None, text, mel, codes, np.ascontiguousarray(image), torch.zeros(CODE_DIM), {})


def benchmark_pipeline(pipe: OmniTalkerPipeline, ref: ReferenceAnalysis, text: str, repeats: int = 1,
                       fragmented: bool = True, warmup: bool = True) -> dict[str, float]:
    """Time ``pipe.generate`` (fragmented mp4 with a short first chunk: what ``infer.py stream=true`` does) on
    ``text``: first-piece latency, total seconds, real-time factor (seconds per second of output), end-to-end FPS
    and seconds per stage; the mean over ``repeats`` runs after one warm-up run on the first sentence."""
    sync = torch.cuda.synchronize if pipe.device.type == "cuda" else (lambda: None)
    out = Path(tempfile.mkdtemp()) / "bench.mp4"
    first = pipe.cfg.first_chunk_seconds
    if warmup:
        pipe.generate(text.split(".")[0] + ".", ref, out, progress=False, first_chunk_seconds=first,
                      fragmented=fragmented)
    runs = []
    for _ in range(repeats):
        sync()
        tic = time.perf_counter()
        result = pipe.generate(text, ref, out, progress=False, first_chunk_seconds=first, fragmented=fragmented)
        sync()
        runs.append((time.perf_counter() - tic, result))
    total = float(np.mean([t for t, _ in runs]))
    result = runs[-1][1]
    row = {"output_s": result.duration_s, "chunks": len(result.chunks), "total_s": total,
           "first_piece_s": float(np.mean([r.first_piece_s for _, r in runs])),
           "rtf": total / result.duration_s, "fps_end_to_end": result.duration_s * pipe.cfg.fps / total,
           "audio_samples": round(result.duration_s * SAMPLE_RATE)}
    for stage in ("reference", "dit", "vocoder", "renderer", "mux"):
        row[f"{stage}_s"] = float(np.mean([r.timings.get(stage, 0.0) for _, r in runs]))
    out.unlink(missing_ok=True)
    return row
