"""Generate the synthetic talking-head corpus: speech, codes, rendered mp4 clips, corpus shards, ground truth.

Layout of ``out`` (built in a hidden ``.<name>.partial`` directory next to it and moved into place at the end):

    corpus/                    training corpus (omnitalker.data.CorpusWriter): codes @ fps, audio @ 24 kHz, mp4 bytes
    corpus_heldout/            the held-out sessions (held-out sources / speakers, speaking held-out sentences), if any
    clips/<clip_id>.mp4        the same clips as files (H.264 512x512 + AAC)
    sources/<source_id>.mp4    each whole "source video" (one speaker session; the clips are cut from it)
    ground_truth/<clip_id>.npz codes, driving keypoints, phoneme/word timings of each clip
    ground_truth/sources/<source_id>.npz   the whole session's codes and timings
    manifest.json              one entry per clip (ids, text, language, frames, paths)
    speakers.json              each speaker's voice and style parameters
    synthetic_corpus.json      the configuration and summary (the marker that makes ``overwrite`` safe)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from data_prep.synthetic.codes import frame_energy, session_codes
from data_prep.synthetic.config import (
    HELDOUT_SOURCE,
    HELDOUT_SPEAKER,
    PRESETS,  # noqa: F401  (re-exported: callers import the presets from here)
    TRAIN,
    SyntheticCorpusConfig,
    SyntheticCorpusError,
)
from data_prep.synthetic.face_render import FaceRenderer
from data_prep.synthetic.mp4 import Mp4Writer
from data_prep.synthetic.sentences import pick_sentences
from data_prep.synthetic.session import ClipSpan, SessionSpeech, build_session
from data_prep.synthetic.style import SpeakerStyle
from omnitalker.constants import RENDER_SIZE

if TYPE_CHECKING:
    from omnitalker.data import CorpusWriter

MARKER_NAME = "synthetic_corpus.json"
FORMAT_VERSION = 1


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
                     seed: int, fps: float = 25.0, heldout: bool | None = None,
                     heldout_fraction: float = 0.0) -> SyntheticSession:
    """Speech + codes of one session; a pure function of its arguments (same seed -> identical arrays). ``heldout``
    (with ``heldout_fraction`` > 0) restricts the sentences to that side of the held-out sentence split."""
    rng = np.random.default_rng([seed, speaker_index, source_index])
    sentences = pick_sentences(speaker.language, clips_per_source, rng,
                               heldout=heldout if heldout_fraction > 0 else None, heldout_fraction=heldout_fraction)
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

    def __init__(self, config: SyntheticCorpusConfig, root: Path, writers: dict[str, CorpusWriter]) -> None:
        self.config = config
        self.root = root
        self.writers = writers  # split ("train" / "heldout") -> corpus writer
        self.renderer = None
        if config.render:
            self.renderer = FaceRenderer(map_resolution=config.map_resolution, batch_size=config.render_batch)
            rig = self.renderer.rig
            self.face_mask = np.array([g == "face" for g in rig.groups])  # what a face detector would box
            self.saved_mask = rig.movable.numpy()  # face + hair keypoints go into the ground truth
            self.saved_names = np.array([n for n, keep in zip(rig.names, self.saved_mask) if keep])
        self.manifest: list[dict] = []
        self.total_seconds = 0.0
        for sub in ("clips", "sources", "ground_truth/sources") if config.render else ("ground_truth/sources",):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def add_session(self, session: SyntheticSession, split: str, on_clip: Callable[[], None]) -> None:
        """Render the session's clips (also streamed into the source mp4) and write all their outputs."""
        cfg = self.config
        source_writer = (Mp4Writer(self.root / "sources" / f"{session.source_id}.mp4", cfg.fps, RENDER_SIZE,
                                   crf=cfg.crf, preset=cfg.x264_preset)
                         if cfg.render and cfg.write_source_videos else None)
        try:
            for clip in session.speech.clips:
                self._add_clip(session, clip, split, source_writer)
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

    def _add_clip(self, session: SyntheticSession, clip: ClipSpan, split: str, source_writer: Mp4Writer | None) -> None:
        from omnitalker.data import ClipRecord
        from omnitalker.text import length_units

        cfg, speech, speaker = self.config, session.speech, session.speaker
        spf = speech.samples_per_frame
        clip_id = clip_id_for(session.source_id, clip.index)
        codes = session.codes[clip.start_frame:clip.end_frame]  # (n, 61)
        audio = speech.audio[clip.start_frame * spf:clip.end_frame * spf]  # (n * spf,)
        video, rendered = None, {}
        if self.renderer is not None:
            driving = self.renderer.rig.driving_points(torch.from_numpy(codes)).numpy()  # (n, P, 2)
            video = self._render(codes, audio, spf, source_writer)
            rendered = {"keypoints": driving[:, self.saved_mask].astype(np.float32), "keypoint_names": self.saved_names}
        if video is not None and cfg.write_clip_videos:
            tmp = self.root / "clips" / f".{clip_id}.mp4.tmp"
            tmp.write_bytes(video)
            os.replace(tmp, self.root / "clips" / f"{clip_id}.mp4")

        t0 = clip.start_frame / cfg.fps
        spoken = [p for p in speech.phonemes if clip.speech_start - 1e-6 <= p.start < clip.speech_end]
        words = [w.start - t0 for w in speech.words if clip.speech_start - 1e-6 <= w.start < clip.speech_end]
        _write_npz_atomic(
            self.root / "ground_truth" / f"{clip_id}.npz",
            codes=codes, fps=np.float32(cfg.fps), **rendered, phoneme_times=np.array([p.start - t0 for p in spoken], np.float32),
            phoneme_labels=np.array([p.phoneme for p in spoken]), word_times=np.array(words, np.float32),
            text=np.array(clip.text), speaker_id=np.array(speaker.speaker_id), source_id=np.array(session.source_id),
            start_frame=np.int64(clip.start_frame), end_frame=np.int64(clip.end_frame), split=np.array(split),
        )

        energy = frame_energy(audio, spf)
        quality = {
            "fit_error": 0.0,  # the codes are the ground truth that drew the frames
            "speech_ratio": float(np.mean(energy > 0.15)),
            "speaking_rate": float(length_units(clip.text)) / max(clip.speech_end - clip.speech_start, 1e-3),
        }
        if self.renderer is not None:
            quality["face_area"] = _face_area(driving, self.face_mask)
        extra = {"split": split, "synthetic": True, "generator": "data_prep.synthetic", "seed": cfg.seed, "voice": speaker.voice.name,
                 "start_s": t0, "end_s": clip.end_frame / cfg.fps, "speech_start_s": clip.speech_start - t0,
                 "speech_end_s": clip.speech_end - t0}
        if video is not None and cfg.write_source_videos:
            extra["source_video"] = f"sources/{session.source_id}.mp4"
        self.writers[TRAIN if split == TRAIN else "heldout"].add(ClipRecord(
            clip_id=clip_id, source_id=session.source_id, speaker_id=speaker.speaker_id, language=speaker.language,
            text=clip.text, codes=codes, fps=float(cfg.fps), audio=audio, mel=None,
            video=video if cfg.video_in_corpus else None, quality=quality, extra=extra,
        ))
        duration = codes.shape[0] / cfg.fps
        self.total_seconds += duration
        self.manifest.append({
            "clip_id": clip_id, "source_id": session.source_id, "speaker_id": speaker.speaker_id,
            "language": speaker.language, "text": clip.text, "num_frames": int(codes.shape[0]), "duration": duration,
            "start_frame": clip.start_frame, "end_frame": clip.end_frame, "split": split,
            "video": f"clips/{clip_id}.mp4" if video is not None and cfg.write_clip_videos else None,
            "ground_truth": f"ground_truth/{clip_id}.npz",
        })


def _session_job(args: tuple) -> SyntheticSession:
    """Top-level (picklable) wrapper of :func:`generate_session` for the worker pool."""
    return generate_session(*args)


def _sessions(config: SyntheticCorpusConfig, jobs: list[tuple]) -> Iterator[SyntheticSession]:
    """The sessions of ``jobs`` in order; synthesised by ``config.workers`` processes, a bounded window ahead."""
    if config.workers == 1:
        yield from (generate_session(*job) for job in jobs)
        return
    window = 4 * config.workers  # sessions in flight: bounds memory however fast synthesis runs ahead of writing
    with ProcessPoolExecutor(config.workers, mp_context=get_context("spawn")) as pool:
        for start in range(0, len(jobs), window):
            yield from pool.map(_session_job, jobs[start:start + window])


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
        speakers = config.speakers()
        jobs, splits = [], []
        for speaker_index, speaker in enumerate(speakers):
            for source_index in range(config.sources_per_speaker):
                split = config.split_of(speaker_index, source_index)
                jobs.append((speaker, speaker_index, source_index, config.clips_per_source, config.seed, config.fps,
                             split != TRAIN, config.heldout_sentence_fraction))
                splits.append(split)
        total_clips = len(jobs) * config.clips_per_source
        parts = {TRAIN: "corpus", "heldout": "corpus_heldout"} if config.has_heldout else {TRAIN: "corpus"}
        with contextlib.ExitStack() as stack:
            bar = stack.enter_context(tqdm(total=total_clips, desc="synthetic corpus", unit="clip",
                                           disable=not config.progress))
            writers = {key: stack.enter_context(CorpusWriter(partial / name, shard_size_mb=config.shard_size_mb))
                       for key, name in parts.items()}
            builder = _CorpusBuilder(config, partial, writers)

            def on_clip() -> None:
                bar.update(1)
                bar.set_postfix(audio=f"{builder.total_seconds:.0f}s")

            for session, split in zip(_sessions(config, jobs), splits):
                builder.add_session(session, split, on_clip)
        summary = {
            "format": "omnitalker-synthetic-corpus", "version": FORMAT_VERSION,
            "config": dataclasses.asdict(config), "num_clips": len(builder.manifest),
            "num_sources": len(jobs), "total_seconds": builder.total_seconds,
            "splits": {name: sum(1 for entry in builder.manifest if entry["split"] == name)
                       for name in (TRAIN, HELDOUT_SOURCE, HELDOUT_SPEAKER)},
            "generation_seconds": time.time() - started,
        }
        _write_json_atomic(partial / "manifest.json", builder.manifest)
        _write_json_atomic(partial / "speakers.json", [s.to_dict() | {"split": config.split_of(i, 0)}
                                                       for i, s in enumerate(speakers)])
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
