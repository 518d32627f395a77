"""All stages for ONE source video -> its own sub-corpus, a rejection log and (last, atomically) a done-marker.

Layout under the output directory ``out``::

    corpus/<video_id>/        CorpusWriter sub-corpus with the accepted clips (absent if none was accepted)
    rejections/<video_id>.jsonl   one JSON object per rejected video/segment/clip: stage, reason, detail, times
    done/<video_id>.json      written last: the video counts as finished only when this exists

Audio and frames share one clock (`omnitalker.av_timing`, the rule inference uses): the video stream's start time
is t = 0, audio is shifted by its own start time, frames are placed on the constant-rate grid by timestamp (a
variable-frame-rate video is resampled to its average rate; a hole > 0.5 s is rejected as ``frame_timing``).

Stages: probe -> audio (24 kHz + 16 kHz) -> silence check -> VAD -> shots -> transcript (sidecar or ASR) ->
grouping into candidate clips -> landmarks (whole video, once) -> per clip: duration, face checks, face size,
speaking rate, Eq. 1 fit, DNSMOS, face crop -> ClipRecord.

Rejection reasons (``reason`` field): decode_error, no_audio, silent_audio, no_speech, transcript_error,
no_transcript, segment_too_long, frame_timing, too_short, too_long, clip_too_short, no_face, multiple_faces,
face_too_small, bad_text, speaking_rate_low, speaking_rate_high, fit_failed, fit_error_high, dnsmos_low.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from data_prep.audio import NoAudioError, level_dbfs, load_audio, resample
from data_prep.config import PrepConfig
from data_prep.segment import Candidate, group_segments
from omnitalker.audio.asr import SidecarTranscripts, TranscriptError, make_recognizer
from omnitalker.av_timing import FrameTimingError, frames_covered
from omnitalker.constants import SAMPLE_RATE
from omnitalker.face.errors import ClipTooShortError, FitError, MultipleFacesError, NoFaceError, VideoDecodeError
from omnitalker.face.extract import check_track
from omnitalker.face.face_model import OUTER_EYE_CORNERS, FaceModel
from omnitalker.face.fitting import fit_track
from omnitalker.face.landmarks import LandmarkTrack, extract_landmarks
from omnitalker.face.video import probe_video

ASR_RATE = 16_000


@dataclass
class Rejection:
    video: str
    video_id: str
    stage: str
    reason: str
    detail: str
    start: float | None = None
    end: float | None = None


def video_id_for(path: str | Path) -> str:
    """Stable id: file stem + hash of the absolute path (same stem in two folders stays distinct)."""
    path = Path(path)
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.stem)
    return f"{stem}-{digest}"


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class _Rejected(Exception):
    """Internal: a whole-video stage failed; carries the rejection reason."""

    def __init__(self, stage: str, reason: str, detail: str):
        super().__init__(detail)
        self.stage, self.reason, self.detail = stage, reason, detail


class VideoProcessor:
    """Holds the loaded models (face model, recognisers) so that a worker process loads them once."""

    def __init__(self, config: PrepConfig) -> None:
        self.config = config
        self.out = Path(config.out)
        self.face_model = FaceModel.load(config.face_model_path) if config.face_model_path else FaceModel.default()
        self._recognizers: dict[str, object] = {}

    def recognizer(self, language: str):
        if language not in self._recognizers:
            name = self.config.asr.recognizers.get(language)
            if name is None:
                raise TranscriptError(
                    f"no speech recogniser configured for language {language!r} and no sidecar transcript; "
                    f"set asr.recognizers.{language}=<registered name> or put <video>.json next to the video"
                )
            kwargs = {"model_path": self.config.asr.model_path} if name == "whisper" else {}
            self._recognizers[language] = make_recognizer(name, **kwargs)
        return self._recognizers[language]

    # ------------------------------------------------------------------------------------------------------------
    def process(
        self,
        video: str | Path,
        source_id: str | None = None,
        speaker_id: str | None = None,
        audio_path: str | Path | None = None,
    ) -> dict:
        """Run every stage for `video`; returns the done-marker content (also written to done/<id>.json).

        `source_id`/`speaker_id` come from the dataset layout (`data_prep.datasets`); without them the file is its
        own source. `audio_path` (a separate audio file of the same span) is used when the video has no sound."""
        video = Path(video)
        vid = video_id_for(video)
        # per-video layout ids, read by _run/_clip (one video at a time per processor)
        self._source_id, self._speaker_id = source_id or vid, speaker_id
        self._audio_path = Path(audio_path) if audio_path else None
        corpus_dir = self.out / "corpus" / vid
        if corpus_dir.exists():  # half-finished earlier run: start this video from scratch
            shutil.rmtree(corpus_dir)
        rejections: list[Rejection] = []
        clips: list[dict] = []
        timings: dict[str, float] = {}
        started = time.time()
        try:
            self._run(video, vid, corpus_dir, rejections, clips, timings)
        except _Rejected as r:
            rejections.append(Rejection(str(video), vid, r.stage, r.reason, r.detail))
        lines = "".join(json.dumps(asdict(r)) + "\n" for r in rejections)
        write_text_atomic(self.out / "rejections" / f"{vid}.jsonl", lines)
        done = {
            "video": str(video),
            "video_id": vid,
            "source_id": self._source_id,
            "speaker_id": self._speaker_id,
            "clips": clips,
            "num_rejections": len(rejections),
            "rejection_reasons": sorted({r.reason for r in rejections}),
            "seconds": round(time.time() - started, 2),
            "timings": {k: round(v, 2) for k, v in timings.items()},
        }
        write_text_atomic(self.out / "done" / f"{vid}.json", json.dumps(done, indent=1))
        return done

    def _run(self, video: Path, vid: str, corpus_dir: Path, rejections: list, clips: list, timings: dict) -> None:
        cfg = self.config
        tick = time.time()

        def lap(name: str) -> None:
            nonlocal tick
            now = time.time()
            timings[name] = timings.get(name, 0.0) + now - tick
            tick = now

        try:
            info = probe_video(video)
        except VideoDecodeError as exc:
            raise _Rejected("probe", "decode_error", str(exc)) from exc
        audio_file = video if info.has_audio else self._audio_path
        if audio_file is None:
            raise _Rejected("audio", "no_audio", f"{video} has no audio stream")
        try:
            audio = load_audio(audio_file, SAMPLE_RATE)  # (samples,) 24 kHz, sample 0 = video frame 0
        except NoAudioError as exc:
            raise _Rejected("audio", "no_audio", str(exc)) from exc
        except VideoDecodeError as exc:
            raise _Rejected("audio", "decode_error", str(exc)) from exc
        level = level_dbfs(audio)
        if level < cfg.segment.silence_dbfs:
            raise _Rejected("audio", "silent_audio", f"audio level {level:.1f} dBFS < {cfg.segment.silence_dbfs} dBFS")
        audio16 = resample(audio, SAMPLE_RATE, ASR_RATE)
        lap("audio")

        from data_prep.vad import speech_segments

        speech = speech_segments(audio16, threshold=cfg.segment.vad_threshold)
        lap("vad")
        if not speech:
            raise _Rejected("vad", "no_speech", "voice activity detection found no speech")

        from data_prep.shots import detect_shots

        fps = info.fps
        shots = detect_shots(video, info.num_frames, threshold=cfg.segment.shot_threshold)
        shots_s = [(a / fps, b / fps) for a, b in shots]
        lap("shots")

        language = cfg.asr.language
        sidecar = SidecarTranscripts.find(video) if cfg.asr.use_sidecar else None
        try:
            if sidecar is not None:
                segments, _ = SidecarTranscripts.load(sidecar, speech)
                if sidecar.suffix == ".json":
                    data = json.loads(sidecar.read_text(encoding="utf-8"))
                    if isinstance(data, dict) and data.get("language"):
                        language = str(data["language"])
            else:
                segments = self.recognizer(language).transcribe(audio16, language)
        except TranscriptError as exc:
            raise _Rejected("asr", "transcript_error", str(exc)) from exc
        lap("asr")
        if not segments:
            raise _Rejected("asr", "no_transcript", "no transcribed speech")

        candidates, dropped = group_segments(
            segments, shots_s, cfg.filters.max_duration_s, cfg.segment.max_pause_s, cfg.segment.pad_s
        )
        for seg, reason in dropped:
            rejections.append(
                Rejection(
                    str(video),
                    vid,
                    "segment",
                    reason,
                    f"{seg.end - seg.start:.2f} s > {cfg.filters.max_duration_s} s",
                    seg.start,
                    seg.end,
                )
            )
        if not candidates:
            return
        try:
            track = extract_landmarks(video, cfg.landmarker)
        except VideoDecodeError as exc:
            reason = "frame_timing" if isinstance(exc.__cause__, FrameTimingError) else "decode_error"
            raise _Rejected("landmarks", reason, str(exc)) from exc
        lap("landmarks")

        writer = None
        try:
            for k, cand in enumerate(candidates):
                result = self._clip(video, vid, k, cand, shots, track, audio, audio16, language, rejections, timings)
                if result is None:
                    continue
                record, stats = result
                if writer is None:
                    from omnitalker.data.corpus import CorpusWriter
                    from omnitalker.face.fingerprint import face_model_id

                    writer = CorpusWriter(corpus_dir, mode="w", face_model=face_model_id(self.face_model))
                writer.add(record)
                clips.append(stats)
            if writer is not None:
                writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise

    def _clip(
        self, video, vid, k, cand: Candidate, shots, track: LandmarkTrack, audio, audio16, language, rejections, timings
    ):
        cfg = self.config
        fps = track.fps

        def reject(stage: str, reason: str, detail: str) -> None:
            rejections.append(
                Rejection(str(video), vid, stage, reason, detail, round(cand.start, 3), round(cand.end, 3))
            )

        shot_start, shot_end = shots[cand.shot]
        margin = cfg.segment.shot_margin_frames
        f0 = max(math.ceil(cand.start * fps), shot_start + (margin if shot_start > 0 else 0))
        f1 = min(
            math.floor(cand.end * fps),
            track.num_frames,
            shot_end - (margin if shot_end < track.num_frames else 0),
            frames_covered(audio.shape[0], SAMPLE_RATE, fps),  # a clip ends where either stream ends
        )
        duration = (f1 - f0) / fps
        if duration < cfg.filters.min_duration_s:
            reject("filter", "too_short", f"{duration:.2f} s < {cfg.filters.min_duration_s} s")
            return None
        if duration > cfg.filters.max_duration_s:
            reject("filter", "too_long", f"{duration:.2f} s > {cfg.filters.max_duration_s} s")
            return None
        sub = track.slice(f0, f1)
        try:
            check_track(sub, cfg.checks, name=f"{vid} [{f0}, {f1})")
        except ClipTooShortError as exc:
            reject("face", "clip_too_short", str(exc))
            return None
        except NoFaceError as exc:
            reject("face", "no_face", str(exc))
            return None
        except MultipleFacesError as exc:
            reject("face", "multiple_faces", str(exc))
            return None
        boxes = sub.face_boxes()[sub.detected]
        face_area = float(
            np.median((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])) / (track.width * track.height)
        )
        iod_px = float(
            np.median(
                np.linalg.norm(
                    sub.landmarks[sub.detected][:, OUTER_EYE_CORNERS[0], :2]
                    - sub.landmarks[sub.detected][:, OUTER_EYE_CORNERS[1], :2],
                    axis=-1,
                )
            )
        )
        if face_area < cfg.filters.min_face_area or iod_px < cfg.filters.min_face_iod_px:
            reject(
                "filter",
                "face_too_small",
                f"face area {face_area:.3%} of the frame (min {cfg.filters.min_face_area:.1%}), "
                f"inter-ocular {iod_px:.0f} px (min {cfg.filters.min_face_iod_px:.0f} px)",
            )
            return None
        from omnitalker.text import TextError, length_units

        try:
            rate = length_units(cand.text) / duration
        except TextError as exc:
            reject("filter", "bad_text", str(exc))
            return None
        lo = cfg.filters.min_speaking_rate.get(language, cfg.filters.min_speaking_rate.get("default", 0.0))
        hi = cfg.filters.max_speaking_rate.get(language, cfg.filters.max_speaking_rate.get("default", math.inf))
        if rate < lo:
            reject("filter", "speaking_rate_low", f"{rate:.1f} units/s < {lo} ({language})")
            return None
        if rate > hi:
            reject("filter", "speaking_rate_high", f"{rate:.1f} units/s > {hi} ({language})")
            return None
        tick = time.time()
        try:
            fit = fit_track(sub, self.face_model, cfg.fit)
        except (FitError, NoFaceError) as exc:
            reject("fit", "fit_failed", str(exc))
            return None
        timings["fit"] = timings.get("fit", 0.0) + time.time() - tick
        fit_error = float(np.nanmean(fit.fit_error))
        if not fit_error <= cfg.filters.max_fit_error:
            reject("filter", "fit_error_high", f"mean fit error {fit_error:.3f} > {cfg.filters.max_fit_error}")
            return None
        t0, t1 = f0 / fps, f1 / fps  # audio spans exactly the frames of the codes
        clip_audio = audio[round(t0 * SAMPLE_RATE) : round(t1 * SAMPLE_RATE)]
        quality = {
            "fit_error": fit_error,
            "face_area": face_area,
            "face_iod_px": iod_px,
            "speaking_rate": rate,
            "face_fraction": float(sub.detected.mean()),
        }
        if cfg.dnsmos:
            from data_prep.quality import dnsmos

            tick = time.time()
            quality.update(dnsmos(audio16[round(t0 * 16000) : round(t1 * 16000)]))
            timings["dnsmos"] = timings.get("dnsmos", 0.0) + time.time() - tick
            if quality["dnsmos_ovrl"] < cfg.filters.min_dnsmos_ovrl:
                reject(
                    "filter", "dnsmos_low", f"DNSMOS OVRL {quality['dnsmos_ovrl']:.2f} < {cfg.filters.min_dnsmos_ovrl}"
                )
                return None
        video_bytes = None
        if cfg.store_video:
            from data_prep.crop import face_crop_mp4

            tick = time.time()
            video_bytes = face_crop_mp4(video, f0, f1, fps, fit.centre_ref, fit.scale_ref, cfg.crop_size, cfg.crop_crf)
            timings["crop"] = timings.get("crop", 0.0) + time.time() - tick
        from omnitalker.data.corpus import ClipRecord

        clip_id = f"{vid}_{k:04d}"
        extra = {
            "video": str(video),
            "start": t0,
            "end": t1,
            "start_frame": f0,
            "end_frame": f1,
            "scale_ref": fit.scale_ref,
            "centre_ref": fit.centre_ref.tolist(),
            "interpolated_frames": int(fit.interpolated.sum()),
        }
        record = ClipRecord(
            clip_id=clip_id,
            source_id=self._source_id,
            speaker_id=self._speaker_id or (self._source_id if cfg.speaker_from_source else None),
            language=language,
            text=cand.text,
            codes=fit.codes,
            fps=float(fps),
            audio=clip_audio.astype(np.float32),
            mel=None,
            video=video_bytes,
            quality=quality,
            extra=extra,
        )
        stats = {"clip_id": clip_id, "duration": duration, "text_length": len(cand.text), **quality}
        return record, stats
