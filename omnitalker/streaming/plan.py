"""The chunks of a text: what the DiT samples one after another (SPEC §5, long text), optionally with a short first
chunk so that the first audio and frames come out early (streaming)."""

from __future__ import annotations

from dataclasses import dataclass

from omnitalker.constants import MEL_FPS
from omnitalker.inference.chunking import split_text
from omnitalker.inference.duration import plan_duration
from omnitalker.inference.errors import DurationError, InferenceInputError, TextInputError
from omnitalker.text import normalize_text

MIN_FIRST_CHUNK_SECONDS = 0.5


@dataclass(frozen=True)
class ChunkPlan:
    texts: list[str]
    frames: list[int]  # new mel frames per chunk (the duration rule)
    max_total_frames: int  # the model's context: reference + previous chunk + one chunk

    @property
    def seams(self) -> list[int]:
        """Mel frame where each chunk after the first starts."""
        out, total = [], 0
        for n in self.frames[:-1]:
            total += n
            out.append(total)
        return out

    @property
    def estimated_s(self) -> float:
        return sum(self.frames) / MEL_FPS


def plan_chunks(
    text: str,
    reference_text: str,
    reference_frames: int,
    max_total_seconds: float,
    speed: float = 1.0,
    duration: float | None = None,
    first_chunk_seconds: float | None = None,
) -> ChunkPlan:
    """Split ``text`` into chunks that each fit the context with the reference and the previous chunk (half of
    what the reference leaves); ``first_chunk_seconds`` (>= 0.5 s) cuts the first chunk to about that long at the
    strongest break that fits (sentence, clause, word). ``duration`` (one chunk of exactly that length) disables
    both."""
    if not isinstance(text, str) or not text.strip():
        raise TextInputError("the text to speak is empty")
    max_total = int(max_total_seconds * MEL_FPS)
    if reference_frames >= max_total - 1:
        raise InferenceInputError(f"max_total_seconds={max_total_seconds} leaves no room after the "
                                  f"{reference_frames / MEL_FPS:.1f} s reference")
    if first_chunk_seconds is not None and not first_chunk_seconds >= MIN_FIRST_CHUNK_SECONDS:
        raise DurationError(f"first_chunk_seconds must be >= {MIN_FIRST_CHUNK_SECONDS}, got {first_chunk_seconds}")
    chunk_budget = reference_frames + (max_total - reference_frames) // 2

    def split(piece: str, budget: int) -> list[str]:
        return split_text(piece, reference_text=reference_text, reference_frames=reference_frames,
                          max_total_frames=budget, speed=speed)

    if duration is not None:
        texts = [text]
    else:
        texts = split(text, chunk_budget)
        first_budget = reference_frames + round((first_chunk_seconds or 0) * MEL_FPS)
        if first_chunk_seconds is not None and first_budget < chunk_budget:
            try:
                head = split(text, first_budget)[0]
            except DurationError:  # a first word longer than the first chunk: keep the normal first chunk
                head = None
            if head is not None:
                rest = normalize_text(text)[len(head):]
                texts = [head, *(split(rest, chunk_budget) if rest.strip() else [])]
    texts = [t.strip() for t in texts if t.strip()]
    frames = [plan_duration(reference_text, t, reference_frames, speed=speed, duration=duration).new_frames
              for t in texts]
    return ChunkPlan(texts, frames, max_total)
