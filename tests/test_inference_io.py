"""Inference I/O building blocks: reference loading (validation, cut in a pause, A/V alignment), the duration rule,
long-text chunking, seam cross-fades, and the atomic mp4 muxer (decoded back with PyAV)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SHARED

from omnitalker.constants import MEL_FPS
from omnitalker.inference.chunking import split_text
from omnitalker.inference.duration import plan_duration, syllable_weight_for
from omnitalker.inference.errors import (
    CorruptMediaError,
    DurationError,
    InferenceInputError,
    MediaArrayError,
    MediaNotFoundError,
    NoAudioTrackError,
    NoVideoTrackError,
    ReferenceTooShortError,
    SilentAudioError,
    TextInputError,
    UnsupportedContainerError,
)
from omnitalker.inference.media import decode_audio, probe_media
from omnitalker.inference.mux import write_video
from omnitalker.inference.reference import ReferenceCutWarning, choose_cut_frame, load_reference
from omnitalker.text import LETTERS_PER_SYLLABLE, normalize_text

MEDIA = SHARED / "media"
SR = 24_000


def _write_av(
    path: Path, frames: np.ndarray, fps: int, audio: np.ndarray | None, audio_rate: int = 16_000, channels: int = 2
) -> None:
    """Test fixture writer (independent of omnitalker.inference.mux): h264 + optional stereo AAC at `audio_rate`."""
    container = av.open(str(path), mode="w")
    video = container.add_stream("libx264", rate=fps)
    video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
    video.options = {"preset": "ultrafast", "crf": "20"}
    stream = None
    if audio is not None:
        stream = container.add_stream("aac", rate=audio_rate, layout="stereo" if channels == 2 else "mono")
    for i, frame in enumerate(frames):
        f = av.VideoFrame.from_ndarray(frame, format="rgb24")
        f.pts, f.time_base = i, Fraction(1, fps)
        container.mux(video.encode(f))
    container.mux(video.encode(None))
    if stream is not None:
        data = np.repeat(audio[None].astype(np.float32), channels, axis=0)
        for start in range(0, data.shape[1], 1024):
            a = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(data[:, start : start + 1024]), format="fltp", layout=stream.layout.name
            )
            a.sample_rate, a.pts, a.time_base = audio_rate, start, Fraction(1, audio_rate)
            container.mux(stream.encode(a))
        container.mux(stream.encode(None))
    container.close()


def _speechlike(seconds: float, rate: int, gaps: list[tuple[float, float]] = (), seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    audio = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(
        t.size
    )
    for a, b in gaps:
        audio[(t >= a) & (t < b)] *= 0.003
    return audio.astype(np.float32)


# ---------------------------------------------------------------- reference media


def test_reference_alignment_resampling_and_cut_in_pause(tmp_path):
    fps, seconds = 10, 13.0
    frames = np.full((int(fps * seconds), 64, 64, 3), 40, np.uint8)
    frames[20] = 230  # a bright frame at t = 2.0 s ...
    audio = _speechlike(seconds, 16_000, gaps=[(1.5, 2.0), (8.2, 8.6)])
    audio[(np.arange(audio.size) >= 32_000) & (np.arange(audio.size) < 32_000 + 800)] = 0.9  # ... and a burst at 2.0 s
    path = tmp_path / "long.mp4"
    _write_av(path, frames, fps, audio)
    with pytest.warns(ReferenceCutWarning, match="A reference transcript must cover only this part"):
        ref = load_reference(path, max_seconds=10.0, pause_search_seconds=3.0)
    assert ref.was_cut and ref.fps == fps and ref.sample_rate == SR and ref.audio.dtype == np.float32
    # Cut inside the 8.2-8.6 s pause (frame boundary), audio and frames cut at the same instant.
    assert 82 <= ref.num_frames <= 86, ref.num_frames
    assert ref.audio.shape[0] == ref.num_frames * SR // fps
    assert ref.frames.shape[1:] == (64, 64, 3) and ref.frames.dtype == np.uint8
    assert np.argmax(ref.frames.mean(axis=(1, 2, 3))) == 20
    onset = np.flatnonzero(np.abs(ref.audio) > 0.7)[0] / SR  # resampled 16 kHz stereo -> 24 kHz mono, aligned
    assert abs(onset - 2.0) < 1.0 / fps
    assert ref.source_duration == pytest.approx(13.0, abs=0.1)


def test_choose_cut_frame_picks_the_quietest_boundary():
    fps, sr = 25, SR
    audio = _speechlike(10.0, sr, gaps=[(8.0, 8.3)])
    k = choose_cut_frame(audio, sr, fps, max_frames=250, search_seconds=3.0)
    assert 8.0 <= k / fps <= 8.3
    assert choose_cut_frame(_speechlike(10.0, sr), sr, fps, max_frames=250, search_seconds=0.0) == 250


def test_reference_errors(tmp_path):
    with pytest.raises(MediaNotFoundError, match="does not exist"):
        load_reference(tmp_path / "missing.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(CorruptMediaError, match="garbage.mp4"):
        load_reference(garbage)
    frames = np.full((40, 64, 64, 3), 90, np.uint8)
    good = tmp_path / "good.mp4"
    _write_av(good, frames, 25, _speechlike(1.6, 16_000))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(InferenceInputError):
        load_reference(truncated)
    mute = tmp_path / "mute.mp4"
    _write_av(mute, frames, 25, None)
    with pytest.raises(NoAudioTrackError, match="no audio track"):
        load_reference(mute)
    silent = tmp_path / "silent.mp4"
    _write_av(silent, frames, 25, np.zeros(int(1.6 * 16_000), np.float32))
    with pytest.raises(SilentAudioError, match="dBFS"):
        load_reference(silent)
    short = tmp_path / "short.mp4"
    _write_av(short, frames[:20], 25, _speechlike(0.8, 16_000))
    with pytest.raises(ReferenceTooShortError, match="at least 1 s"):
        load_reference(short)
    wav = tmp_path / "voice.wav"
    sf.write(wav, _speechlike(2.0, 16_000), 16_000)
    with pytest.raises(NoVideoTrackError):
        load_reference(wav)
    png = tmp_path / "face.png"
    from PIL import Image

    Image.fromarray(frames[0]).save(png)
    with pytest.raises(UnsupportedContainerError, match="still image"):
        load_reference(png)
    ok = load_reference(good)
    assert ok.num_frames == 40 and not ok.was_cut and ok.audio.shape[0] == 40 * SR // 25


@pytest.mark.skipif(not MEDIA.is_dir(), reason="shared media not available")
def test_real_reference_clips():
    ref = load_reference(MEDIA / "video" / "sadtalker_WDA_KatieHill_000.mp4")  # 8 s, 512x512, aac 16 kHz stereo
    assert ref.frames.shape == (200, 512, 512, 3) and ref.audio.shape == (192_000,)
    assert 0.01 < float(np.sqrt(np.mean(ref.audio**2))) < 0.5
    with pytest.raises(SilentAudioError):
        load_reference(MEDIA / "hard" / "liveportrait_d19.mp4")
    with pytest.raises(NoAudioTrackError):
        load_reference(MEDIA / "video" / "dreamtalk_W009_front_neutral_level1_001.mp4")
    with pytest.raises(ReferenceTooShortError):
        load_reference(MEDIA / "hard" / "vexpress_RD_Radio10_0_clip_0.mp4", min_seconds=3.0)
    info = probe_media(MEDIA / "video" / "liveportrait_d13.mp4")
    assert info.has_video and not info.has_audio and info.fps == pytest.approx(30, abs=0.1)


# ---------------------------------------------------------------- duration rule


def test_duration_rule_values():
    plan = plan_duration("hello world", "hello world hello world", 300)  # 10 letters -> 20 letters
    assert plan.new_frames == 600 and plan.total_frames == 900
    assert plan_duration("hello world", "hello world hello world", 300, speed=2.0).new_frames == 300
    assert plan_duration("你好世界", "今天天气很好", 400).new_frames == 600  # 4 -> 6 syllables
    cross = plan_duration("你好世界", "hello world", 400)  # 4 syllables = 12 letter-equivalents -> 10 letters
    assert cross.syllable_weight == LETTERS_PER_SYLLABLE and cross.new_frames == round(400 * 10 / 12)
    assert plan_duration("hello", "anything at all", 300, duration=2.0).new_frames == round(2.0 * MEL_FPS)
    assert plan_duration("Some call me nature.", "I have 3 cats.", 300).new_units == len("Ihavethreecats")
    assert syllable_weight_for("你好", "世界") == 1.0 and syllable_weight_for("abc", "de") == 1.0
    assert syllable_weight_for("我爱Python", "我爱Python") == LETTERS_PER_SYLLABLE


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"speed": 0.0}, DurationError, "speed"),
        ({"speed": -1.0}, DurationError, "speed"),
        ({"duration": 0.0}, DurationError, "duration"),
        ({"reference_text": "  "}, TextInputError, "reference transcript is empty"),
        ({"new_text": ""}, TextInputError, "text to speak is empty"),
        ({"reference_text": "... !!"}, TextInputError, "nothing to pronounce"),
        ({"reference_frames": 0}, DurationError, "reference_frames"),
    ],
)
def test_duration_errors(kwargs, error, match):
    args = {"reference_text": "hello", "new_text": "world", "reference_frames": 300}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        plan_duration(args.pop("reference_text"), args.pop("new_text"), args.pop("reference_frames"), **args)


# ---------------------------------------------------------------- chunking

LONG_EN = (
    "Hello there, my friend. This is a rather long text; it goes on and on, for example like this! "
    "And then? It ends with 3.5 percent of 1,000 apples, which is plenty."
) * 3
LONG_ZH = (
    "对，这就是我，万人敬仰的太乙真人。今天天气很好，我们去公园散步吧！银行{xing2}行长{hang2 zhang3}在这里说话。" * 3
)
LONG_MIXED = "我爱Python, and I love 中文 too. 这是一个比较长的测试句子，对吧？Mixed text works well, 真的很好！" * 3


@pytest.mark.parametrize(
    "text, reference",
    [
        (LONG_EN, "Some call me nature, others call me mother nature."),
        (LONG_ZH, "希望你以后能够做的比我还好呦。"),
        (LONG_MIXED, "Some call me nature."),
    ],
)
def test_split_text_tiles_the_text_and_fits_the_budget(text, reference):
    ref_frames, budget = 300, 700
    chunks = split_text(text, reference_text=reference, reference_frames=ref_frames, max_total_frames=budget)
    assert "".join(chunks) == normalize_text(text)
    assert len(chunks) > 1
    weight = syllable_weight_for(reference, normalize_text(text))
    for chunk in chunks:
        plan = plan_duration(reference, chunk, ref_frames, syllable_weight=weight)
        assert plan.total_frames <= budget, (chunk, plan)
        assert chunk.count("{") == chunk.count("}")  # inline pinyin groups are never cut
    assert any(c.rstrip().endswith((".", "!", "?")) for c in chunks[:-1])  # sentence ends preferred


def test_split_text_keeps_short_text_whole_and_reports_impossible_budgets():
    assert split_text("Hi there.", reference_text="hello", reference_frames=100, max_total_frames=1000) == ["Hi there."]
    with pytest.raises(DurationError, match="fills the budget"):
        split_text("Hi.", reference_text="hello", reference_frames=500, max_total_frames=500)
    with pytest.raises(DurationError, match="cannot be split"):
        split_text("Hi.", reference_text="hello", reference_frames=100, max_total_frames=110)
    with pytest.raises(TextInputError):
        split_text("   ", reference_text="hello", reference_frames=100, max_total_frames=1000)
    # a very long word is split between letters only as the last resort
    chunks = split_text("a" * 40, reference_text="hello", reference_frames=100, max_total_frames=500)
    assert "".join(chunks) == "a" * 40 and max(len(c) for c in chunks) <= 20


# ---------------------------------------------------------------- muxing


def _decode_streams(path: Path):
    container = av.open(str(path))
    v, a = container.streams.video[0], container.streams.audio[0]
    meta = {
        "vcodec": v.codec_context.name,
        "acodec": a.codec_context.name,
        "size": (v.codec_context.width, v.codec_context.height),
        "fps": float(v.average_rate),
        "rate": a.codec_context.sample_rate,
        "pix_fmt": v.codec_context.pix_fmt,
        "channels": a.codec_context.channels,
        "streams": len(container.streams),
    }
    frames = [f.to_ndarray(format="rgb24") for f in container.decode(v)]
    container.close()
    return meta, np.stack(frames), decode_audio(path)[0]


def test_write_video_roundtrip(tmp_path):
    fps, num = 25, 40
    rng = np.random.default_rng(0)
    frames = np.zeros((num, 512, 512, 3), np.uint8)
    frames += (np.arange(num) * 6)[:, None, None, None].astype(np.uint8)  # brightness ramp: frame order check
    audio = (0.3 * rng.standard_normal(int(1.7 * SR))).astype(np.float32)  # 1.7 s for a 1.6 s video: trimmed
    out = tmp_path / "out" / "clip.mp4"
    result = write_video(
        out,
        iter(frames),
        torch.from_numpy(audio),
        fps=fps,
        crf=20,
        preset="ultrafast",
        wav_path=tmp_path / "out" / "clip.wav",
        codes=np.ones((num, 61)),
        codes_path=tmp_path / "c.npz",
    )
    assert result.num_frames == num and result.audio_samples == int(num / fps * SR)
    meta, decoded, sound = _decode_streams(out)
    assert meta == {
        "vcodec": "h264",
        "acodec": "aac",
        "size": (512, 512),
        "fps": 25.0,
        "rate": SR,
        "pix_fmt": "yuv420p",
        "channels": 1,
        "streams": 2,
    }
    assert decoded.shape[0] == num
    assert np.all(np.diff(decoded.mean(axis=(1, 2, 3))) > 3)
    assert abs(sound.shape[0] / SR - num / fps) <= 1 / fps
    # content: normalised cross-correlation at the best lag within +-2048 samples (AAC priming / padding)
    ref = audio[: result.audio_samples]
    best = max(
        float(np.dot(ref[2048:-2048], sound[2048 + lag : ref.size - 2048 + lag]))
        / (np.linalg.norm(ref[2048:-2048]) * np.linalg.norm(sound[2048 + lag : ref.size - 2048 + lag]))
        for lag in range(-2048, 2049, 1)
        if 0 <= 2048 + lag and ref.size - 2048 + lag <= sound.size
    )
    assert best > 0.9
    wav, wav_rate = sf.read(tmp_path / "out" / "clip.wav")
    assert wav_rate == SR and wav.shape == (result.audio_samples,)
    np.testing.assert_allclose(wav, np.clip(ref, -1, 1), atol=1e-4)  # the muxer clips to [-1, 1]
    with np.load(tmp_path / "c.npz") as npz:
        assert npz["codes"].shape == (num, 61) and float(npz["fps"]) == fps
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mp4", "clip.wav"]


def test_write_video_pads_short_audio_and_is_atomic(tmp_path):
    frames = np.full((10, 64, 64, 3), 128, np.uint8)
    result = write_video(tmp_path / "short.mp4", frames, np.zeros(100, np.float32), preset="ultrafast")
    assert result.audio_samples == int(10 / 25 * SR)
    _, _, sound = _decode_streams(tmp_path / "short.mp4")
    assert abs(sound.shape[0] / SR - 0.4) <= 1 / 25

    target = tmp_path / "keep.mp4"
    target.write_bytes(b"previous result")

    def failing():
        yield from frames[:3]
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError, match="renderer crashed"):
        write_video(target, failing(), None, wav_path=tmp_path / "keep.wav")
    assert target.read_bytes() == b"previous result"
    assert sorted(os.listdir(tmp_path)) == ["keep.mp4", "short.mp4"]
    with pytest.raises(MediaArrayError, match="even"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 63, 64, 3), np.uint8), None)
    with pytest.raises(MediaArrayError, match="uint8"):
        write_video(tmp_path / "f.mp4", np.zeros((2, 64, 64, 3), np.float32), None)
    with pytest.raises(MediaArrayError, match="no frames"):
        write_video(tmp_path / "empty.mp4", iter([]), None)
    with pytest.raises(MediaArrayError, match="mono"):
        write_video(tmp_path / "st.mp4", frames, np.zeros((2, 100), np.float32))
    assert sorted(os.listdir(tmp_path)) == ["keep.mp4", "short.mp4"]


# --- prompt text: inference encodes (reference transcript, new text) exactly as training encodes a pair --------------
@pytest.mark.parametrize(
    "ref_text, new_text",
    [
        ("你好。", "我们走吧"),  # a Chinese syllable after the join: one space, not two
        ("hello there.", "我们走吧"),
        ("我们走吧", "hello there."),
        ("It's 3 o'clock.", "See you at 5, ok?"),
        ("行{hang2}长来了", "行{xing2}不行"),
    ],
)
def test_inference_text_ids_equal_training_pair_ids(ref_text, new_text):
    from types import SimpleNamespace

    from conftest import make_tiny_model

    from omnitalker.checkpoint import LoadedDiT
    from omnitalker.data.dataset import TalkingHeadDataset
    from omnitalker.data.normalization import CodeNormalizer
    from omnitalker.flow.sampler import SamplerConfig
    from omnitalker.inference.generator import DiTGenerator
    from omnitalker.text import Vocab

    vocab = Vocab.build([ref_text, new_text, "hello there 我们"])
    normalizer = CodeNormalizer(torch.zeros(61), torch.ones(61))
    index = SimpleNamespace(num_mel_frames=[20, 30], clip_id=["ref", "target"], text=[ref_text, new_text],
                            source_codes=lambda: np.zeros(2, dtype=np.int64), columns={"extra": ["", ""]},
                            fps=[25.0, 25.0])
    reader = SimpleNamespace(index=index, read_arrays=lambda c, keys: {
        "mel": np.zeros((index.num_mel_frames[c], 100), np.float32), "codes": np.zeros((8, 61), np.float32)})
    item = TalkingHeadDataset(reader, vocab, normalizer, pairing="same_video")[1]
    assert item["clip_ids"] == ["ref", "target"]  # a (reference, target) pair, as inference prompts

    model = make_tiny_model(text_vocab_size=len(vocab))
    loaded = LoadedDiT(model, list(vocab.symbols), normalizer.state_dict(), {}, "ema")
    generator = DiTGenerator(loaded, SamplerConfig(steps=1))
    assert generator.encode(ref_text, new_text).tolist() == item["text"].tolist()
