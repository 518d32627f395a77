"""Generate the synthetic talking-head corpus: speech, codes, rendered mp4 clips, corpus shards, ground truth.

Layout of ``out`` (built in a hidden ``.<name>.partial`` directory next to it and moved into place at the end):

    corpus/                    training corpus (omnitalker.data.CorpusWriter): codes @ fps, audio @ 24 kHz, mp4 bytes
    clips/<clip_id>.mp4        the same clips as files (H.264 512x512 + AAC)
    sources/<source_id>.mp4    each whole "source video" (one speaker session; the clips are cut from it)
    ground_truth/<clip_id>.npz codes, driving keypoints, phoneme/word timings of each clip
    ground_truth/sources/<source_id>.npz   the whole session's codes and timings
    manifest.json              one entry per clip (ids, text, language, frames, paths)
    speakers.json              each speaker's voice and style parameters
    synthetic_corpus.json      the configuration and summary (the marker that makes ``overwrite`` safe)
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from data_prep.synthetic.codes import frame_energy, session_codes
from data_prep.synthetic.face_render import FaceRenderer
from data_prep.synthetic.mp4 import Mp4Writer
from data_prep.synthetic.sentences import pick_sentences
from data_prep.synthetic.session import ClipSpan, SessionSpeech, build_session
from data_prep.synthetic.style import SpeakerStyle, make_speakers
from omnitalker.constants import RENDER_SIZE

if TYPE_CHECKING:
    from omnitalker.data import CorpusWriter

MARKER_NAME = "synthetic_corpus.json"
FORMAT_VERSION = 1


class SyntheticCorpusError(RuntimeError):
    """The synthetic corpus cannot be generated with this configuration or at this output path."""


@dataclass(frozen=True)
class SyntheticCorpusConfig:
    """What to generate. The default is ~5-6 minutes of audio (4 speakers x 3 sessions x 6 clips of 3-6 s)."""

    out: str = "data/synthetic"
    num_speakers: int = 4
    sources_per_speaker: int = 3
    clips_per_source: int = 6
    seed: int = 0
    fps: float = 25.0
    write_source_videos: bool = True
    write_clip_videos: bool = True
    video_in_corpus: bool = True
    crf: int = 20
    x264_preset: str = "veryfast"
    map_resolution: int = 256
    render_batch: int = 16
    shard_size_mb: float = 256.0
    num_threads: int = 1  # torch threads while rendering (small ops: 1 is fastest on a busy machine); 0 = torch default
    overwrite: bool = False
    progress: bool = True

    def validate(self) -> None:
        for name in ("num_speakers", "sources_per_speaker", "clips_per_source", "render_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SyntheticCorpusError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise SyntheticCorpusError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not self.fps > 0:
            raise SyntheticCorpusError(f"fps must be positive, got {self.fps!r}")
        if not 0 <= self.crf <= 51:
            raise SyntheticCorpusError(f"crf must lie in [0, 51], got {self.crf!r}")
        if self.num_threads < 0:
            raise SyntheticCorpusError(f"num_threads must be >= 0, got {self.num_threads!r}")


PRESETS: dict[str, dict] = {
    "default": {},
    # for tests and smoke runs: every speaker once, one short session each (~15-20 s of audio in all)
    "tiny": {"sources_per_speaker": 1, "clips_per_source": 1},
    # a bit more than the default for renderer/model smoke training (~15 minutes)
    "medium": {"num_speakers": 8, "sources_per_speaker": 4, "clips_per_source": 6},
}


@dataclass(frozen=True)
class SyntheticSession:
    """One generated source video before rendering: speech, codes for every frame, and who speaks."""

    source_id: str
    speaker: SpeakerStyle
    speech: SessionSpeech
    codes: np.ndarray  # (frames, 61) float32


def source_id_for(speaker: SpeakerStyle, source_index: int) -> str:
    return f"{speaker.speaker_id}_s{source_index:02d}"


def clip_id_for(source_id: str, clip_index: int) -> str:
    return f"{source_id}_c{clip_index:02d}"


def generate_session(speaker: SpeakerStyle, speaker_index: int, source_index: int, clips_per_source: int,
                     seed: int, fps: float = 25.0) -> SyntheticSession:
    """Speech + codes of one session; a pure function of its arguments (same seed -> identical arrays)."""
    rng = np.random.default_rng([seed, speaker_index, source_index])
    sentences = pick_sentences(speaker.language, clips_per_source, rng)
    speech = build_session(sentences, speaker.voice, rng, fps)
    codes = session_codes(speech, speaker, rng)
    return SyntheticSession(source_id_for(speaker, source_index), speaker, speech, codes)


def _face_area(driving: np.ndarray, face_mask: np.ndarray) -> float:
    """Mean area of the face keypoints' bounding box as a fraction of the frame (a face detector's view)."""
    pts = driving[:, face_mask]  # (frames, K, 2)
    size = pts.max(axis=1) - pts.min(axis=1)  # (frames, 2)
    return float(np.mean(size[:, 0] * size[:, 1]) / (RENDER_SIZE * RENDER_SIZE))


def _write_npz_atomic(path: Path, **arrays: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(tmp, path)


def _write_json_atomic(path: Path, payload: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _prepare_output(out: Path, overwrite: bool) -> Path:
    """Check ``out`` and return the hidden partial directory to build the corpus in."""
    if out.exists():
        if not overwrite:
            raise SyntheticCorpusError(f"output directory {out} already exists (pass overwrite=true to replace it)")
        if not (out / MARKER_NAME).is_file():
            raise SyntheticCorpusError(f"refusing to overwrite {out}: it is not a synthetic corpus (no {MARKER_NAME})")
    partial = out.parent / f".{out.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)  # leftovers of an interrupted run
    partial.mkdir(parents=True)
    return partial


class _CorpusBuilder:
    """Renders sessions clip by clip and writes every output of one corpus (see the module docstring)."""

    def __init__(self, config: SyntheticCorpusConfig, root: Path, writer: CorpusWriter) -> None:
        self.config = config
        self.root = root
        self.writer = writer
        self.renderer = FaceRenderer(map_resolution=config.map_resolution, batch_size=config.render_batch)
        rig = self.renderer.rig
        self.face_mask = np.array([g == "face" for g in rig.groups])  # what a face detector would box
        self.saved_mask = rig.movable.numpy()  # face + hair keypoints go into the ground truth
        self.saved_names = np.array([n for n, keep in zip(rig.names, self.saved_mask) if keep])
        self.manifest: list[dict] = []
        self.total_seconds = 0.0
        for sub in ("clips", "sources", "ground_truth/sources"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def add_session(self, session: SyntheticSession, on_clip: Callable[[], None]) -> None:
        """Render the session's clips (also streamed into the source mp4) and write all their outputs."""
        cfg = self.config
        source_writer = (Mp4Writer(self.root / "sources" / f"{session.source_id}.mp4", cfg.fps, RENDER_SIZE,
                                   crf=cfg.crf, preset=cfg.x264_preset) if cfg.write_source_videos else None)
        try:
            for clip in session.speech.clips:
                self._add_clip(session, clip, source_writer)
                on_clip()
            if source_writer is not None:
                source_writer.close()
        except BaseException:
            if source_writer is not None:
                source_writer.abort()
            raise
        speech = session.speech
        _write_npz_atomic(
            self.root / "ground_truth" / "sources" / f"{session.source_id}.npz",
            codes=session.codes, fps=np.float32(cfg.fps),
            clip_bounds=np.array([[c.start_frame, c.end_frame] for c in speech.clips], np.int64),
            phoneme_times=np.array([p.start for p in speech.phonemes], np.float32),
            phoneme_labels=np.array([p.phoneme for p in speech.phonemes]),
            word_times=np.array([w.start for w in speech.words], np.float32),
            speaker_id=np.array(session.speaker.speaker_id),
        )

    def _render(self, codes: np.ndarray, audio: np.ndarray, spf: int, source_writer: Mp4Writer | None) -> bytes:
        """Frames for ``codes`` -> the clip's mp4 bytes (and the same frames appended to the source video)."""
        cfg = self.config
        clip_writer = Mp4Writer(None, cfg.fps, RENDER_SIZE, crf=cfg.crf, preset=cfg.x264_preset)
        for a in range(0, codes.shape[0], cfg.render_batch):
            b = min(a + cfg.render_batch, codes.shape[0])
            frames = self.renderer.render(codes[a:b])  # (b-a, 512, 512, 3) uint8
            chunk = audio[a * spf:b * spf]
            clip_writer.add(frames, chunk)
            if source_writer is not None:
                source_writer.add(frames, chunk)
        return clip_writer.close()

    def _add_clip(self, session: SyntheticSession, clip: ClipSpan, source_writer: Mp4Writer | None) -> None:
        from omnitalker.data import ClipRecord
        from omnitalker.text import length_units

        cfg, speech, speaker = self.config, session.speech, session.speaker
        spf = speech.samples_per_frame
        clip_id = clip_id_for(session.source_id, clip.index)
        codes = session.codes[clip.start_frame:clip.end_frame]  # (n, 61)
        audio = speech.audio[clip.start_frame * spf:clip.end_frame * spf]  # (n * spf,)
        driving = self.renderer.rig.driving_points(torch.from_numpy(codes)).numpy()  # (n, P, 2)
        video = self._render(codes, audio, spf, source_writer)
        if cfg.write_clip_videos:
            tmp = self.root / "clips" / f".{clip_id}.mp4.tmp"
            tmp.write_bytes(video)
            os.replace(tmp, self.root / "clips" / f"{clip_id}.mp4")

        t0 = clip.start_frame / cfg.fps
        spoken = [p for p in speech.phonemes if clip.speech_start - 1e-6 <= p.start < clip.speech_end]
        words = [w.start - t0 for w in speech.words if clip.speech_start - 1e-6 <= w.start < clip.speech_end]
        _write_npz_atomic(
            self.root / "ground_truth" / f"{clip_id}.npz",
            codes=codes, fps=np.float32(cfg.fps), keypoints=driving[:, self.saved_mask].astype(np.float32),
            keypoint_names=self.saved_names, phoneme_times=np.array([p.start - t0 for p in spoken], np.float32),
            phoneme_labels=np.array([p.phoneme for p in spoken]), word_times=np.array(words, np.float32),
            text=np.array(clip.text), speaker_id=np.array(speaker.speaker_id), source_id=np.array(session.source_id),
            start_frame=np.int64(clip.start_frame), end_frame=np.int64(clip.end_frame),
        )

        energy = frame_energy(audio, spf)
        quality = {
            "fit_error": 0.0,  # the codes are the ground truth that drew the frames
            "face_area": _face_area(driving, self.face_mask),
            "speech_ratio": float(np.mean(energy > 0.15)),
            "speaking_rate": float(length_units(clip.text)) / max(clip.speech_end - clip.speech_start, 1e-3),
        }
        extra = {"synthetic": True, "generator": "data_prep.synthetic", "seed": cfg.seed, "voice": speaker.voice.name,
                 "start_s": t0, "end_s": clip.end_frame / cfg.fps, "speech_start_s": clip.speech_start - t0,
                 "speech_end_s": clip.speech_end - t0, "source_video": f"sources/{session.source_id}.mp4"}
        self.writer.add(ClipRecord(
            clip_id=clip_id, source_id=session.source_id, speaker_id=speaker.speaker_id, language=speaker.language,
            text=clip.text, codes=codes, fps=float(cfg.fps), audio=audio, mel=None,
            video=video if cfg.video_in_corpus else None, quality=quality, extra=extra,
        ))
        duration = codes.shape[0] / cfg.fps
        self.total_seconds += duration
        self.manifest.append({
            "clip_id": clip_id, "source_id": session.source_id, "speaker_id": speaker.speaker_id,
            "language": speaker.language, "text": clip.text, "num_frames": int(codes.shape[0]), "duration": duration,
            "start_frame": clip.start_frame, "end_frame": clip.end_frame,
            "video": f"clips/{clip_id}.mp4" if cfg.write_clip_videos else None,
            "ground_truth": f"ground_truth/{clip_id}.npz",
        })


def generate_corpus(config: SyntheticCorpusConfig) -> dict:
    """Generate the whole corpus described by ``config``; returns the summary also stored in the marker file."""
    from omnitalker.data import CorpusWriter

    config.validate()
    out = Path(config.out)
    partial = _prepare_output(out, config.overwrite)
    previous_threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    started = time.time()
    try:
        speakers = make_speakers(config.num_speakers, config.seed)
        total_clips = config.num_speakers * config.sources_per_speaker * config.clips_per_source
        with (tqdm(total=total_clips, desc="synthetic corpus", unit="clip", disable=not config.progress) as bar,
              CorpusWriter(partial / "corpus", shard_size_mb=config.shard_size_mb) as writer):
            builder = _CorpusBuilder(config, partial, writer)

            def on_clip() -> None:
                bar.update(1)
                bar.set_postfix(audio=f"{builder.total_seconds:.0f}s")

            for speaker_index, speaker in enumerate(speakers):
                for source_index in range(config.sources_per_speaker):
                    session = generate_session(speaker, speaker_index, source_index, config.clips_per_source,
                                               config.seed, config.fps)
                    builder.add_session(session, on_clip)
        summary = {
            "format": "omnitalker-synthetic-corpus", "version": FORMAT_VERSION,
            "config": dataclasses.asdict(config), "num_clips": len(builder.manifest),
            "num_sources": config.num_speakers * config.sources_per_speaker,
            "total_seconds": builder.total_seconds, "generation_seconds": time.time() - started,
        }
        _write_json_atomic(partial / "manifest.json", builder.manifest)
        _write_json_atomic(partial / "speakers.json", [s.to_dict() for s in speakers])
        _write_json_atomic(partial / MARKER_NAME, summary)
        if out.exists():
            shutil.rmtree(out)  # checked by _prepare_output: an earlier synthetic corpus and overwrite=True
        os.replace(partial, out)
        return summary
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        torch.set_num_threads(previous_threads)
