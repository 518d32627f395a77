"""The demo's back end: one request -> one job folder (mp4, wav, codes), one at a time, errors as messages.

The UI (app.py) only turns widgets into a `DemoRequest` and shows a `DemoResult` or the message of a `DemoError`.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from omnitalker.demo.config import DemoSettings
from omnitalker.demo.features import Features
from omnitalker.demo.messages import DemoInputError, user_message
from omnitalker.inference.errors import TextInputError

log = logging.getLogger(__name__)


class DemoError(Exception):
    """A failed generation; ``str()`` is the one-line message for the page."""


@dataclass
class DemoRequest:
    text: str
    reference_video: str | None = None
    ref_text: str | None = None  # transcript of the reference video (None: the codes file's, else ASR)
    ref_codes: str | None = None  # precomputed codes npz (the synthetic corpus' ground truth carries the transcript)
    face_crop: bool = False  # the reference is already a square face crop (crop=none)
    identity_image: str | None = None  # image + audio identity (where the pipeline has analyse_sources)
    voice_audio: str | None = None
    voice_text: str | None = None
    motion_video: str | None = None
    speed: float = 1.0
    seed: int | None = None
    controls: dict[str, Any] = field(default_factory=dict)  # Controls field -> value (where installed)


@dataclass
class DemoResult:
    video: Path
    wav: Path
    codes: Path
    duration_s: float
    timings: dict[str, float]
    notes: list[str]  # warnings raised on the way (e.g. the reference was cut)

    @property
    def downloads(self) -> list[str]:
        return [str(self.video), str(self.wav), str(self.codes)]

    def summary(self) -> str:
        times = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
        lines = [f"Done: {self.duration_s:.2f} s of video ({times})."]
        lines += [f"Note: {note}" for note in self.notes]
        return "\n\n".join(lines)


class DemoService:
    def __init__(self, pipeline: Any, settings: DemoSettings, features: Features) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.features = features
        self._lock = threading.Lock()  # one generation at a time: the models are shared and the CPU is small

    # ------------------------------------------------------------------ requests
    def generate(self, request: DemoRequest) -> DemoResult:
        """Run one request; raises `DemoError` with the message for the page (no output is left on failure)."""
        job = self._new_job_dir()
        try:
            with self._lock, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = self._generate(request, job)
            result.notes = _notes(caught)
            self._prune()
            return result
        except Exception as exc:  # every failure becomes one message; the traceback of unexpected ones is logged
            shutil.rmtree(job, ignore_errors=True)
            raise DemoError(user_message(exc)) from exc

    def stream_preview(self, request: DemoRequest) -> Iterator[str]:
        """Where the pipeline streams: the file of each chunk it yields, as it comes (a preview; the full mp4 is
        made by `generate`). Chunks that are not files (or objects with a ``video``/``path`` file) are skipped."""
        if not self.features.stream:
            return
        try:
            with self._lock:
                reference = self._reference(request)
                with self._request_settings(request):
                    for chunk in self.pipeline.stream(_checked_text(request.text, self.settings), reference):
                        path = _chunk_file(chunk)
                        if path is not None:
                            yield str(path)
        except Exception as exc:
            raise DemoError(user_message(exc)) from exc

    def _generate(self, request: DemoRequest, job: Path) -> DemoResult:
        text = _checked_text(request.text, self.settings)
        controls = self._controls(request.controls)
        reference = self._reference(request)
        kwargs: dict[str, Any] = {"speed": float(request.speed)}
        if controls is not None:
            kwargs["controls"] = controls
        if isinstance(reference, str):
            kwargs.update(ref_text=_blank_to_none(request.ref_text), ref_codes=request.ref_codes or None)
        with self._request_settings(request):
            result = self.pipeline.generate(text, reference, job / "omnitalker.mp4", wav_out=job / "omnitalker.wav",
                                            codes_out=job / "codes.npz", progress=False, **kwargs)
        return DemoResult(Path(result.video), job / "omnitalker.wav", job / "codes.npz", result.duration_s,
                          dict(result.timings), [])

    def _reference(self, request: DemoRequest) -> Any:
        """The reference video's path, or (image + audio) the pipeline's `ReferenceAnalysis` of the sources."""
        image_audio = request.identity_image or request.voice_audio
        if request.reference_video and image_audio:
            raise DemoInputError("give either a reference video or a portrait image with a voice clip, not both "
                                 "(clear one of them)")
        if image_audio:
            if not self.features.sources:
                raise DemoInputError("this installation has no image + audio identity: upload a reference video")
            if not (request.identity_image and request.voice_audio):
                raise DemoInputError("an image + audio identity needs both a portrait image and a voice clip")
            if request.motion_video and request.reference_video:
                raise DemoInputError("give the motion clip in the image + audio inputs only")
            with self._request_settings(request):
                return self.pipeline.analyse_sources(request.identity_image, request.voice_audio,
                                                     voice_text=_blank_to_none(request.voice_text),
                                                     motion_video=request.motion_video or None)
        if not request.reference_video:
            raise DemoInputError("upload a reference video (1-10 s of one person speaking)"
                                 + (", or a portrait image with a voice clip" if self.features.sources else ""))
        return str(request.reference_video)

    def _controls(self, values: dict[str, Any]) -> Any:
        cls = self.features.controls
        if cls is None or not values:
            return None
        try:
            return cls(**{k: v for k, v in values.items() if k in {f.name for f in self.features.control_fields}})
        except (TypeError, ValueError) as exc:
            raise DemoInputError(f"invalid control value: {exc}") from exc

    def _request_settings(self, request: DemoRequest) -> _PipelineOverrides:
        overrides = {"crop": "none" if request.face_crop else "auto"}
        if request.seed is not None:
            overrides["seed"] = int(request.seed)
        return _PipelineOverrides(self.pipeline, overrides)

    # ------------------------------------------------------------------ job folders
    def _new_job_dir(self) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")  # sorts by creation time (pruning keeps the newest)
        job = self.settings.outputs / f"{stamp}-{uuid.uuid4().hex[:6]}"
        job.mkdir(parents=True, exist_ok=False)
        return job

    def _prune(self) -> None:
        jobs = sorted(p for p in self.settings.outputs.iterdir() if p.is_dir())
        for old in jobs[: max(0, len(jobs) - self.settings.keep_jobs)]:
            shutil.rmtree(old, ignore_errors=True)


class _PipelineOverrides:
    """Set per-request fields of ``pipeline.cfg`` (crop, seed) for the duration of a ``with`` block."""

    def __init__(self, pipeline: Any, values: dict[str, Any]) -> None:
        self.cfg = getattr(pipeline, "cfg", None)
        self.values = {k: v for k, v in values.items() if self.cfg is not None and hasattr(self.cfg, k)}
        self.saved: dict[str, Any] = {}

    def __enter__(self) -> None:
        for key, value in self.values.items():
            self.saved[key] = getattr(self.cfg, key)
            setattr(self.cfg, key, value)

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            setattr(self.cfg, key, value)


def _checked_text(text: str | None, settings: DemoSettings) -> str:
    if text is None or not text.strip():
        raise TextInputError("the text to speak is empty: type what the face should say")
    if len(text) > settings.max_text_chars:
        raise TextInputError(f"the text has {len(text)} characters; this demo takes at most "
                             f"{settings.max_text_chars} (max_text_chars=...)")
    return text.strip()


def _blank_to_none(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def _chunk_file(chunk: Any) -> Path | None:
    for candidate in (chunk, getattr(chunk, "video", None), getattr(chunk, "path", None)):
        if isinstance(candidate, (str, Path)) and Path(candidate).is_file():
            return Path(candidate)
    return None


def _notes(caught: list[warnings.WarningMessage]) -> list[str]:
    seen: list[str] = []
    for w in caught:
        text = " ".join(str(w.message).split())
        if text and text not in seen and not issubclass(w.category, DeprecationWarning):
            seen.append(text)
    return seen
