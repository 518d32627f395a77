"""Load the reference video for one-shot inference: aligned 24 kHz mono audio + RGB frames, 1-10 s (SPEC §5).

A reference shorter than `min_seconds` is refused; one longer than `max_seconds` is cut, preferring a cut in a
pause: among the video-frame boundaries in the last `pause_search_seconds` before the limit, the one where a short
RMS envelope of the audio is lowest. Audio and frames are cut at the same instant (a frame boundary), so they stay
in sync. A cut emits a `ReferenceCutWarning`: a transcript given for the whole file no longer matches.
`fit_reference_face` fits the visual codes on the kept frames only (never on what was cut off).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from omnitalker.av_timing import align_audio, frames_covered
from omnitalker.constants import SAMPLE_RATE
from omnitalker.inference.errors import (
    CorruptMediaError,
    InferenceInputError,
    NoAudioTrackError,
    NoVideoTrackError,
    ReferenceTooShortError,
    SilentAudioError,
)
from omnitalker.inference.media import decode_audio, iter_video_frames, probe_media

if TYPE_CHECKING:
    from omnitalker.face.fitting import FitResult

log = logging.getLogger(__name__)

MIN_REFERENCE_SECONDS = 1.0
MAX_REFERENCE_SECONDS = 10.0
SILENCE_DBFS = -60.0  # RMS of the whole reference audio below this = no voice (a silent track measures ~ -90 dBFS)


class ReferenceCutWarning(UserWarning):
    """The reference was longer than the maximum and has been cut."""


@dataclass
class ReferenceClip:
    audio: np.ndarray  # (samples,) float32 mono at sample_rate; sample 0 = the instant of frame 0
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    fps: float
    sample_rate: int
    path: str
    source_duration: float  # seconds of usable audio+video in the file before any cut
    was_cut: bool

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def dbfs(audio: np.ndarray) -> float:
    """RMS level in dB relative to full scale (1.0); -inf for digital silence."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def rms_envelope(audio: np.ndarray, sample_rate: int, window_seconds: float = 0.1, hop_seconds: float = 0.01):
    """Short-time RMS: returns (times (F,) seconds of the window centres, rms (F,)). Centred windows, edge-padded."""
    window = max(1, round(window_seconds * sample_rate))
    hop = max(1, round(hop_seconds * sample_rate))
    power = np.square(audio.astype(np.float64))
    cumulative = np.concatenate([[0.0], np.cumsum(power)])  # (S + 1,)
    centres = np.arange(0, audio.shape[0] + 1, hop)  # (F,)
    lo = np.clip(centres - window // 2, 0, audio.shape[0])
    hi = np.clip(centres + (window - window // 2), 0, audio.shape[0])
    rms = np.sqrt((cumulative[hi] - cumulative[lo]) / np.maximum(hi - lo, 1))
    return centres / sample_rate, rms


def choose_cut_frame(
    audio: np.ndarray,
    sample_rate: int,
    fps: float,
    *,
    max_frames: int,
    min_frames: int = 1,
    search_seconds: float = 3.0,
    window_seconds: float = 0.1,
    tie_db: float = 1.0,
) -> int:
    """Frame count k (<= max_frames) to keep so that the cut at time k / fps lies in the quietest spot (lowest RMS of
    a `window_seconds` window) of the last `search_seconds` before the limit. Spots within `tie_db` of the quietest
    count as ties, and ties go to the latest frame (more reference kept)."""
    first = max(min_frames, max_frames - round(search_seconds * fps))
    if first >= max_frames:
        return max_frames
    candidates = np.arange(first, max_frames + 1)  # (K,) frame counts
    times, rms = rms_envelope(audio, sample_rate, window_seconds=window_seconds)
    energy = np.interp(candidates / fps, times, rms)  # (K,)
    quietest = np.flatnonzero(energy <= energy.min() * 10 ** (tie_db / 20) + 1e-9)
    return int(candidates[quietest[-1]])


def load_reference(
    path: str | Path,
    *,
    min_seconds: float = MIN_REFERENCE_SECONDS,
    max_seconds: float = MAX_REFERENCE_SECONDS,
    pause_search_seconds: float = 3.0,
    silence_dbfs: float = SILENCE_DBFS,
    sample_rate: int = SAMPLE_RATE,
    max_side: int | None = None,
) -> ReferenceClip:
    """Decode, validate and (if needed) cut a reference video. See the module docstring.

    Raises (all `InferenceInputError`): MediaNotFoundError, CorruptMediaError, UnsupportedContainerError,
    NoVideoTrackError, NoAudioTrackError, SilentAudioError, ReferenceTooShortError.
    `max_side` shrinks the frames at decode time (longer side <= max_side) to bound memory for large videos.
    """
    path = Path(path)
    if not 0 < min_seconds <= max_seconds:
        raise ValueError(f"need 0 < min_seconds <= max_seconds, got {min_seconds}, {max_seconds}")
    info = probe_media(path)
    if not info.has_video:
        raise NoVideoTrackError(f"reference {path} has no video track (the face to imitate); give a video file")
    if not info.has_audio:
        raise NoAudioTrackError(f"reference {path} has no audio track (the voice to imitate)")
    fps = float(info.fps)
    audio, audio_start = decode_audio(path, sample_rate=sample_rate)
    audio = align_audio(audio, audio_start, info.video_start, sample_rate)  # the rule data prep uses too

    # Usable span = where both streams exist; the frame count is the container's estimate until decoded.
    estimated_frames = info.num_frames or round(info.duration * fps)
    span_frames = min(estimated_frames, frames_covered(audio.shape[0], sample_rate, fps))
    source_duration = span_frames / fps
    if source_duration < min_seconds:
        raise ReferenceTooShortError(
            f"reference {path} is {source_duration:.2f} s long (audio and video overlapping); at least "
            f"{min_seconds:g} s is needed"
        )
    max_frames = math.floor(max_seconds * fps + 1e-6)
    keep = span_frames
    if span_frames > max_frames:
        keep = choose_cut_frame(
            audio[: round(max_frames / fps * sample_rate)],
            sample_rate,
            fps,
            max_frames=max_frames,
            min_frames=math.ceil(min_seconds * fps),
            search_seconds=pause_search_seconds,
        )

    frames_list = list(iter_video_frames(path, max_frames=keep, max_side=max_side))
    if not frames_list:
        raise CorruptMediaError(f"reference {path}: the video track has no decodable frame")
    frames = np.stack(frames_list)  # (T, H, W, 3) uint8
    num_frames = frames.shape[0]
    if num_frames / fps < min_seconds:
        raise ReferenceTooShortError(
            f"reference {path} has only {num_frames} decodable frames ({num_frames / fps:.2f} s); at least "
            f"{min_seconds:g} s is needed"
        )
    samples = round(num_frames / fps * sample_rate)
    audio = audio[:samples]
    if audio.shape[0] < samples:  # at most a frame short (span rounding)
        audio = np.pad(audio, (0, samples - audio.shape[0]))
    audio = np.ascontiguousarray(audio, dtype=np.float32)

    level = dbfs(audio)
    if level < silence_dbfs:
        raise SilentAudioError(
            f"reference {path}: the audio track is silent ({level:.1f} dBFS RMS, threshold {silence_dbfs:g} dBFS); "
            "the reference must contain the voice to imitate"
        )
    was_cut = span_frames > max_frames
    if was_cut:
        message = (
            f"reference {path} is {source_duration:.2f} s long; using the first {num_frames / fps:.2f} s "
            f"(cut at the quietest point before {max_seconds:g} s). A reference transcript must cover only this part."
        )
        warnings.warn(message, ReferenceCutWarning, stacklevel=2)
        log.info(message)
    return ReferenceClip(
        audio=audio,
        frames=frames,
        fps=fps,
        sample_rate=sample_rate,
        path=str(path),
        source_duration=source_duration,
        was_cut=was_cut,
    )


def fit_reference_face(clip: ReferenceClip, face_model_path: str | None = None) -> FitResult:
    """Landmarks, single-face checks and the Eq. 1 fit on exactly the frames `load_reference` kept (<= 10 s), so the
    codes, the identity frame and the crop box describe the audio the model is prompted with. Raises the
    `omnitalker.face.errors.FaceError` subclasses of `extract_codes_with_fit` (no face, several faces, ...)."""
    from PIL import Image

    from omnitalker.face.extract import ExtractConfig, check_track
    from omnitalker.face.face_model import FaceModel
    from omnitalker.face.fitting import fit_track
    from omnitalker.face.landmarks import track_frames
    from omnitalker.face.video import scaled_size

    config = ExtractConfig(face_model_path=face_model_path)
    model = FaceModel.load(face_model_path) if face_model_path else FaceModel.default()
    height, width = clip.frames.shape[1:3]
    size = scaled_size(width, height, config.landmarker.max_side)  # detection runs on frames <= max_side, as in prep

    def frames():
        for index, frame in enumerate(clip.frames):
            yield index, frame if size == (width, height) else np.asarray(Image.fromarray(frame).resize(size))

    track = track_frames(frames(), clip.fps, width, height, config.landmarker, total=clip.num_frames)
    track.meta.update(video=clip.path, start_frame=0)
    check_track(track, config.checks, name=clip.path)
    return fit_track(track, model, config.fit)


def reference_codes(clip: ReferenceClip, ref_codes: str | Path | None, data: dict[str, np.ndarray] | None,
                    face_model_path: str | None, crop_mode: str):
    """The reference's codes: (codes (T, 61) at fps, fps, report, crop reference (centre, scale) or None). ``data``
    = the loaded ``ref_codes`` file, if one was given; without one, the face is fitted on the kept (<= 10 s) frames
    only. ``crop_mode`` "auto" needs the face box (fitted, or stored in the codes file)."""
    if data is not None:
        if "codes" not in data or "fps" not in data:
            raise InferenceInputError(f"{ref_codes}: a codes file needs arrays 'codes' (T, 61) and 'fps'")
        codes, fps = data["codes"].astype(np.float32), float(data["fps"])
        if codes.ndim != 2 or codes.shape[1] != 61:
            raise InferenceInputError(f"{ref_codes}: codes must be (T, 61), got {codes.shape}")
        crop = None
        if crop_mode == "auto":
            if "centre_ref" not in data or "scale_ref" not in data:
                raise InferenceInputError(f"{ref_codes} has no face-box reference: use crop=none for a "
                                          "reference that is already a face crop")
            crop = (data["centre_ref"], float(data["scale_ref"]))
        face_model = str(data["face_model"]) if "face_model" in data else None  # None: not recorded
        return codes, fps, {"source": str(ref_codes), "face_model": face_model}, crop
    from omnitalker.face.fingerprint import face_model_file_id

    fit = fit_reference_face(clip, face_model_path)
    crop = (fit.centre_ref, fit.scale_ref) if crop_mode == "auto" else None
    return fit.codes, fit.fps, {**fit.report(), "face_model": face_model_file_id(face_model_path)}, crop
