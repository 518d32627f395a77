r"""The chunk loop of inference: text chunks -> DiT -> (vocoder, renderer, marks) -> pieces of output, in order.

    chunk k text --DiT (prompted with the reference + chunk k-1)--> mel, codes --CodeSeamJoiner--> codes hooks
        mel   --StreamingVocoder (context both sides)--> audio --AudioWatermarker--> marked audio (final samples)
        codes --VideoRateCursor--> codes at fps --renderer, one batch at a time--> uint8 frames --marks--> piece

A piece (`StreamPiece`) is one render batch of frames and the audio of the same span; it is handed out as soon as it
is made, so memory holds one render batch of frames, not the video. The first chunk can be short
(``first_chunk_seconds``) so the first piece comes early. `OmniTalkerPipeline.stream` is this loop;
`OmniTalkerPipeline.generate` writes its pieces to a file, so both produce the same output.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from omnitalker.constants import EXPRESSION_SLICE, MEL_FPS, SAMPLE_RATE
from omnitalker.inference.audio_watermark import AudioWatermarker
from omnitalker.inference.safety import mark_frames
from omnitalker.inference.seams import CodeSeamJoiner
from omnitalker.render.source import prepare_source_image
from omnitalker.inference.mesh import MeshDriver
from omnitalker.streaming.codes import CodesHook, VideoRateCursor, apply_codes_hooks
from omnitalker.streaming.plan import ChunkPlan
from omnitalker.streaming.vocoder import StreamingVocoder

if TYPE_CHECKING:
    from omnitalker.inference.pipeline import OmniTalkerPipeline, ReferenceAnalysis

log = logging.getLogger(__name__)


@dataclass
class SpeechChunk:
    """One DiT chunk: mel and codes at the mel rate (codes joined at the seam and post-processed by the hooks)."""

    index: int
    text: str
    start: int  # absolute mel frame of mel[0]
    mel: torch.Tensor  # (n, 100)
    codes: torch.Tensor  # (n, 61)
    last: bool


@dataclass
class StreamPiece:
    """A span of the output: frames ``first_frame ..`` and the audio from sample ``first_sample`` on."""

    index: int  # piece number
    chunk: int  # DiT chunk it belongs to
    first_frame: int
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB, label and watermark applied; T may be 0 for the last piece
    codes: np.ndarray  # (T, 61) the frames' driving codes at fps
    first_sample: int
    audio: np.ndarray  # (S,) float32 24 kHz, watermarked; continues the previous piece's audio exactly
    last: bool
    flush: bool  # the end of a DiT chunk (or the first piece): a good moment to flush a streamed file
    elapsed_s: float  # seconds since the stream started when this piece was ready
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage so far (cumulative)


def iter_speech(pipe: OmniTalkerPipeline, ref: ReferenceAnalysis, plan: ChunkPlan,
                codes_hooks: Sequence[CodesHook] = ()) -> Iterator[SpeechChunk]:
    """The DiT step, chunk by chunk: each chunk continues the previous one (``DiTGenerator.continue_chunks``), its
    codes' seam offset is ramped out (``CodeSeamJoiner``), then ``codes_hooks`` post-process them (the one place
    where generated codes change before rendering)."""
    joiner = CodeSeamJoiner(round(pipe.cfg.seam_ramp_seconds * MEL_FPS), clip=(EXPRESSION_SLICE, 0.0, 1.0))
    generated = pipe.generator.continue_chunks(ref.mel, ref.codes, ref.text, plan.texts, plan.frames,
                                               seed=pipe.cfg.seed, max_frames=plan.max_total_frames)
    start = 0
    for k, (text, out) in enumerate(zip(plan.texts, generated)):
        codes = torch.from_numpy(joiner.push(out.codes))  # (n, 61)
        chunk = SpeechChunk(k, text, start, out.mel, codes, k == len(plan.texts) - 1)
        chunk.codes = apply_codes_hooks(codes, chunk, tuple(codes_hooks))
        yield chunk
        start += out.mel.shape[0]


def _to_uint8(frames: torch.Tensor, size: int) -> np.ndarray:
    """(b, 3, s, s) float in [0, 1] -> (b, size, size, 3) uint8 (bicubic upscale when the renderer draws smaller)."""
    if frames.shape[-1] != size:
        frames = torch.nn.functional.interpolate(frames, size=size, mode="bicubic", align_corners=False)
    return (frames.clamp(0, 1).permute(0, 2, 3, 1) * 255).round().to(torch.uint8).cpu().numpy()  # (b, S, S, 3)


def _batches(first: int, end: int, size: int) -> list[tuple[int, int]]:
    """(first frame, count) render batches covering ``first .. end - 1``; a last batch of one frame borrows one from
    the batch before (a fragment is cut at a keyframe placed on a piece's second-to-last frame)."""
    counts = [min(size, end - start) for start in range(first, end, size)]
    if len(counts) >= 2 and counts[-1] == 1 and size >= 2:
        counts[-2:] = [counts[-2] - 1, 2]
    return [(first + sum(counts[:i]), c) for i, c in enumerate(counts)]


def stream_pieces(pipe: OmniTalkerPipeline, ref: ReferenceAnalysis, plan: ChunkPlan,
                  codes_hooks: Sequence[CodesHook] = (), progress: bool = False,
                  timings: dict[str, float] | None = None, started: float | None = None,
                  gaze_lock: bool = False) -> Iterator[StreamPiece]:
    """Pieces of output for ``plan``'s chunks, in order (module docstring). ``timings`` accumulates seconds per
    stage (dit, vocoder, renderer, marks). ``gaze_lock``: renderer=mesh locks the gaze again after retargeting."""
    cfg, renderer = pipe.cfg, pipe.renderer
    timings = {} if timings is None else timings
    for key in ("dit", "vocoder", "renderer", "marks"):
        timings.setdefault(key, 0.0)
    started = time.perf_counter() if started is None else started
    rate = Fraction(cfg.fps).limit_denominator(1001)
    sample_of = lambda frame: round(frame / rate * SAMPLE_RATE)  # noqa: E731 - first sample of a video frame
    vocoder = StreamingVocoder(pipe.vocoder)
    marker = AudioWatermarker(cfg.safety.watermark_key, snr_db=cfg.safety.audio_snr_db) if cfg.safety.watermark \
        else None
    cursor = VideoRateCursor(cfg.fps)
    tic = time.perf_counter()
    if isinstance(renderer, MeshDriver):  # renderer=mesh warps the identity image itself
        identity = renderer.prepare_identity(ref.identity_image, ref.identity_code, gaze_lock)
    else:
        source = prepare_source_image(ref.identity_image, renderer.cfg.input_size).to(pipe.device)
        identity = renderer.prepare_identity(source, ref.identity_code)
    timings["renderer"] += time.perf_counter() - tic
    audio = np.zeros(0, np.float32)  # marked audio from absolute sample audio_start on, not yet handed out
    audio_start = marked = done = pieces = 0
    warned = False
    bar = tqdm(total=round(plan.estimated_s * cfg.fps), desc="frames", unit="frame", disable=not progress)
    speech = iter_speech(pipe, ref, plan, codes_hooks)
    while True:
        tic = time.perf_counter()
        chunk = next(speech, None)
        timings["dit"] += time.perf_counter() - tic
        if chunk is None:
            break
        tic = time.perf_counter()
        wave = vocoder.push(chunk.mel, final=chunk.last)  # (s,)
        timings["vocoder"] += time.perf_counter() - tic
        tic = time.perf_counter()
        wave = marker.push(wave, final=chunk.last) if marker is not None else wave
        audio = np.concatenate([audio, wave])
        marked += wave.shape[0]
        timings["marks"] += time.perf_counter() - tic
        cursor.push(chunk.codes)
        if chunk.last:
            total = max(1, round(marked / SAMPLE_RATE * rate))  # as many frames as the audio lasts
        else:
            total = int(marked / SAMPLE_RATE * rate)  # whole frames whose audio is final
            while total > 0 and sample_of(total) > marked:
                total -= 1
        batches = _batches(done, total, cfg.render_batch)
        if chunk.last and not batches:
            batches = [(total, 0)]  # nothing left to draw: one last piece carries the audio's tail
        for n, (first, count) in enumerate(batches):
            end_piece = chunk.last and n == len(batches) - 1
            tic = time.perf_counter()
            if count > 0:
                codes = cursor.take(first, count, final=chunk.last)  # (count, 61)
                batch = next(renderer.animate_batches(identity, codes, count, pipe.autocast_dtype))
                if batch.shape[-1] != cfg.video_size and not warned:
                    log.warning("renderer draws %d px frames; upscaling to %d px", batch.shape[-1], cfg.video_size)
                    warned = True
                frames = _to_uint8(batch, cfg.video_size)  # (count, S, S, 3)
            else:
                codes = torch.zeros(0, chunk.codes.shape[1])
                frames = np.zeros((0, cfg.video_size, cfg.video_size, 3), np.uint8)
            timings["renderer"] += time.perf_counter() - tic
            tic = time.perf_counter()
            if count > 0:
                frames = mark_frames(frames, cfg.safety)
            cut = audio.shape[0] if end_piece else sample_of(first + count) - audio_start
            piece_audio, audio = audio[:cut], audio[cut:]
            timings["marks"] += time.perf_counter() - tic
            yield StreamPiece(pieces, chunk.index, first, frames, codes.numpy(), audio_start, piece_audio, end_piece,
                              flush=pieces == 0 or n == len(batches) - 1, elapsed_s=time.perf_counter() - started,
                              timings=dict(timings))
            audio_start += piece_audio.shape[0]
            done = first + count
            pieces += 1
            bar.update(count)
    bar.close()
