"""Text + reference video -> talking video with speech (mp4, h264 + aac), with visible and invisible AI marks.

    python scripts/infer.py text="Hello there." ref=clip.mp4 dit=run/checkpoints/last.ckpt renderer=renderer_dir
    python scripts/infer.py batch=jobs.jsonl dit=... renderer=...
    python scripts/infer.py text=... ref=... stream=true out=live.mp4   # fragmented mp4, playable while written
    python scripts/infer.py text=... ref=... out=- | ffplay -            # to stdout (always fragmented)
    python scripts/infer.py text="Hello." image=portrait.png voice=voice.wav [voice_text=...] [motion=clip.mp4] \
        dit=... renderer=mesh controls.lip=1.5 controls.emotion=happy

Errors print one line and exit with status 1; no output file is left behind. Messages go to stderr.
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, even if another is installed

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from omnitalker.inference.cli_config import controls_config, pipeline_config  # noqa: E402
from omnitalker.inference.jobs import Job, read_jobs  # noqa: E402
from omnitalker.inference.pipeline import OmniTalkerPipeline  # noqa: E402

FREE_TEXT_KEYS = ("text", "ref_text", "voice_text")
EXPECTED = (Exception,)  # every failure becomes one line; set HYDRA_FULL_ERROR=1 / OMNITALKER_DEBUG=1 for a traceback


def run(cfg: DictConfig) -> int:
    image, voice = cfg.get("image"), cfg.get("voice")
    if image is not None or voice is not None:
        if cfg.batch is not None or cfg.ref is not None or image is None or voice is None or not cfg.text:
            raise ValueError("separate sources need text=..., image=... and voice=... (and neither ref= nor batch=)")
    elif cfg.batch is None and (not cfg.text or not cfg.ref):
        raise ValueError("give text=... and ref=... (or image=... voice=..., or batch=jobs.jsonl)")
    controls = controls_config(cfg)  # validated before any model is loaded
    pipeline = OmniTalkerPipeline(pipeline_config(cfg))
    if image is not None:
        ref = pipeline.analyse_sources(image, voice, cfg.get("voice_text"), cfg.get("motion"))
        jobs = [Job(cfg.text, ref, cfg.out)]
    elif cfg.batch is None:
        jobs = [Job(cfg.text, cfg.ref, cfg.out, cfg.ref_text, cfg.ref_codes)]
    else:
        jobs = read_jobs(cfg.batch)
    failures = []
    stream = bool(cfg.get("stream", False))
    for job in tqdm(jobs, desc="videos", disable=len(jobs) == 1):
        to_stdout = str(job.out) == "-"
        if to_stdout and len(jobs) > 1:
            raise ValueError("out=- (stdout) takes one video, not a batch")
        try:
            result = pipeline.generate(
                job.text, job.ref, sys.stdout.buffer if to_stdout else job.out, ref_text=job.ref_text,
                ref_codes=job.ref_codes, speed=cfg.speed, duration=cfg.duration,
                wav_out=cfg.wav_out if len(jobs) == 1 else None, codes_out=cfg.codes_out if len(jobs) == 1 else None,
                progress=len(jobs) == 1 and not to_stdout, fragmented=stream or to_stdout,
                first_chunk_seconds=cfg.get("first_chunk_seconds", 2.0) if stream else None, controls=controls,
            )
            if to_stdout:
                sys.stdout.buffer.flush()
            times = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
            first = f"; first frames after {result.first_piece_s:.1f}s" if stream else ""
            print(f"wrote {result.video} ({result.duration_s:.2f} s, {len(result.chunks)} chunk(s); {times}{first})",
                  file=sys.stderr if to_stdout else sys.stdout)
        except EXPECTED as exc:
            if len(jobs) == 1:
                raise
            failures.append((job, exc))
    if failures:
        print(f"{len(failures)} of {len(jobs)} jobs failed:", file=sys.stderr)
        for job, exc in failures:
            print(f"  {job.out}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def quote_free_text(argv: list[str]) -> list[str]:
    """Hydra's override grammar rejects sentences (``!``, ``,`` and ``:`` have meanings there): quote the values of
    ``text=`` and ``ref_text=`` so that any sentence can be passed as typed."""
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        quoted = len(value) > 1 and value[0] in "'\"" and value[-1] == value[0]
        if sep and key.lstrip("+") in FREE_TEXT_KEYS and not quoted:
            arg = f"{key}='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        out.append(arg)
    return out


@hydra.main(version_base="1.3", config_path="../configs", config_name="infer")
def main(cfg: DictConfig) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    warnings.simplefilter("default")
    try:
        status = run(cfg)
    except EXPECTED as exc:
        import os

        if os.environ.get("OMNITALKER_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        status = 1
    sys.exit(status)


if __name__ == "__main__":
    sys.argv = sys.argv[:1] + quote_free_text(sys.argv[1:])
    main()
