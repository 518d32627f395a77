r"""Text + reference video -> talking video with speech: the whole inference path, usable from Python.

    reference video --decode/cut--> audio, frames (<= 10 s) --mel--> reference mel
                                           \--face pipeline on the kept frames--> reference codes, identity crop
    no ref_text --ASR (bundled tiny.en for English)--> reference transcript
    text --chunks--> DiT sampling, chunk by chunk, each prompted with the reference + the previous chunk
         --> mel + codes (seams ramped out) --vocoder--> waveform ; codes --resample to fps--> renderer --> frames
    frames + waveform --safety marks--> mp4 (h264 + aac)

The chunk loop lives in ``omnitalker.streaming``: :meth:`OmniTalkerPipeline.stream` yields the output piece by piece
as it is made, :meth:`OmniTalkerPipeline.generate` writes those same pieces to a file (docs/streaming.md).
"""

from __future__ import annotations

import logging
import time
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import torch

from omnitalker.audio.mel import log_mel
from omnitalker.checkpoint import LoadedDiT, load_dit
from omnitalker.constants import SAMPLE_RATE
from omnitalker.controls import ControlApplier, Controls
from omnitalker.data.resample import codes_to_mel_rate
from omnitalker.device import check_compile_mode, compile_module, resolve_device, resolve_precision
from omnitalker.face.crop import crop_face
from omnitalker.flow.sampler import SamplerConfig
from omnitalker.inference.duration import plan_duration
from omnitalker.inference.errors import InferenceInputError, TextInputError
from omnitalker.inference.generator import DiTGenerator
from omnitalker.inference.identity import identity_frame_index
from omnitalker.inference.mesh import MESH_RENDERER, MeshDriver
from omnitalker.inference.mux import MuxPiece, write_pieces
from omnitalker.inference.reference import ReferenceClip, load_reference, reference_codes
from omnitalker.inference.safety import SafetyConfig, mark_audio
from omnitalker.render.checkpoint import load_renderer
from omnitalker.render.renderer import Renderer
from omnitalker.streaming.codes import CodesHook
from omnitalker.streaming.engine import StreamPiece, iter_speech, stream_pieces
from omnitalker.streaming.plan import ChunkPlan, plan_chunks
from omnitalker.vocoder import Vocoder, load_vocoder

log = logging.getLogger(__name__)


@dataclass
class PipelineConfig:
    dit_checkpoint: str
    renderer: str | None  # scripts/train_renderer.py directory; "mesh": training-free mesh warp; None: audio only
    vocoder: str = "vocos"  # vocos | griffin_lim (explicit CPU fallback, never chosen silently)
    vocoder_path: str | None = None  # local Vocos directory (config.yaml + pytorch_model.bin)
    device: str = "auto"
    sampler: dict = field(default_factory=dict)  # overrides of the checkpoint's sampler config (steps, guidance, ...)
    fps: float = 25.0
    video_size: int = 512  # output frames are this size; a renderer drawing smaller frames is upscaled (noted)
    max_reference_seconds: float = 10.0
    max_total_seconds: float = 30.0  # the model's context: reference + previous chunk + one chunk
    seam_ramp_seconds: float = 0.5  # a chunk's residual offset from the previous chunk's end is ramped out over this
    crop: str = "auto"  # auto: face-box crop like data preparation; none: the reference is already a face crop
    render_batch: int = 16
    face_model: str | None = None  # face model file for the reference fit (None: the bundled default)
    allow_face_model_mismatch: bool = False  # warn instead of refusing when the DiT's corpus used another face model
    asr_model: str | None = None  # local faster-whisper directory for references without ref_text; None = tiny.en
    asr_language: str = "en"  # language of the reference speech (the bundled tiny.en model only knows English)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    seed: int = 0
    precision: str = "auto"  # auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16; the ISTFT always runs in fp32
    compile: bool = False  # torch.compile the DiT and the renderer's warping/generator (pays off on a GPU, long runs)
    compile_mode: str = "default"  # default | reduce-overhead (CUDA graphs) | max-autotune
    dit_batch: int = 8  # most texts the DiT samples in one batch (each times the guidance branches)
    first_chunk_seconds: float | None = 2.0  # stream(): the first chunk is cut to about this long (None: not cut)


@dataclass
class ReferenceAnalysis:
    clip: ReferenceClip
    text: str
    mel: torch.Tensor  # (n_ref, 100)
    codes: torch.Tensor  # (n_ref, 61) raw codes at the mel rate
    identity_image: np.ndarray  # (S, S, 3) uint8 face crop of the identity frame
    identity_code: torch.Tensor  # (61,)
    fit_report: dict


@dataclass
class Speech:
    """The DiT's output for a whole text: all chunks joined, at the mel rate."""

    mel: torch.Tensor  # (n, 100) log-mel of the new speech
    codes: torch.Tensor  # (n, 61) raw visual codes, seams joined
    chunks: list[str]
    seams: list[int]  # mel frame where each chunk after the first starts
    estimated_s: float


@dataclass
class InferenceResult:
    video: Path
    duration_s: float
    estimated_s: float
    chunks: list[str]
    timings: dict[str, float]
    wav: Path | None = None
    codes: Path | None = None
    first_piece_s: float | None = None  # seconds from the call until the first frames and audio were ready


def load_codes_file(path: str | Path) -> dict[str, np.ndarray]:
    """A precomputed codes file (npz from scripts/extract_codes.py or the synthetic corpus' ground truth), read
    whole with ``allow_pickle=False``: it cannot run code, and object arrays are refused."""
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # missing, not an npz, truncated, pickled
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InferenceInputError(f"cannot read the reference codes file {path}: {detail}") from exc
    raise InferenceInputError(f"cannot read the reference codes file {path}: not an npz archive")


class OmniTalkerPipeline:
    """Loads the DiT (EMA weights), vocoder and renderer once; :meth:`generate` makes one video."""

    def __init__(self, cfg: PipelineConfig) -> None:
        device = resolve_device(cfg.device)
        if cfg.vocoder not in ("vocos", "griffin_lim"):
            raise ValueError(f"vocoder must be 'vocos' or 'griffin_lim', got {cfg.vocoder!r}")
        loaded = load_dit(cfg.dit_checkpoint, device=device)
        if cfg.renderer == MESH_RENDERER:
            renderer = MeshDriver(cfg.video_size, cfg.face_model)
        else:
            renderer = load_renderer(cfg.renderer, device) if cfg.renderer else None
        self._setup(cfg, device, loaded, renderer, load_vocoder(cfg.vocoder, cfg.vocoder_path, device))
        from omnitalker.face.fingerprint import face_model_file_id, face_model_id

        if isinstance(renderer, MeshDriver):
            self._check_face_model(face_model_file_id(cfg.face_model), "the mesh renderer's face model")
        elif renderer is not None:
            self._check_face_model(face_model_id(renderer.face_model), f"the renderer {cfg.renderer}")
        if cfg.vocoder == "griffin_lim":
            log.warning("vocoder=griffin_lim: phase-reconstruction fallback, audibly worse than Vocos")

    @classmethod
    def from_models(cls, cfg: PipelineConfig, dit: LoadedDiT, renderer: Renderer | MeshDriver | None, vocoder: Vocoder
                    ) -> OmniTalkerPipeline:
        """A pipeline around models already in memory (benchmarks: random weights of any size, no files); the
        checkpoint fields of ``cfg`` are not read."""
        pipe = cls.__new__(cls)
        pipe._setup(cfg, resolve_device(cfg.device), dit, renderer, vocoder)
        return pipe

    def _setup(self, cfg: PipelineConfig, device: torch.device, loaded: LoadedDiT,
               renderer: Renderer | MeshDriver | None, vocoder: Vocoder) -> None:
        """The fast path: the precision and compile settings go into the DiT, vocoder and renderer here."""
        self.cfg, self.device = cfg, device
        self.autocast_dtype = resolve_precision(cfg.precision, device)
        check_compile_mode(cfg.compile_mode)  # a bad mode is an error even while compile is off
        sampler = SamplerConfig.from_dict({**loaded.meta.get("sampler", {}), **dict(cfg.sampler)})
        self.generator = DiTGenerator(loaded, sampler, device, autocast_dtype=self.autocast_dtype,
                                      compile=cfg.compile, max_batch=cfg.dit_batch, compile_mode=cfg.compile_mode)
        self.dit_face_model = loaded.face_model  # face model that fitted the DiT's training codes (None: unknown)
        self.renderer = renderer.to(device).eval() if isinstance(renderer, Renderer) else renderer
        if cfg.compile and isinstance(self.renderer, Renderer):
            self.renderer.warping = compile_module(self.renderer.warping, cfg.compile_mode)
            self.renderer.generator = compile_module(self.renderer.generator, cfg.compile_mode)
        self.vocoder = vocoder
        self.vocoder.autocast_dtype = self.autocast_dtype

    # ------------------------------------------------------------------ reference
    def analyse_reference(
        self, path: str | Path, ref_text: str | None = None, ref_codes: str | Path | None = None
    ) -> ReferenceAnalysis:
        clip = load_reference(path, max_seconds=self.cfg.max_reference_seconds)
        stored = load_codes_file(ref_codes) if ref_codes is not None else None
        if (ref_text is None or not ref_text.strip()) and stored is not None:
            # the synthetic corpus' ground-truth files carry the transcript
            ref_text = str(stored["text"]) if "text" in stored else None
        if ref_text is None or not ref_text.strip():
            ref_text = self._transcribe(clip)
        elif clip.was_cut:
            warnings.warn("the reference was cut to 10 s but ref_text covers the whole file: give the transcript "
                          "of the kept part (or omit ref_text to use ASR) for correct timing", stacklevel=2)
        codes, fps, report, crop_ref = reference_codes(clip, ref_codes, stored, self.cfg.face_model, self.cfg.crop)
        self._check_face_model(report.get("face_model"), f"the reference {ref_codes or path}")
        frames_kept = clip.frames.shape[0]
        codes = codes[: max(1, round(frames_kept / clip.fps * fps))]  # the same span as the kept audio
        audio = torch.from_numpy(clip.audio).float()
        mel = log_mel(audio[None])[0]  # (n_ref, 100)
        codes_mel = codes_to_mel_rate(codes, fps, mel.shape[0])  # (n_ref, 61) by timestamps
        idx = min(identity_frame_index(codes), frames_kept - 1)
        frame = clip.frames[idx]
        image = frame if crop_ref is None else crop_face(frame, *crop_ref)
        return ReferenceAnalysis(clip, ref_text, mel, codes_mel, np.ascontiguousarray(image),
                                 torch.from_numpy(codes[idx]).float(), report)

    def analyse_sources(
        self,
        identity_image: str | Path | np.ndarray,
        voice_audio: str | Path,
        voice_text: str | None = None,
        motion_video: str | Path | None = None,
    ) -> ReferenceAnalysis:
        """Identity from a portrait, voice from an audio clip (transcript given or ASR), motion style from an
        optional third clip (else the neutral default style): see `omnitalker.inference.sources`."""
        from omnitalker.inference import sources

        name = "identity image" if isinstance(identity_image, np.ndarray) else f"identity image {identity_image}"
        identity = sources.fit_identity_image(sources.load_identity_image(identity_image), self.cfg.face_model,
                                              self.cfg.crop, name=name)
        self._check_face_model(identity.report["face_model"], name)
        clip = sources.load_voice(voice_audio, identity.image, self.cfg.max_reference_seconds)
        text = voice_text if voice_text is not None and voice_text.strip() else self._transcribe(clip)
        mel = log_mel(torch.from_numpy(clip.audio).float()[None])[0]  # (n_ref, 100)
        if motion_video is None:
            codes = sources.neutral_codes(identity.code, mel.shape[0], seed=self.cfg.seed)  # (n_ref, 61)
        else:
            codes = sources.motion_codes(motion_video, identity.code, mel.shape[0], self.cfg.face_model,
                                         self.cfg.max_reference_seconds)
        report = {**identity.report, "voice": str(voice_audio), "motion": str(motion_video) if motion_video else
                  "neutral default"}
        return ReferenceAnalysis(clip, text, mel, torch.from_numpy(codes).float(), identity.crop,
                                 torch.from_numpy(identity.code).float(), report)

    def _check_face_model(self, reference: str | None, source) -> None:
        """Codes of one face model mean nothing to a DiT trained on another's: refuse (or warn, when allowed)."""
        if reference is None or self.dit_face_model is None or reference == self.dit_face_model:
            return
        message = (f"the codes of {source} belong to face model {reference} but the DiT was trained on codes of "
                   f"{self.dit_face_model}")
        if not self.cfg.allow_face_model_mismatch:
            raise InferenceInputError(f"{message}; use the face model its corpus was fitted with (face_model=...) "
                                      "or pass allow_face_model_mismatch=true to go on anyway")
        warnings.warn(f"{message}; going on (allow_face_model_mismatch=true)", stacklevel=3)

    def _transcribe(self, clip: ReferenceClip) -> str:
        from omnitalker.audio.asr import TranscriptError, transcribe_reference

        try:
            return transcribe_reference(clip.audio, clip.sample_rate, self.cfg.asr_model, self.cfg.asr_language)
        except TranscriptError as exc:
            raise InferenceInputError(f"reference {clip.path}: {exc}") from exc

    # ------------------------------------------------------------------ generation
    def plan(self, text: str, ref: ReferenceAnalysis, speed: float = 1.0, duration: float | None = None,
             first_chunk_seconds: float | None = None) -> ChunkPlan:
        """The text's chunks (each fits the context with the reference and the previous chunk) and their lengths."""
        return plan_chunks(text, ref.text, ref.mel.shape[0], self.cfg.max_total_seconds, speed, duration,
                           first_chunk_seconds)

    def synthesize(
        self, text: str, ref: ReferenceAnalysis, speed: float = 1.0, duration: float | None = None
    ) -> Speech:
        """The DiT step for a whole text: split into chunks that fit the context with the reference and the previous
        chunk, sampled one after another (each continuing the previous one), codes joined by a seam ramp."""
        plan = self.plan(text, ref, speed, duration)
        chunks = list(iter_speech(self, ref, plan))
        return Speech(torch.cat([c.mel for c in chunks]), torch.cat([c.codes for c in chunks]), plan.texts,
                      plan.seams, plan.estimated_s)

    def prepare(
        self,
        text: str,
        reference: str | Path | ReferenceAnalysis,
        ref_text: str | None = None,
        ref_codes: str | Path | None = None,
        speed: float = 1.0,
        duration: float | None = None,
        first_chunk_seconds: float | None = None,
        controls: Controls | None = None,
    ) -> tuple[ReferenceAnalysis, ChunkPlan]:
        """Check the inputs, analyse the reference and plan the chunks (at the speaking rate of ``controls``):
        everything that can fail on bad input, before any output exists."""
        if self.renderer is None:
            raise InferenceInputError("no renderer loaded (renderer=None): give a renderer directory to make video")
        if not isinstance(text, str) or not text.strip():
            raise TextInputError("the text to speak is empty")
        ref = reference if isinstance(reference, ReferenceAnalysis) else self.analyse_reference(reference, ref_text,
                                                                                                 ref_codes)
        speed = speed * (controls.rate if controls is not None else 1.0)
        return ref, self.plan(text, ref, speed, duration, first_chunk_seconds)

    def stream(
        self,
        text: str,
        reference: str | Path | ReferenceAnalysis,
        ref_text: str | None = None,
        ref_codes: str | Path | None = None,
        speed: float = 1.0,
        duration: float | None = None,
        first_chunk_seconds: float | None | Literal["config"] = "config",
        codes_hooks: Sequence[CodesHook] = (),
        progress: bool = False,
        timings: dict[str, float] | None = None,
        controls: Controls | None = None,
    ) -> Iterator[StreamPiece]:
        """Yield the output as it is made: pieces of (marked uint8 frames, marked audio, codes, timing), one render
        batch each, in order; the first chunk is ``first_chunk_seconds`` long (default: the config's) so the first
        piece comes early. :meth:`generate` writes exactly these pieces. ``codes_hooks`` post-process each chunk's
        codes (mel rate) before rendering; ``timings`` (if given) receives seconds per stage; ``controls`` (see
        docs/controls.md) act on the codes after the hooks and on the speaking rate."""
        started = time.perf_counter()
        first = self.cfg.first_chunk_seconds if first_chunk_seconds == "config" else first_chunk_seconds
        ref, plan = self.prepare(text, reference, ref_text, ref_codes, speed, duration, first, controls)
        timings = {} if timings is None else timings
        timings["reference"] = time.perf_counter() - started
        hooks, gaze_lock = self._control_hooks(codes_hooks, controls, ref), bool(controls and controls.gaze_lock)
        yield from stream_pieces(self, ref, plan, hooks, progress, timings, started, gaze_lock)

    def _control_hooks(self, codes_hooks: Sequence[CodesHook], controls: Controls | None,
                       ref: ReferenceAnalysis) -> tuple[CodesHook, ...]:
        """The visual controls as the last codes hook: one stateful applier per generation, fed chunk by chunk
        (exactly what one pass over all codes gives); the audio is never touched by them."""
        if controls is None or not controls.changes_codes:
            return tuple(codes_hooks)
        applier = ControlApplier.for_reference(controls, ref.codes, seed=self.cfg.seed)
        return (*codes_hooks, lambda codes, chunk: applier.push(codes))

    def generate(
        self,
        text: str,
        reference: str | Path | ReferenceAnalysis,
        out: str | Path | BinaryIO,
        ref_text: str | None = None,
        ref_codes: str | Path | None = None,
        speed: float = 1.0,
        duration: float | None = None,
        wav_out: str | Path | None = None,
        codes_out: str | Path | None = None,
        progress: bool = True,
        first_chunk_seconds: float | None = None,
        fragmented: bool = False,
        codes_hooks: Sequence[CodesHook] = (),
        controls: Controls | None = None,
    ) -> InferenceResult:
        """Write the pieces of :meth:`stream` (marks applied) to ``out`` as an mp4 (h264 + aac): atomically as a
        regular mp4, or as a fragmented mp4 that plays while it is written (``fragmented``; ``out`` may then be a
        binary file object such as stdout). Chunks are as long as the context allows unless ``first_chunk_seconds``
        is given; ``controls`` as in :meth:`stream`. Bad input raises before any output file exists."""
        started = time.perf_counter()
        ref, plan = self.prepare(text, reference, ref_text, ref_codes, speed, duration, first_chunk_seconds,
                                 controls)
        timings = {"reference": time.perf_counter() - started}
        hooks, gaze_lock = self._control_hooks(codes_hooks, controls, ref), bool(controls and controls.gaze_lock)
        first_piece: list[float] = []

        def mux_pieces() -> Iterator[MuxPiece]:
            for piece in stream_pieces(self, ref, plan, hooks, progress, timings, started, gaze_lock):
                first_piece.append(piece.elapsed_s)
                yield MuxPiece(piece.frames, piece.audio, piece.codes if codes_out else None, piece.flush)

        tic = time.perf_counter()
        result = write_pieces(out, mux_pieces(), fps=self.cfg.fps, fragmented=fragmented, wav_path=wav_out,
                              codes_path=codes_out, codes_fps=self.cfg.fps)
        made = sum(timings.get(k, 0.0) for k in ("dit", "vocoder", "renderer", "marks"))
        timings["mux"] = time.perf_counter() - tic - made + timings.pop("marks", 0.0)  # marks + encoding
        return InferenceResult(result.path, result.num_frames / self.cfg.fps, plan.estimated_s, plan.texts, timings,
                               Path(wav_out) if wav_out else None, Path(codes_out) if codes_out else None,
                               first_piece_s=first_piece[0] if first_piece else None)

    def speak(self, text: str, reference_audio: str | Path, ref_text: str, out_wav: str | Path,
              speed: float = 1.0) -> tuple[float, dict[str, float]]:
        """Audio only (the paper's Table 1 on Seed-TTS): reference speech without a face, the visual condition
        dropped. Writes ``out_wav`` (24 kHz, audio mark applied as in :meth:`generate`); returns (seconds of speech,
        timings per stage)."""
        import soundfile as sf

        from omnitalker.inference.media import decode_audio

        timings: dict[str, float] = {}
        tic = time.perf_counter()
        if not isinstance(text, str) or not text.strip():
            raise TextInputError("the text to speak is empty")
        if not ref_text or not ref_text.strip():
            raise InferenceInputError(f"audio-only reference {reference_audio} needs its transcript (ref_text)")
        audio, _ = decode_audio(reference_audio)
        audio = audio[: round(self.cfg.max_reference_seconds * SAMPLE_RATE)]
        mel = log_mel(torch.from_numpy(audio).float()[None])[0]  # (n_ref, 100)
        timings["reference"] = time.perf_counter() - tic
        tic = time.perf_counter()
        plan = plan_duration(ref_text, text, mel.shape[0], speed=speed)
        generated = self.generator.generate(mel, None, ref_text, [text], [plan.new_frames], seed=self.cfg.seed)
        timings["dit"] = time.perf_counter() - tic
        tic = time.perf_counter()
        wave = self.vocoder.decode(generated[0].mel[None].to(self.device))[0].float().cpu().numpy()
        timings["vocoder"] = time.perf_counter() - tic
        wave = mark_audio(wave, self.cfg.safety)
        out_wav = Path(out_wav)
        tmp = out_wav.with_name(out_wav.name + ".part.wav")
        sf.write(tmp, wave, SAMPLE_RATE)
        tmp.replace(out_wav)
        return len(wave) / SAMPLE_RATE, timings
