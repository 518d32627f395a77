"""The web demo's back end without a browser or models: a fake pipeline stands in for OmniTalkerPipeline.

Optional features (controls, image + audio identity, streaming) are detected from what the pipeline has; bad input
becomes one message in words (the project's error classes), unexpected failures never show their text or a
traceback, and no job folder is left behind by a failure.
"""

from __future__ import annotations

import sys
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from omnitalker.demo.config import DemoSettings, load_config
from omnitalker.demo.features import Features, control_fields, detect
from omnitalker.demo.service import DemoError, DemoRequest, DemoService
from omnitalker.face.errors import NoFaceError
from omnitalker.inference.errors import NoAudioTrackError


class FakePipeline:
    """Records calls; ``generate`` writes the three output files (or raises ``self.fail``)."""

    def __init__(self) -> None:
        self.cfg = SimpleNamespace(crop="auto", seed=0)
        self.calls: list[dict] = []
        self.fail: BaseException | None = None

    def generate(self, text, reference, out, wav_out=None, codes_out=None, progress=True, **kwargs):
        self.calls.append({"text": text, "reference": reference, "crop": self.cfg.crop, "seed": self.cfg.seed,
                           **kwargs})
        if self.fail is not None:
            raise self.fail
        warnings.warn("the reference was cut to 10 s", UserWarning, stacklevel=2)
        for path in (out, wav_out, codes_out):
            Path(path).write_bytes(b"x")
        return SimpleNamespace(video=Path(out), duration_s=1.5, timings={"dit": 0.1})


class RichPipeline(FakePipeline):
    def generate(self, text, reference, out, wav_out=None, codes_out=None, progress=True, controls=None, **kw):
        return super().generate(text, reference, out, wav_out, codes_out, progress, controls=controls, **kw)

    def analyse_sources(self, identity_image, voice_audio, voice_text=None, motion_video=None):
        return SimpleNamespace(kind="analysis", image=identity_image, audio=voice_audio, text=voice_text,
                               motion=motion_video)

    def stream(self, text, reference):
        yield from []


@pytest.fixture
def controls_module(monkeypatch):
    """A stand-in for the controls branch's omnitalker.controls (same field names), installed for one test."""

    @dataclass(frozen=True)
    class Controls:
        lip: float = 1.0
        head: float = 1.0
        smile: float = 0.0
        brow: float = 0.0
        eye_open: float = 0.0
        emotion: str | None = None
        emotion_intensity: float = 0.5
        blink_rate: float | None = None
        gaze_lock: bool = False
        rate: float = 1.0

        def __post_init__(self):
            if self.emotion not in (None, "happy", "sad"):
                raise ValueError(f"unknown emotion {self.emotion!r}")

    module = types.ModuleType("omnitalker.controls")
    module.Controls = Controls
    module.EMOTIONS = ("happy", "sad")
    Controls.__module__ = module.__name__
    monkeypatch.setitem(sys.modules, "omnitalker.controls", module)
    return Controls


def service_for(pipeline, tmp_path: Path, keep_jobs: int = 20) -> DemoService:
    settings = DemoSettings(outputs=tmp_path / "jobs", keep_jobs=keep_jobs, max_text_chars=50)
    settings.outputs.mkdir()
    return DemoService(pipeline, settings, detect(pipeline))


def test_features_are_detected_from_the_pipeline(controls_module):
    assert detect(FakePipeline()) == Features()  # generate() without controls=: no control widgets at all
    rich = detect(RichPipeline())
    assert rich.controls is controls_module and rich.sources and rich.stream
    kinds = {f.name: f.kind for f in rich.control_fields}
    assert kinds == {"lip": "slider", "head": "slider", "smile": "slider", "brow": "slider", "eye_open": "slider",
                     "emotion": "choice", "emotion_intensity": "slider", "blink_rate": "number",
                     "gaze_lock": "checkbox", "rate": "slider"}
    assert {f.name: f.choices for f in control_fields(controls_module)}["emotion"] == ("happy", "sad")


def test_features_without_the_controls_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "omnitalker.controls", None)  # import fails as if the branch were absent
    features = detect(RichPipeline())
    assert features.controls is None and features.control_fields == () and features.sources


def test_generation_writes_a_job_folder_with_settings_applied(tmp_path):
    pipeline = FakePipeline()
    service = service_for(pipeline, tmp_path)
    result = service.generate(DemoRequest("Hello.", reference_video="ref.mp4", ref_text="  ", ref_codes="c.npz",
                                          face_crop=True, seed=7, speed=1.2))
    call = pipeline.calls[0]
    assert call["crop"] == "none" and call["seed"] == 7 and call["speed"] == 1.2
    assert call["ref_text"] is None and call["ref_codes"] == "c.npz" and call["reference"] == "ref.mp4"
    assert "controls" not in call  # a pipeline without controls is not handed any
    assert pipeline.cfg.crop == "auto" and pipeline.cfg.seed == 0  # restored after the request
    assert [Path(p).name for p in result.downloads] == ["omnitalker.mp4", "omnitalker.wav", "codes.npz"]
    assert all(Path(p).is_file() for p in result.downloads)
    assert result.notes == ["the reference was cut to 10 s"] and "cut to 10 s" in result.summary()


@pytest.mark.parametrize(("request_kwargs", "expected"), [
    ({"text": "   ", "reference_video": "ref.mp4"}, "text to speak is empty"),
    ({"text": "x" * 51, "reference_video": "ref.mp4"}, "at most 50"),
    ({"text": "Hello."}, "upload a reference video"),
    ({"text": "Hello.", "identity_image": "face.png", "voice_audio": "voice.wav"}, r"no image \+ audio identity"),
])
def test_bad_requests_are_refused_in_words(tmp_path, request_kwargs, expected):
    pipeline = FakePipeline()
    service = service_for(pipeline, tmp_path)
    with pytest.raises(DemoError, match=expected):
        service.generate(DemoRequest(**request_kwargs))
    assert pipeline.calls == [] and list(service.settings.outputs.iterdir()) == []


def test_pipeline_errors_become_messages_and_leave_no_job(tmp_path):
    pipeline = FakePipeline()
    service = service_for(pipeline, tmp_path)
    for error, expected in ((NoFaceError("no face in ref.mp4"), "No face found: no face in ref.mp4"),
                            (NoAudioTrackError("ref.mp4 has no audio stream"), "Input problem: ref.mp4 has no audio")):
        pipeline.fail = error
        with pytest.raises(DemoError) as info:
            service.generate(DemoRequest("Hello.", reference_video="ref.mp4"))
        assert str(info.value).startswith(expected)
    pipeline.fail = RuntimeError("CUDA secret internals at 0xdeadbeef")
    with pytest.raises(DemoError) as info:
        service.generate(DemoRequest("Hello.", reference_video="ref.mp4"))
    message = str(info.value)
    assert message.startswith("Internal error (RuntimeError)") and "0xdeadbeef" not in message
    assert list(service.settings.outputs.iterdir()) == []


def test_image_audio_identity_and_controls_reach_the_pipeline(tmp_path, controls_module):
    pipeline = RichPipeline()
    service = service_for(pipeline, tmp_path)
    service.generate(DemoRequest("Hello.", identity_image="face.png", voice_audio="voice.wav", voice_text="hi",
                                 controls={"lip": 1.5, "emotion": "happy", "gaze_lock": True, "unknown": 3}))
    call = pipeline.calls[0]
    assert call["reference"].kind == "analysis" and call["reference"].text == "hi"
    assert call["controls"] == controls_module(lip=1.5, emotion="happy", gaze_lock=True)
    assert "ref_codes" not in call  # an analysed reference is not a file
    with pytest.raises(DemoError, match="either a reference video or a portrait"):
        service.generate(DemoRequest("Hello.", reference_video="ref.mp4", identity_image="face.png"))
    with pytest.raises(DemoError, match="needs both a portrait image and a voice clip"):
        service.generate(DemoRequest("Hello.", identity_image="face.png"))
    with pytest.raises(DemoError, match="invalid control value: unknown emotion 'angry'"):
        service.generate(DemoRequest("Hello.", reference_video="ref.mp4", controls={"emotion": "angry"}))


def test_old_job_folders_are_pruned(tmp_path):
    service = service_for(FakePipeline(), tmp_path, keep_jobs=2)
    results = [service.generate(DemoRequest("Hello.", reference_video="ref.mp4")) for _ in range(3)]
    kept = sorted(p for p in service.settings.outputs.iterdir())
    assert len(kept) == 2 and results[-1].video.parent in kept and results[0].video.parent not in kept


def test_optional_widgets_appear_only_with_their_feature(tmp_path, controls_module):
    from omnitalker.demo.app import build_app

    def elem_ids(pipeline) -> set[str]:
        config = build_app(service_for(pipeline, tmp_path / type(pipeline).__name__)).config
        return {c["props"].get("elem_id") for c in config["components"]} - {None}

    (tmp_path / "FakePipeline").mkdir()
    (tmp_path / "RichPipeline").mkdir()
    basic, rich = elem_ids(FakePipeline()), elem_ids(RichPipeline())
    assert {"ref_video", "ref_codes", "text", "generate", "status", "result_video", "downloads"} <= basic
    optional = {"identity_image", "voice_audio", "motion_video", "preview", "control_lip", "control_gaze_lock",
                "control_emotion"}
    assert not basic & optional and optional <= rich


def test_cli_settings_and_startup_errors(tmp_path, capsys):
    from omnitalker.demo.__main__ import main

    cfg = load_config(["port=0", "steps=2", "dit=x.ckpt"])
    assert cfg.steps == 2 and cfg.dit == "x.ckpt" and DemoSettings.from_config(cfg).port == 0
    with pytest.raises(ValueError, match="port"):
        DemoSettings.from_config(load_config(["port=70000"]))
    assert main([f"dit={tmp_path / 'missing.ckpt'}", "port=0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: CheckpointError") and "missing.ckpt" in err[0]
