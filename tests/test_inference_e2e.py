"""End to end: text + a synthetic reference clip -> mp4 with speech and face, through scripts/infer.py's pipeline;
bad inputs give one clear error and leave no output file."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import SHARED
from hydra import compose, initialize_config_dir

from omnitalker.inference.errors import InferenceInputError
from omnitalker.inference.media import decode_audio, decode_video
from omnitalker.inference.mux import write_video
from omnitalker.inference.pipeline import OmniTalkerPipeline, PipelineConfig
from omnitalker.inference.watermark import detect_watermark

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pipeline(smoke_models):
    dit, renderer = smoke_models
    return OmniTalkerPipeline(PipelineConfig(str(dit), str(renderer), vocoder="griffin_lim", device="cpu",
                                             sampler={"steps": 2}, crop="none"))


def probe(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = [s for s in c.streams if s.type == "video"]
        a = [s for s in c.streams if s.type == "audio"]
        info = {"video": len(v), "audio": len(a), "vcodec": v[0].codec_context.name, "acodec": a[0].codec_context.name,
                "size": (v[0].width, v[0].height), "fps": v[0].average_rate, "rate": a[0].rate}
        info["frames"] = sum(1 for _ in c.decode(video=0))
    with av.open(str(path)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
    info["audio_s"] = samples / info["rate"]
    return info


def test_text_and_reference_to_mp4(pipeline, reference, tmp_path):
    clip, truth, ref_text = reference
    out = tmp_path / "out.mp4"
    result = pipeline.generate("Hello there, this is a short test.", clip, out, ref_text=ref_text, ref_codes=truth,
                               wav_out=tmp_path / "out.wav", codes_out=tmp_path / "codes.npz", progress=False)
    info = probe(out)
    assert info["video"] == 1 and info["audio"] == 1
    assert info["vcodec"] == "h264" and info["acodec"] == "aac"
    assert info["size"] == (512, 512) and info["fps"] == Fraction(25) and info["rate"] == 24000
    video_s = info["frames"] / 25
    assert abs(video_s - result.estimated_s) / result.estimated_s < 0.05
    assert abs(info["audio_s"] - video_s) <= 1 / 25 + 1024 / 24000  # one frame (+ the AAC frame padding)
    assert (tmp_path / "out.wav").exists() and np.load(tmp_path / "codes.npz")["codes"].shape == (info["frames"], 61)
    assert set(result.timings) == {"reference", "dit", "vocoder", "renderer", "mux"}

    reencoded = reencode(out, tmp_path / "reencoded.mp4")  # the watermarks survive an h264/aac re-encode
    report = detect_watermark(reencoded)
    assert report.video.found and report.audio.found, report


def reencode(src_path: Path, dst_path: Path) -> Path:
    """Decode and re-encode with different settings (h264 crf 23, AAC 128 kb/s), as a sharing platform would."""
    frames, fps = decode_video(src_path)
    audio, _ = decode_audio(src_path)
    write_video(dst_path, frames, audio, fps=fps, crf=23, audio_bitrate=128_000)
    return dst_path


def test_long_text_is_chunked_with_smooth_seams(pipeline, reference, tmp_path):
    clip, truth, ref_text = reference
    pipeline.cfg.max_total_seconds = 9.0
    try:
        long_text = " ".join(["This sentence is one of several that make the text too long for a single pass."] * 3)
        result = pipeline.generate(long_text, clip, tmp_path / "long.mp4", ref_text=ref_text, ref_codes=truth,
                                   codes_out=tmp_path / "long.npz", progress=False)
    finally:
        pipeline.cfg.max_total_seconds = 30.0
    assert len(result.chunks) >= 2
    codes = np.load(tmp_path / "long.npz")["codes"]
    assert abs(codes.shape[0] / 25 - result.estimated_s) / result.estimated_s < 0.05


def two_faces_video(path: Path) -> Path:
    from PIL import Image

    image = np.asarray(Image.open(SHARED / "media/hard/facerec_two_people.jpg").convert("RGB").resize((640, 376)))
    write_clip(path, [image] * 50, with_audio=True)
    return path


def write_clip(path: Path, frames: list[np.ndarray], with_audio: bool) -> Path:
    """An mp4 of ``frames`` at 25 fps with a modulated tone, or with no audio stream at all."""
    if with_audio:
        t = np.arange(int(len(frames) / 25 * 24000)) / 24000
        tone = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
        write_video(path, np.stack(frames), tone, fps=25)
        return path
    with av.open(str(path), "w") as c:  # write_video always writes an audio stream; this case must have none
        vs = c.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for frame in frames:
            c.mux(vs.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        c.mux(vs.encode())
    return path


def test_bad_inputs_give_clear_errors_and_no_output(pipeline, reference, tmp_path):
    clip, truth, ref_text = reference
    frames = [f.to_ndarray(format="rgb24") for f in av.open(str(clip)).decode(video=0)]
    cases = {
        "missing file": (tmp_path / "missing.mp4", "not found|does not exist|MediaNotFound"),
        "corrupt file": (tmp_path / "corrupt.mp4", "decod|corrupt|invalid"),
        "no audio track": (write_clip(tmp_path / "noaudio.mp4", frames[:50], with_audio=False), "audio"),
        "silent audio": (SHARED / "media/hard/liveportrait_d19.mp4", "silen"),
        "too short": (write_clip(tmp_path / "short.mp4", frames[:12], with_audio=True), "short|1 s"),
        "no face": (SHARED / "media/hard/mmaudio_F8Zt3mYlOqU_000094.mp4", "face"),
        "two faces": (two_faces_video(tmp_path / "two.mp4"), "face"),
    }
    (tmp_path / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 10)
    for name, (ref, pattern) in cases.items():
        out = tmp_path / f"{name}.mp4"
        codes = None if name in ("no face", "two faces") else truth
        with pytest.raises(Exception, match=f"(?i){pattern}") as info:
            pipeline.generate("Hello there.", ref, out, ref_text="hello", ref_codes=codes, progress=False)
        assert not isinstance(info.value, (AttributeError, TypeError, KeyError, IndexError)), f"{name}: {info.value!r}"
        assert not out.exists(), f"{name}: an output file was left behind"
    (tmp_path / "codes.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InferenceInputError, match="cannot read the reference codes file"):
        pipeline.generate("Hello there.", clip, tmp_path / "c.mp4", ref_text="hello", ref_codes=tmp_path / "codes.npz",
                          progress=False)
    assert not (tmp_path / "c.mp4").exists()
    for text, pattern in (("", "empty"), ("⊗⊕∰", "nothing to pronounce|unknown to the vocabulary")):
        with pytest.raises(InferenceInputError, match=pattern):
            pipeline.generate(text, clip, tmp_path / "t.mp4", ref_text=ref_text, ref_codes=truth, progress=False)
        assert not (tmp_path / "t.mp4").exists()


def test_cli_takes_free_text_as_typed(smoke_models, reference, tmp_path):
    """(The CLI's one-line errors are checked by the bad-input battery in test_bad_inputs.py.)"""
    dit, renderer = smoke_models
    clip, truth, ref_text = reference
    base = [sys.executable, str(ROOT / "scripts/infer.py"), f"renderer={renderer}", "vocoder=griffin_lim",
            "crop=none", "device=cpu", "steps=2", f"ref_codes={truth}", f"ref_text={ref_text}"]
    ok = tmp_path / "ok.mp4"  # free text with Hydra-special characters is taken as typed
    proc = subprocess.run(base + [f"dit={dit}", "text=Hi, there! It's me: a test.", f"ref={clip}", f"out={ok}"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0 and ok.exists(), proc.stderr[-2000:]


def test_batch_mode_reports_failures_without_stopping(smoke_models, reference, tmp_path, capsys):

    from scripts_infer import run

    dit, renderer = smoke_models
    clip, truth, ref_text = reference
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(json.dumps(j) for j in [
        {"text": "Good morning.", "ref": str(clip), "out": str(tmp_path / "a.mp4"), "ref_text": ref_text,
         "ref_codes": str(truth)},
        {"text": "This one fails.", "ref": str(tmp_path / "missing.mp4"), "out": str(tmp_path / "b.mp4"),
         "ref_text": "x", "ref_codes": str(truth)},
        {"text": "Good evening.", "ref": str(clip), "out": str(tmp_path / "c.mp4"), "ref_text": ref_text,
         "ref_codes": str(truth)},
    ]))
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("infer", overrides=[f"batch={jobs}", f"dit={dit}", f"renderer={renderer}", "vocoder=griffin_lim",
                                          "crop=none", "device=cpu", "steps=2"])
    assert run(cfg) == 1
    assert (tmp_path / "a.mp4").exists() and (tmp_path / "c.mp4").exists() and not (tmp_path / "b.mp4").exists()
    assert "1 of 3 jobs failed" in capsys.readouterr().err
