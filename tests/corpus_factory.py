"""Tiny random clips and corpora for the corpus / dataset / batching tests (shared helper, not a test module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from omnitalker.constants import CODE_DIM, SAMPLE_RATE
from omnitalker.data.corpus import ClipRecord, CorpusWriter

WORDS = ("hello", "world", "talking", "head", "voice", "style", "mimic", "video")


def make_record(rng: np.random.Generator, clip_id: str, source_id: str, seconds: float | None = None,
                fps: float = 30.0, with_audio: bool = True, video: bytes | None = None) -> ClipRecord:
    """A clip of 0.2-1.0 s random audio (or mel) and smooth random codes at ``fps``."""
    seconds = float(rng.uniform(0.2, 1.0)) if seconds is None else seconds
    samples = int(seconds * SAMPLE_RATE)
    frames_v = max(1, round(samples / SAMPLE_RATE * fps))
    codes = np.cumsum(rng.normal(0, 0.05, (frames_v, CODE_DIM)), axis=0).astype(np.float32)
    audio = (0.1 * rng.standard_normal(samples)).astype(np.float32)
    mel = None
    if not with_audio:
        mel = rng.normal(-4, 2, (samples // 256 + 1, 100)).astype(np.float32)
        audio = None
    text = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 4))))
    return ClipRecord(clip_id=clip_id, source_id=source_id, speaker_id=f"spk-{source_id}", language="en",
                      text=text, codes=codes, fps=fps, audio=audio, mel=mel, video=video,
                      quality={"dnsmos_ovrl": float(rng.uniform(2, 4))}, extra={"start_s": 1.5})


def make_records(n: int, num_sources: int = 4, seed: int = 0, prefix: str = "clip") -> list[ClipRecord]:
    rng = np.random.default_rng(seed)
    return [make_record(rng, f"{prefix}{i:04d}", f"{prefix}-src{i % num_sources}") for i in range(n)]


def write_corpus(root: Path, records: list[ClipRecord], shard_size_mb: float = 0.1, **kwargs) -> Path:
    with CorpusWriter(root, shard_size_mb=shard_size_mb, fsync=False, **kwargs) as writer:
        for record in records:
            writer.add(record)
    return root
