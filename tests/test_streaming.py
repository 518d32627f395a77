"""Streaming inference (omnitalker.streaming): pieces come out while the clip is still being made, continue each
other exactly like one pass, and the fragmented mp4 is readable at every flush (also on stdout)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import tiny_config

from omnitalker.data.resample import codes_to_video_rate
from omnitalker.inference.audio_watermark import AudioWatermarker, detect_audio_watermark, embed_audio_watermark
from omnitalker.inference.benchmark import random_pipeline, synthetic_reference
from omnitalker.inference.mux import MuxPiece, write_pieces, write_video
from omnitalker.inference.pipeline import PipelineConfig
from omnitalker.inference.safety import SafetyConfig
from omnitalker.render.config import small_config
from omnitalker.streaming.codes import VideoRateCursor
from omnitalker.streaming.plan import plan_chunks
from omnitalker.streaming.vocoder import StreamingVocoder
from omnitalker.vocoder import VocosArchitecture, VocosVocoder, build_vocos

ROOT = Path(__file__).resolve().parents[1]
TINY_VOCOS = VocosArchitecture(dim=32, intermediate_dim=64, num_layers=2)
TEXT = "Hello there, this is a test. It has two sentences, and a clause or two, so that it needs several chunks."


def tiny_pipeline(**overrides):
    values = dict(dit_checkpoint="", renderer=None, device="cpu", sampler={"steps": 2}, video_size=128,
                  max_total_seconds=5.0, first_chunk_seconds=1.0, render_batch=8)
    values.update(overrides)
    return random_pipeline(PipelineConfig(**values), asdict(tiny_config()), small_config(), vocos_arch=TINY_VOCOS)


@pytest.fixture(scope="module")
def pipe():
    torch.set_num_threads(1)
    return tiny_pipeline()


@pytest.fixture(scope="module")
def ref():
    return synthetic_reference(2.0, 64, text="hello there this is me talking for a while so you hear my voice")


def test_streamed_vocoder_matches_one_pass_decode():
    torch.manual_seed(0)
    vocoder = VocosVocoder(build_vocos(VocosArchitecture(dim=32, intermediate_dim=64, num_layers=3)))
    mel = torch.randn(300, 100) - 4  # (300, 100)
    one_pass = vocoder.decode(mel[None])[0].numpy()
    stream = StreamingVocoder(vocoder)
    cuts = [0, 40, 45, 170, 300]  # spans shorter and longer than the context
    pieces = [stream.push(mel[a:b], final=b == 300) for a, b in zip(cuts, cuts[1:])]
    streamed = np.concatenate(pieces)
    assert streamed.shape == one_pass.shape
    assert np.abs(streamed - one_pass).max() < 1e-5 * np.abs(one_pass).max()  # no seams anywhere, edges included
    assert [len(x) for x in pieces[:2]] == [(40 - stream.context) * 256, 5 * 256]  # the last frames wait for context
    # without right context a windowed decode would differ at the span ends (so the test can fail)
    naive = np.concatenate([vocoder.decode(mel[None, a:b])[0].numpy() for a, b in zip(cuts, cuts[1:])])
    assert np.abs(naive - one_pass).max() > 1e-3 * np.abs(one_pass).max()


def test_video_rate_cursor_equals_one_pass_resampling():
    codes = torch.randn(400, 61)
    one_pass = codes_to_video_rate(codes, 25.0, round(400 / 93.75 * 25))
    cursor, out, done = VideoRateCursor(25.0), [], 0
    for a, b in [(0, 50), (50, 51), (51, 300), (300, 400)]:
        cursor.push(codes[a:b])
        final = b == 400
        total = one_pass.shape[0] if final else int((b - 2) / 93.75 * 25)
        if total > done:
            out.append(cursor.take(done, total - done, final))
            done = total
    assert torch.equal(torch.cat(out), one_pass)


def test_audio_watermark_streamed_is_bit_identical_and_detectable():
    rng = np.random.default_rng(0)
    audio = (0.2 * rng.standard_normal(24000 * 12) * np.sin(np.arange(24000 * 12) / 4000)).astype(np.float32)
    marker = AudioWatermarker()
    cuts = [0, 100, 101, 5000, 40000, audio.shape[0]]
    streamed = np.concatenate([marker.push(audio[a:b], final=b == audio.shape[0]) for a, b in zip(cuts, cuts[1:])])
    assert np.array_equal(streamed, embed_audio_watermark(audio))
    assert detect_audio_watermark(streamed).found and not detect_audio_watermark(audio).found


def test_first_chunk_is_short_and_the_plan_tiles_the_text():
    ref_text = "hello there this is me talking for a while so you hear my voice"
    full = plan_chunks(TEXT, ref_text, 188, 5.0)
    short = plan_chunks(TEXT, ref_text, 188, 5.0, first_chunk_seconds=0.5)
    assert " ".join(short.texts).replace(" ", "") == " ".join(full.texts).replace(" ", "")
    assert short.frames[0] <= 0.5 * 93.75 < full.frames[0]
    with pytest.raises(ValueError, match="first_chunk_seconds"):
        plan_chunks(TEXT, ref_text, 188, 5.0, first_chunk_seconds=0.1)


def test_first_piece_arrives_before_the_clip_is_generated(pipe, ref):
    sampled = []
    continue_chunks = pipe.generator.continue_chunks

    def counting(*args, **kwargs):
        for out in continue_chunks(*args, **kwargs):
            sampled.append(out.mel.shape[0])
            yield out

    pipe.generator.continue_chunks = counting
    try:
        stream = pipe.stream(TEXT, ref)
        first = next(stream)
        at_first = len(sampled)
        rest = list(stream)
    finally:
        del pipe.generator.continue_chunks
    assert at_first == 1 < len(sampled)  # one DiT chunk made when the first frames and audio came out
    assert first.frames.dtype == np.uint8 and first.frames.shape[1:] == (128, 128, 3) and first.frames.shape[0] > 0
    assert first.audio.shape[0] == round(first.frames.shape[0] * 24000 / 25)  # audio of exactly those frames
    assert first.elapsed_s <= rest[-1].elapsed_s and rest[-1].last and not any(p.last for p in [first, *rest[:-1]])
    frames = [first.first_frame, *(p.first_frame for p in rest)]
    assert frames == sorted(frames) and rest[-1].first_frame + rest[-1].frames.shape[0] > first.frames.shape[0]


def test_streamed_output_continues_like_one_pass(pipe, ref):
    """Codes at fps equal resampling the whole (joined) code track; audio equals one vocoder pass over the whole
    mel: the seams between chunks and pieces add nothing."""
    pipe.cfg.safety = SafetyConfig(watermark=False)
    try:
        pieces = list(pipe.stream(TEXT, ref))
    finally:
        pipe.cfg.safety = SafetyConfig()
    plan = pipe.plan(TEXT, ref, first_chunk_seconds=pipe.cfg.first_chunk_seconds)
    assert len(plan.texts) >= 3 and len({p.chunk for p in pieces}) >= 2
    from omnitalker.streaming.engine import iter_speech

    chunks = list(iter_speech(pipe, ref, plan))
    mel, codes = torch.cat([c.mel for c in chunks]), torch.cat([c.codes for c in chunks])
    audio = np.concatenate([p.audio for p in pieces])
    one_pass = pipe.vocoder.decode(mel[None])[0].numpy()
    assert audio.shape == one_pass.shape
    assert np.abs(audio - one_pass).max() < 1e-4 * np.abs(one_pass).max()
    streamed_codes = np.concatenate([p.codes for p in pieces])
    expected = codes_to_video_rate(codes, 25.0, streamed_codes.shape[0]).numpy()
    assert streamed_codes.shape[0] == round(audio.shape[0] / 24000 * 25)
    np.testing.assert_array_equal(streamed_codes, expected)


def test_codes_hooks_change_what_is_rendered(pipe, ref):
    calls = []

    def hook(codes, chunk):
        calls.append((chunk.index, chunk.start, codes.shape[0]))
        return torch.zeros_like(codes)

    pieces = list(pipe.stream(TEXT, ref, codes_hooks=[hook]))
    assert [c[0] for c in calls] == list(range(len(calls))) and len(calls) >= 2
    assert all(np.all(p.codes == 0) for p in pieces)
    with pytest.raises(ValueError, match="codes hook"):
        list(pipe.stream(TEXT, ref, codes_hooks=[lambda codes, chunk: codes[:1]]))


def test_generate_writes_exactly_the_streamed_pieces(pipe, ref, tmp_path):
    pieces = list(pipe.stream(TEXT, ref))
    result = pipe.generate(TEXT, ref, tmp_path / "out.mp4", wav_out=tmp_path / "out.wav",
                           codes_out=tmp_path / "codes.npz", progress=False, first_chunk_seconds=1.0)
    codes = np.concatenate([p.codes for p in pieces])
    np.testing.assert_array_equal(np.load(tmp_path / "codes.npz")["codes"], codes)
    wav, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    audio = np.concatenate([p.audio for p in pieces])[: wav.shape[0]]
    assert np.abs(wav - audio).max() <= 1.0 / 32768 + 1e-6  # PCM 16
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == codes.shape[0] == round(result.duration_s * 25)
    assert result.first_piece_s is not None and len(result.chunks) >= 3
    assert set(result.timings) == {"reference", "dit", "vocoder", "renderer", "mux"}


def decoded_frames(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_fragmented_mp4_is_readable_at_every_flush(pipe, ref, tmp_path):
    out = tmp_path / "live.mp4"
    checks = []

    def pieces():
        written = 0
        for piece in pipe.stream(TEXT, ref):
            yield MuxPiece(piece.frames, piece.audio, flush=piece.flush)
            written += piece.frames.shape[0]  # write_pieces asks for the next piece after writing this one
            if piece.flush and not piece.last:
                checks.append((written, decoded_frames(out.read_bytes())))

    result = write_pieces(out, pieces(), fps=25, fragmented=True)
    assert len(checks) >= 2
    for written, readable in checks:
        assert written - 2 <= readable <= written  # all but the last two frames are on disk at a flush
    assert decoded_frames(out.read_bytes()) == result.num_frames
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        samples = sum(f.samples for f in container.decode(audio=0))
    assert abs(samples - result.audio_samples) <= 2048  # AAC priming / padding


def test_fragmented_output_to_a_pipe(tmp_path):
    """A fragmented mp4 needs no seeking: written to a pipe (stdout), the received bytes are a valid video."""
    script = (
        "import sys, numpy as np\n"
        "from omnitalker.inference.mux import MuxPiece, write_pieces\n"
        "frames = np.random.default_rng(0).integers(0, 255, (30, 64, 64, 3), dtype=np.uint8)\n"
        "audio = np.zeros(28800, np.float32)\n"
        "write_pieces(sys.stdout.buffer, [MuxPiece(frames[:15], audio[:14400], flush=True),\n"
        "                                 MuxPiece(frames[15:], audio[14400:])], fps=25, fragmented=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert decoded_frames(proc.stdout) == 30


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """A random tiny DiT checkpoint (the real format), renderer directory and Vocos directory, plus a reference clip
    with its codes file: what scripts/infer.py reads."""
    from omnitalker.checkpoint import CHECKPOINT_FORMAT
    from omnitalker.render.checkpoint import save_renderer
    from omnitalker.vocoder import save_vocos

    root = tmp_path_factory.mktemp("files")
    pipe = tiny_pipeline()
    model, gen = pipe.generator.model, pipe.generator
    meta = {"format": CHECKPOINT_FORMAT, "arch": asdict(model.cfg), "vocab": gen.vocab.symbols,
            "normalizer": {"mean": gen.normalizer.mean.cpu(), "std": gen.normalizer.std.cpu()},
            "sampler": {"steps": 2}, "face_model": None}
    torch.save({"omnitalker": meta, "state_dict": {f"net.{k}": v for k, v in model.state_dict().items()}},
               root / "dit.ckpt")
    save_renderer(pipe.renderer.cpu(), root / "renderer")
    save_vocos(pipe.vocoder.model.cpu(), root / "vocos", TINY_VOCOS)
    ref = synthetic_reference(2.0, 64)
    frames = np.repeat(ref.identity_image[None], 50, axis=0)  # (50, 64, 64, 3) 2 s at 25 fps
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(48000) / 24000)).astype(np.float32)
    write_video(root / "ref.mp4", frames, tone, fps=25)
    np.savez(root / "ref_codes.npz", codes=np.zeros((50, 61), np.float32), fps=np.float64(25))
    return root


def test_infer_script_streams_to_stdout(model_files):
    root = model_files
    cmd = [sys.executable, str(ROOT / "scripts/infer.py"), f"dit={root / 'dit.ckpt'}", f"renderer={root / 'renderer'}",
           f"vocoder_path={root / 'vocos'}", f"ref={root / 'ref.mp4'}", f"ref_codes={root / 'ref_codes.npz'}",
           "ref_text=hello there this is me talking", "crop=none", "device=cpu", "steps=2", "stream=true",
           "first_chunk_seconds=0.5", "out=-", "text=Hello there. Streamed to stdout."]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's package, also when another one is installed
    proc = subprocess.run(cmd, capture_output=True, timeout=900, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"wrote" in proc.stderr and b"first frames after" in proc.stderr
    assert decoded_frames(proc.stdout) > 0


def test_precision_setting_reaches_the_models():
    from omnitalker.device import resolve_precision

    assert resolve_precision("auto", torch.device("cpu")) is None
    assert resolve_precision("auto", torch.device("cuda")) is torch.bfloat16
    assert resolve_precision("bf16", torch.device("cpu")) is torch.bfloat16
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp8", torch.device("cpu"))
    pipe = tiny_pipeline(precision="bf16")
    assert pipe.generator.autocast_dtype is torch.bfloat16 and pipe.vocoder.autocast_dtype is torch.bfloat16
    mel = torch.randn(1, 60, 100) - 4
    wav = pipe.vocoder.decode(mel)
    pipe.vocoder.autocast_dtype = None
    reference = pipe.vocoder.decode(mel)
    assert wav.dtype == torch.float32 and torch.isfinite(wav).all()
    assert 0 < (wav - reference).abs().max() < 0.1 * reference.abs().max()  # bf16 backbone, fp32 ISTFT
    out = pipe.generator.generate(torch.randn(40, 100) - 4, torch.zeros(40, 61), "hello there", ["hi you"], [20])[0]
    assert out.mel.dtype == torch.float32 and out.codes.dtype == torch.float32 and torch.isfinite(out.mel).all()


def test_compile_mode_reaches_torch_compile(monkeypatch):
    """compile=true compiles the DiT (dynamic shapes) and the renderer's warping/generator in the configured mode
    (reduce-overhead = CUDA graphs); an unknown mode is refused even while compile is off."""
    calls = []

    def fake_compile(module, mode=None, dynamic=None):
        calls.append((type(module).__name__, mode, dynamic))
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    tiny_pipeline(compile=True, compile_mode="reduce-overhead")
    assert ("OmniTalkerDiT", "reduce-overhead", True) in calls
    assert {mode for _, mode, _ in calls} == {"reduce-overhead"} and len(calls) == 3
    with pytest.raises(ValueError, match="compile_mode"):
        tiny_pipeline(compile_mode="cudagraphs")
