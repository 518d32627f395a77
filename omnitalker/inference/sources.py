"""Identity and voice from separate sources (issue 13 §2): a portrait image for the face, an audio clip for the
voice (its transcript given or from ASR), optionally a third clip for the motion style.

    portrait --landmarks, one-face checks, Eq. 1 fit (the mesh rig's fit)--> identity code (61,), face crop
    voice    --decode 24 kHz mono, <= 10 s (cut at a pause), level check--> reference audio
    motion   --face pipeline on <= 10 s of frames--> codes, made relative to their identity frame and added to
             the portrait's code, looped (forth and back) over the voice's length
    no motion: the neutral default style -- the portrait's code held still, with blinks at NEUTRAL_BLINKS_PER_MIN
The result is the (codes, audio) pair the DiT is prompted with, as a reference video would give it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnitalker.constants import BLENDSHAPE_NAMES, MEL_FPS, SAMPLE_RATE
from omnitalker.inference.errors import (
    CorruptMediaError,
    IdentityImageError,
    InferenceInputError,
    MediaNotFoundError,
    ReferenceTooShortError,
    SilentAudioError,
)
from omnitalker.inference.reference import (
    MAX_REFERENCE_SECONDS,
    MIN_REFERENCE_SECONDS,
    SILENCE_DBFS,
    ReferenceClip,
    ReferenceCutWarning,
    choose_cut_frame,
    dbfs,
)

MAX_IMAGE_SIDE = 1280  # a larger portrait is downscaled first (the landmarker's working size)
NEUTRAL_BLINKS_PER_MIN = 15.0  # adults at rest blink ~15-20 times a minute
_BLINK = [BLENDSHAPE_NAMES.index("eyeBlinkLeft"), BLENDSHAPE_NAMES.index("eyeBlinkRight")]


@dataclass
class IdentitySource:
    image: np.ndarray  # (H, W, 3) uint8 the portrait (downscaled to <= MAX_IMAGE_SIDE)
    crop: np.ndarray  # (S, S, 3) uint8 the renderer's identity image (face crop, or the portrait with crop=none)
    code: np.ndarray  # (61,) fitted code of the portrait
    report: dict


def load_identity_image(source: str | Path | np.ndarray, name: str | None = None) -> np.ndarray:
    """A portrait file (any format Pillow reads; pixels only, nothing executes) or an (H, W, 3) array -> uint8 RGB
    with the longer side <= MAX_IMAGE_SIDE."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, np.ndarray):
        if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
            raise IdentityImageError(f"identity image must be an (H, W, 3) uint8 RGB array, got {source.shape} "
                                     f"{source.dtype}")
        image = Image.fromarray(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise MediaNotFoundError(f"identity image {path} does not exist (or is not a file)")
        try:
            with Image.open(path) as opened:
                opened.load()
                image = opened.convert("RGB")
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise IdentityImageError(f"identity image {path} is not a readable image: {exc}") from exc
    if min(image.size) < 16:
        label = name or ("identity image" if isinstance(source, np.ndarray) else f"identity image {source}")
        raise IdentityImageError(f"{label} is {image.size[0]}x{image.size[1]} px: far too small for a face")
    scale = MAX_IMAGE_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                             Image.LANCZOS)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def fit_identity_image(image: np.ndarray, face_model_path: str | None = None, crop: str = "auto",
                       name: str = "identity image") -> IdentitySource:
    """One dominant face on ``image``: detected, checked (no face / several faces / too small raise
    :class:`IdentityImageError`) and fitted; ``crop="auto"`` cuts the renderer's face crop around it."""
    from omnitalker.face.crop import crop_face
    from omnitalker.face.face_model import FaceModel
    from omnitalker.face.fingerprint import face_model_file_id
    from omnitalker.meshrender.rig import FaceImageError, build_image_rig

    if crop not in ("auto", "none"):
        raise InferenceInputError(f"crop must be 'auto' or 'none', got {crop!r}")
    model = FaceModel.load(face_model_path) if face_model_path else FaceModel.default()
    try:
        rig = build_image_rig(image, model, name=name)
    except FaceImageError as exc:
        raise IdentityImageError(str(exc)) from exc
    code = rig.source_code.numpy().astype(np.float32)  # (61,)
    face = crop_face(image, rig.centre_ref.numpy(), rig.scale_ref) if crop == "auto" else image
    report = {"source": name, "face_model": face_model_file_id(face_model_path), "scale_ref": rig.scale_ref,
              "centre_ref": rig.centre_ref.tolist()}
    return IdentitySource(image, np.ascontiguousarray(face), code, report)


def load_voice(path: str | Path, still: np.ndarray, max_seconds: float = MAX_REFERENCE_SECONDS,
               min_seconds: float = MIN_REFERENCE_SECONDS) -> ReferenceClip:
    """The voice clip (any audio or video file with an audio track) as a :class:`ReferenceClip` whose one frame is
    ``still`` (the portrait) covering the whole kept audio; cut at a pause to <= ``max_seconds``."""
    from omnitalker.inference.media import decode_audio

    audio, _ = decode_audio(path)  # (n,) float32 24 kHz mono; raises the media errors naming the file
    source_seconds = audio.shape[0] / SAMPLE_RATE
    if source_seconds < min_seconds:
        raise ReferenceTooShortError(f"voice {path} is {source_seconds:.2f} s long; at least {min_seconds:g} s is "
                                     "needed")
    was_cut = source_seconds > max_seconds
    if was_cut:
        fps = 25.0  # cut on a 40 ms grid, in the quietest spot of the last 3 s
        keep = choose_cut_frame(audio, SAMPLE_RATE, fps, max_frames=math.floor(max_seconds * fps),
                                min_frames=math.ceil(min_seconds * fps))
        audio = audio[: round(keep / fps * SAMPLE_RATE)]
        warnings.warn(f"voice {path} is {source_seconds:.2f} s long; using the first {len(audio) / SAMPLE_RATE:.2f}"
                      " s (cut at a pause). A voice_text must cover only this part.", ReferenceCutWarning,
                      stacklevel=2)
    level = dbfs(audio)
    if level < SILENCE_DBFS:
        raise SilentAudioError(f"voice {path} is silent ({level:.1f} dBFS RMS, threshold {SILENCE_DBFS:g} dBFS)")
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    seconds = audio.shape[0] / SAMPLE_RATE
    return ReferenceClip(audio=audio, frames=still[None], fps=1.0 / seconds, sample_rate=SAMPLE_RATE,
                         path=str(path), source_duration=source_seconds, was_cut=was_cut)


def neutral_codes(identity_code: np.ndarray, num_frames: int, fps: float = MEL_FPS, seed: int = 0) -> np.ndarray:
    """The neutral default style: ``identity_code`` (61,) held for ``num_frames`` at ``fps``, with natural blinks
    -> (num_frames, 61)."""
    from omnitalker.controls.blinks import BlinkSchedule, replace_blinks

    codes = np.repeat(np.asarray(identity_code, np.float32)[None], num_frames, axis=0)  # (T, 61)
    blinks = BlinkSchedule(NEUTRAL_BLINKS_PER_MIN, seed).track(0, num_frames, fps)  # (T,)
    codes[:, _BLINK] = replace_blinks(codes[:, _BLINK], blinks)
    return codes


def motion_codes(path: str | Path, identity_code: np.ndarray, num_frames: int,
                 face_model_path: str | None = None, max_seconds: float = MAX_REFERENCE_SECONDS) -> np.ndarray:
    """Motion style from a third clip (audio not needed): its codes relative to its own identity frame, added to
    ``identity_code`` (61,), looped forth and back to ``num_frames`` at the mel rate -> (num_frames, 61)."""
    from omnitalker.data.resample import codes_to_mel_rate
    from omnitalker.face.errors import FaceError
    from omnitalker.inference.identity import identity_frame_index
    from omnitalker.inference.media import iter_video_frames, probe_media
    from omnitalker.inference.reference import fit_reference_face
    from omnitalker.meshrender.retarget import retarget_codes

    info = probe_media(path)
    if not info.has_video:
        raise InferenceInputError(f"motion clip {path} has no video track (the motion to imitate)")
    fps = float(info.fps)
    frames = list(iter_video_frames(path, max_frames=math.floor(max_seconds * fps)))
    if not frames:
        raise CorruptMediaError(f"motion clip {path}: the video track has no decodable frame")
    clip = ReferenceClip(np.zeros(0, np.float32), np.stack(frames), fps, SAMPLE_RATE, str(path), len(frames) / fps,
                         False)
    try:
        fit = fit_reference_face(clip, face_model_path)
    except FaceError as exc:
        raise InferenceInputError(f"motion clip {path}: {exc}") from exc
    codes = retarget_codes(fit.codes, identity_code, anchor=identity_frame_index(fit.codes))  # (T, 61)
    need = math.ceil(num_frames / MEL_FPS * fit.fps) + 2
    loop = np.concatenate([codes, codes[-2:0:-1]]) if len(codes) > 2 else codes  # forth and back: no jump
    codes = np.resize(loop, (max(need, 2), codes.shape[1])) if len(loop) else codes  # (need, 61) tiled
    return codes_to_mel_rate(codes, fit.fps, num_frames).numpy()
