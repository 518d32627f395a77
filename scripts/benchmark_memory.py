"""Peak memory (RSS) of inference for 1, 2 and 5 minutes of output: is memory flat in the length of the text?

    python scripts/benchmark_memory.py                       # 1, 2, 5 minutes, quick-start sizes, one process each
    python scripts/benchmark_memory.py minutes=[1] steps=2   # quicker
    python scripts/benchmark_memory.py model=small renderer=small vocoder=griffin_lim fps=25   # the quick-start sizes

Random models (DiT ``tiny``; renderer ``small`` or a leaner variant drawing 128 px, upscaled to 512 px output frames
like infer.py; a Vocos of the configured sizes, by default smaller than mel-24khz: it only decodes one chunk at a
time, so its size changes the speed, not how memory grows), run through ``OmniTalkerPipeline.generate`` into an mp4. Each length
runs in its own process (peak RSS is per process); a sampler thread also records RSS every 0.5 s. Speed does not
matter here, so few ODE steps are fine (memory does not depend on them), and ``fps`` can be lowered to fit a shared
CPU: frames are held one render batch at a time whatever the rate, so a leak of frames would still show (5 min at
1 fps = 300 frames of 512 px = 236 MB if they were kept, 5 fps: 1.2 GB). Target (issue 12): < 4 GB, flat in length.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf


LEAN = {"appearance": {"block_expansion": 8, "max_features": 32}, "motion": {"block_expansion": 4, "max_features": 32},
        "generator": {"features": 16, "min_features": 8, "spade_hidden": 16}}  # the small renderer at 1/3 the cost


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(cfg: DictConfig, minutes: float) -> dict:
    """One length, in this process: RSS after loading, peak RSS, RSS samples over the run."""
    import torch

    from omnitalker.inference.benchmark import random_pipeline, synthetic_reference, text_of_length
    from omnitalker.inference.pipeline import PipelineConfig
    from omnitalker.render.config import small_config
    from omnitalker.vocoder import VocosArchitecture

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    sampler = {**OmegaConf.to_container(cfg.model.sampler), "steps": cfg.steps}
    renderer_cfg = small_config(**LEAN) if cfg.renderer == "lean" else small_config()
    pipe_cfg = PipelineConfig("", None, device="cpu", sampler=sampler, video_size=cfg.video_size, fps=cfg.fps,
                              render_batch=cfg.render_batch, first_chunk_seconds=None)
    pipe = random_pipeline(pipe_cfg, OmegaConf.to_container(cfg.model.arch), renderer_cfg, cfg.vocoder,
                           VocosArchitecture(**OmegaConf.to_container(cfg.vocos)))
    ref = synthetic_reference(6.4, renderer_cfg.input_size)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        start = time.perf_counter()
        while not stop.wait(0.5):
            samples.append((round(time.perf_counter() - start, 1), round(rss_mb(), 1)))

    loaded = rss_mb()
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    tic = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = pipe.generate(text_of_length(minutes * 60), ref, Path(tmp) / "long.mp4", progress=False)
    wall = time.perf_counter() - tic
    stop.set()
    thread.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    half = [mb for t, mb in samples if t >= wall / 2]
    return {"minutes": minutes, "output_s": round(result.duration_s, 1), "chunks": len(result.chunks),
            "video_size": cfg.video_size, "fps": cfg.fps, "renderer": cfg.renderer, "model": cfg.model.name,
            "vocoder": cfg.vocoder, "rss_after_load_mb": round(loaded, 1), "peak_rss_mb": round(peak, 1),
            "rss_first_half_max_mb": max((mb for t, mb in samples if t < wall / 2), default=None),
            "rss_second_half_max_mb": max(half, default=None), "wall_s": round(wall, 1),
            "timings": {k: round(v, 1) for k, v in result.timings.items()}}


@hydra.main(version_base="1.3", config_path="../configs", config_name="benchmark_memory")
def main(cfg: DictConfig) -> None:
    if cfg.child is not None:
        print("RESULT " + json.dumps(measure(cfg, float(cfg.child))), flush=True)
        return
    rows = []
    for minutes in cfg.minutes:
        overrides = [a for a in sys.argv[1:] if not a.startswith(("minutes=", "child=", "out="))]
        proc = subprocess.run([sys.executable, __file__, f"child={minutes}", *overrides], capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            sys.exit(f"{minutes} min failed:\n{proc.stderr[-3000:]}")
        rows.append(json.loads(lines[-1][len("RESULT "):]))
        print(json.dumps(rows[-1]), flush=True)
        if cfg.out:
            with open(cfg.out, "a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
    peaks = [r["peak_rss_mb"] for r in rows]
    print(f"peak RSS (MB) for {list(cfg.minutes)} min: {peaks}; max - min = {max(peaks) - min(peaks):.0f} MB; "
          f"target < 4096 MB: {'met' if max(peaks) < 4096 else 'NOT met'}")


if __name__ == "__main__":
    main()
