"""Safety marks (paper Appendix D): the visible "AI-generated" label and the keyed audio/video watermarks, which
must be found after H.264/AAC re-encoding (and a downscale) and not found on real, unmarked clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import SHARED

from omnitalker.inference.audio_watermark import detect_audio_watermark, embed_audio_watermark
from omnitalker.inference.errors import MediaArrayError, WatermarkError
from omnitalker.inference.marks import CORNERS, add_visible_label
from omnitalker.inference.media import decode_audio, iter_video_frames
from omnitalker.inference.mux import write_video
from omnitalker.inference.safety import SafetyConfig, mark_audio, mark_frames
from omnitalker.inference.video_watermark import (
    VideoWatermarkDetector,
    detect_video_watermark,
    embed_video_watermark,
    luma_cells,
)
from omnitalker.inference.watermark import detect_watermark
from omnitalker.inference.watermark_key import DEFAULT_WATERMARK_KEY, KEY_ENV_VAR, resolve_key

MEDIA = SHARED / "media"
SR = 24_000


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def _snr(clean: np.ndarray, marked: np.ndarray) -> float:
    return float(
        10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum((marked - clean.astype(np.float64)) ** 2))
    )


def _synthetic_video(frames: int = 64, size: int = 128, seed: int = 0) -> np.ndarray:
    """Smooth texture + a moving bright disc + a sharp edge: (T, size, size, 3) uint8."""
    gen = torch.Generator().manual_seed(seed)
    texture = F.interpolate(torch.rand(1, 3, 8, 8, generator=gen), size=(size, size), mode="bicubic")[0]
    texture = texture.permute(1, 2, 0).numpy() * 120 + 60  # (H, W, 3)
    yy, xx = np.mgrid[:size, :size] / size
    out = np.empty((frames, size, size, 3), np.float32)
    for t in range(frames):
        cx = 0.3 + 0.4 * t / frames
        disc = ((xx - cx) ** 2 + (yy - 0.5) ** 2 < 0.02)[..., None] * 60.0
        out[t] = texture + disc
    out[:, :, : size // 6] = 20  # a dark band with a sharp edge
    return np.clip(out, 0, 255).astype(np.uint8)


def _synthetic_speech(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2  # 4 syllables / s with gaps
    audio = 0.2 * voiced * syllables + 0.01 * rng.standard_normal(t.size) * syllables
    audio[int(1.2 * SR) : int(1.6 * SR)] = 0.0  # a pause
    return audio.astype(np.float32)


# ---------------------------------------------------------------- video watermark (arrays)


def test_video_watermark_found_invisible_and_keyed():
    clip = _synthetic_video()
    marked = embed_video_watermark(clip)
    assert marked.shape == clip.shape and marked.dtype == np.uint8
    assert _psnr(marked, clip) > 40
    found = detect_video_watermark(marked)
    assert found.found and found.score > 4 * found.threshold and found.units == 64
    assert not detect_video_watermark(clip).found
    assert not detect_video_watermark(marked, key="someone else's key").found
    own = embed_video_watermark(clip, key="user key")
    assert detect_video_watermark(own, key="user key").found and not detect_video_watermark(own).found
    # streaming the frames in pieces gives the same score as all at once
    detector = VideoWatermarkDetector()
    for piece in np.array_split(marked, 5):
        detector.update(piece)
    assert detector.result().score == pytest.approx(found.score, rel=1e-6)


def test_video_score_is_calibrated_on_unmarked_content():
    """z = <X, P> / ||X|| is N(0, 1) for content without the key's pattern: check mean and spread over keys."""
    cells = luma_cells(_synthetic_video(seed=1))
    scores = []
    for i in range(60):
        detector = VideoWatermarkDetector(f"key-{i}")
        detector.update(cells)
        scores.append(detector.result().score)
    scores = np.array(scores)
    assert abs(scores.mean()) < 0.5 and 0.6 < scores.std() < 1.5 and np.abs(scores).max() < 5


def test_video_watermark_input_errors():
    with pytest.raises(MediaArrayError):
        embed_video_watermark(np.zeros((4, 128, 128, 3), np.float32))
    with pytest.raises(WatermarkError, match="smaller than"):
        embed_video_watermark(np.zeros((4, 64, 64, 3), np.uint8))
    with pytest.raises(WatermarkError, match="non-empty"):
        embed_video_watermark(np.zeros((1, 128, 128, 3), np.uint8), key="  ")


# ---------------------------------------------------------------- audio watermark (arrays)


def test_audio_watermark_found_quiet_keyed_and_shift_invariant():
    speech = _synthetic_speech()
    marked = embed_audio_watermark(speech)
    assert marked.shape == speech.shape and marked.dtype == np.float32
    assert _snr(speech, marked) > 30
    assert np.all(marked[int(1.3 * SR) : int(1.5 * SR)] == 0)  # nothing added in silence
    result = detect_audio_watermark(marked)
    assert result.found and result.score > 2 * result.threshold
    assert not detect_audio_watermark(speech).found
    assert not detect_audio_watermark(marked, key="another key").found
    assert detect_audio_watermark(marked[1234:]).found  # trimmed start (e.g. codec delay)
    resampled = torch.nn.functional.interpolate(
        torch.from_numpy(marked)[None, None], scale_factor=2 / 3, mode="linear"
    )[0, 0].numpy()
    assert detect_audio_watermark(resampled, sample_rate=16_000).found
    noisy = marked + 0.003 * np.random.default_rng(0).standard_normal(marked.size).astype(np.float32)
    assert detect_audio_watermark(noisy).found
    short = detect_audio_watermark(marked[: SR // 2])
    assert not short.found and "too short" in short.note


# ---------------------------------------------------------------- visible label


@pytest.mark.parametrize("corner", CORNERS)
def test_visible_label_in_the_requested_corner(corner):
    frames = np.full((3, 128, 160, 3), 128, np.uint8)
    labelled = add_visible_label(frames, position=corner)
    changed = np.any(labelled != frames, axis=(0, 3))  # (H, W)
    rows, cols = np.flatnonzero(changed.any(1)), np.flatnonzero(changed.any(0))
    assert rows.size and cols.size
    assert (rows.max() < 64) == corner.startswith("top") and (cols.max() < 80) == corner.endswith("left")
    region = labelled[0][changed]
    assert region.max() > 200 and region.min() < 90  # white text on a dark box
    assert np.array_equal(labelled[0], labelled[2])


def test_visible_label_off_and_scaling():
    frames = np.full((2, 512, 512, 3), 50, np.uint8)
    assert np.array_equal(add_visible_label(frames, position="off"), frames)
    small = np.any(add_visible_label(frames[:1, :128, :128]) != 50, axis=(0, 3)).sum()
    large = np.any(add_visible_label(frames) != 50, axis=(0, 3)).sum()
    assert large > 4 * small > 0  # the label scales with the frame
    with pytest.raises(ValueError, match="position"):
        add_visible_label(frames, position="middle")


# ---------------------------------------------------------------- after re-encoding, on files


def _reference_media(frames: int = 50):
    clip = MEDIA / "video" / "sadtalker_WDA_KatieHill_000.mp4"
    if clip.is_file():
        video = np.stack(list(iter_video_frames(clip, max_frames=frames)))
        audio = decode_audio(clip)[0][: int(frames / 25 * SR)]
        return video, audio
    video = _synthetic_video(frames, 512)
    return video, _synthetic_speech(frames / 25)


def _downscale(frames: np.ndarray, size: int) -> np.ndarray:
    tensor = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    small = F.interpolate(tensor, size=(size, size), mode="area")
    return small.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def test_marks_survive_h264_aac_reencoding_and_downscale(tmp_path):
    video, audio = _reference_media()
    assert video.shape[1:] == (512, 512, 3)
    config = SafetyConfig()
    marked_video, marked_audio = mark_frames(video, config), mark_audio(audio, config)
    watermark_only = embed_video_watermark(video)
    assert _psnr(watermark_only, video) > 40 and _snr(audio, marked_audio) > 30

    first = tmp_path / "generated.mp4"
    write_video(first, marked_video, marked_audio, crf=18)
    report = detect_watermark(first)
    assert report.audio.found and report.video.found, report.summary()

    # a second generation: decode, re-encode with H.264 crf 23 + AAC 128k, also downscaled to 256x256
    decoded = np.stack(list(iter_video_frames(first)))
    sound = decode_audio(first)[0]
    for size in (512, 256):
        again = tmp_path / f"reencoded_{size}.mp4"
        write_video(
            again,
            decoded if size == 512 else _downscale(decoded, size),
            sound,
            crf=23,
            audio_bitrate=128_000,
            preset="veryfast",
        )
        report = detect_watermark(again)
        assert report.audio.found and report.video.found, report.summary()
        assert report.video.score > 2 * report.video.threshold

    clean = tmp_path / "clean.mp4"
    write_video(clean, video, audio, crf=23, preset="veryfast")
    report = detect_watermark(clean)
    assert not report.audio.found and not report.video.found, report.summary()


@pytest.mark.skipif(not (MEDIA / "video").is_dir(), reason="shared media not available")
@pytest.mark.parametrize("name", ["mimictalk_Trump_10s.mp4", "liveportrait_d20.mp4", "edtalk_mouth_source.mp4"])
def test_real_clips_are_not_flagged(name):
    report = detect_watermark(MEDIA / "video" / name, max_seconds=3.0)
    assert report.video is not None and not report.video.found and report.video.units >= 70
    assert report.audio is None or (not report.audio.found and report.audio.units >= 15)


def test_detect_script_and_key_resolution(tmp_path, capsys, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "detect_watermark", Path(__file__).parents[1] / "scripts" / "detect_watermark.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    clip = _synthetic_video(30, 128)
    write_video(
        tmp_path / "m.mp4",
        embed_video_watermark(clip, key="k1"),
        embed_audio_watermark(_synthetic_speech(1.2), key="k1"),
        crf=12,
        preset="ultrafast",
    )
    assert script.main([str(tmp_path / "m.mp4"), "--key", "k1"]) == 0
    out = capsys.readouterr().out
    assert "audio: found" in out and "video: found" in out
    assert script.main([str(tmp_path), "--json"]) == 0  # default key: not found
    assert '"found": false' in capsys.readouterr().out
    assert script.main([str(tmp_path / "missing.mp4")]) == 2
    monkeypatch.setenv(KEY_ENV_VAR, "k1")
    assert resolve_key() == "k1" and resolve_key("x") == "x"
    monkeypatch.delenv(KEY_ENV_VAR)
    assert resolve_key() == DEFAULT_WATERMARK_KEY
