"""Audio/video alignment shared by data preparation and inference (omnitalker.av_timing): stream start times and
variable frame rate, checked against the synthetic generator's ground-truth timing."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from data_prep.audio import load_audio
from data_prep.synthetic import ARCHETYPES, Mp4Writer, frame_energy, generate_session
from omnitalker.av_timing import FrameTimingError, align_audio, constant_rate, frames_covered
from omnitalker.constants import BLENDSHAPE_NAMES, SAMPLE_RATE
from omnitalker.face.errors import VideoDecodeError
from omnitalker.face.video import iter_frames, probe_video
from omnitalker.inference.errors import CorruptMediaError
from omnitalker.inference.media import iter_video_frames
from omnitalker.inference.reference import load_reference

FPS = 25
SPF = SAMPLE_RATE // FPS
JAW = BLENDSHAPE_NAMES.index("jawOpen")
DELAY = 0.2  # s: the audio stream starts this long after the video stream
SIZE = 64


def _index_frames(count: int) -> np.ndarray:
    """(count, SIZE, SIZE, 3) uint8 flat grey frames whose level encodes the frame index mod 60 (4 levels apart)."""
    levels = (np.arange(count) % 60 * 4 + 8).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (count, SIZE, SIZE, 3)).copy()


def _frame_index(rgb: np.ndarray) -> int:
    return round((float(rgb.mean()) - 8) / 4)


@pytest.fixture(scope="module")
def delayed_clip(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A correctly synced talking clip whose audio stream starts 200 ms after its video stream: the frames are the
    generator's frames 0..T-1 and the audio stream holds the generator's audio from 200 ms on."""
    session = generate_session(ARCHETYPES[0], 0, 0, clips_per_source=1, seed=0)
    codes = session.codes[: 6 * FPS]  # (T, 61) ground truth, frame k at k / FPS
    audio = session.speech.audio[: codes.shape[0] * SPF]  # (T * SPF,) ground truth on the same clock
    path = tmp_path_factory.mktemp("av") / "delayed.mp4"
    with Mp4Writer(path, FPS, SIZE, crf=10, audio_start=DELAY) as writer:
        writer.add(_index_frames(codes.shape[0]), audio[round(DELAY * SAMPLE_RATE) :])
    return path, codes, audio


def _best_lag(a: np.ndarray, b: np.ndarray, max_lag: int = 12) -> int:
    """Lag (frames) maximising the correlation of a[t] with b[t - lag]."""
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    scores = {}
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b[: n - lag]) if lag >= 0 else (a[:lag], b[-lag:])
        scores[lag] = float(np.corrcoef(x, y)[0, 1])
    return max(scores, key=scores.get)


def test_data_prep_audio_lines_up_with_the_frames_when_audio_starts_late(delayed_clip):
    path, codes, truth = delayed_clip
    with av.open(str(path)) as container:  # the fixture really has a delayed audio stream
        audio_stream = container.streams.audio[0]
        assert float(audio_stream.start_time * audio_stream.time_base) == pytest.approx(DELAY, abs=0.05)
    audio = load_audio(path, SAMPLE_RATE)  # what data prep cuts clip audio from: sample 0 = frame 0
    energy = frame_energy(audio, SPF)  # (T',) per video frame
    assert _best_lag(energy, frame_energy(truth, SPF)) == 0  # the generator's own audio timing
    assert _best_lag(codes[:, JAW].astype(np.float64), energy) == 0  # mouth opening vs speech energy
    assert np.abs(audio[: round(0.15 * SAMPLE_RATE)]).max() < 1e-3  # the 200 ms before the audio starts is silent
    # frames come on the same clock: frame k of the decoder the landmarks use is the generator's frame k
    frames = [rgb for _, rgb in iter_frames(path)]
    assert len(frames) == codes.shape[0]
    assert [_frame_index(f) for f in frames] == [k % 60 for k in range(codes.shape[0])]


def test_inference_reads_the_same_aligned_audio_as_data_prep(delayed_clip):
    path, codes, _ = delayed_clip
    prep = load_audio(path, SAMPLE_RATE)
    reference = load_reference(path, min_seconds=1.0, max_seconds=10.0)
    n = min(prep.shape[0], reference.audio.shape[0])
    assert n >= codes.shape[0] * SPF - SPF
    np.testing.assert_allclose(reference.audio[:n], prep[:n], atol=1e-5)
    assert reference.frames.shape[0] == codes.shape[0]


def test_align_audio_pads_a_late_start_and_trims_an_early_one():
    audio = np.arange(1, 11, dtype=np.float32)
    np.testing.assert_array_equal(align_audio(audio, 0.3, 0.1, 10), np.r_[0, 0, audio].astype(np.float32))
    np.testing.assert_array_equal(align_audio(audio, 0.0, 0.3, 10), audio[3:])
    assert align_audio(audio, 0.5, 0.5, 10) is audio
    # 2.048 s of audio under a 29.97 fps video whose timestamps span 62 frames: clips stop at frame 61
    assert frames_covered(49152, 24000, 30000 / 1001) == 61 and frames_covered(48000, 24000, 25.0) == 50


# --- variable frame rate ---------------------------------------------------------------------------------------


def _write_vfr(path: Path, times_ms: list[int]) -> Path:
    """Video-only mp4 whose frame j (grey level encoding j) is presented at times_ms[j]."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"}
        stream.codec_context.time_base = Fraction(1, 1000)
        for j, (t, rgb) in enumerate(zip(times_ms, _index_frames(len(times_ms)), strict=True)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
            assert j < 60
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_variable_frame_rate_is_resampled_by_timestamp(tmp_path):
    # 0.4 s at 50 fps, then 0.8 s at 12.5 fps: decode order alone would put frame 10 (t = 0.2 s) at 0.4 s
    times = [20 * j for j in range(20)] + [400 + 80 * j for j in range(10)]
    path = _write_vfr(tmp_path / "vfr.mp4", times)
    fps = probe_video(path).fps
    grid = np.arange(round((times[-1] / 1000 + 0.5 / fps) * fps)) / fps  # (K,) instants of the output frames
    expected = [int(np.argmin(np.abs(np.array(times) / 1000 - t))) for t in grid]
    got = [_frame_index(rgb) for _, rgb in iter_frames(path)]
    assert got == expected
    assert got[1] == 2 and got[-1] == 29  # the 50 fps part is thinned (frame 1 dropped) ...
    assert len(got) > len(set(got))  # ... and the 12.5 fps part repeats frames
    got_inference = [_frame_index(rgb) for rgb in iter_video_frames(path)]
    assert got_inference == expected


def test_constant_frame_rate_passes_unchanged_and_holes_are_rejected(tmp_path):
    items = list(constant_rate(((k / 30, k) for k in range(90)), 30.0, 0.0))
    assert items == list(range(90))
    late = list(constant_rate(((0.11 + k / 25, k) for k in range(10)), 25.0, 0.0))  # first frame 0.11 s late
    assert late[:5] == [0, 0, 0, 0, 1] and len(late) == 13
    hole = _write_vfr(tmp_path / "hole.mp4", [40 * j for j in range(10)] + [1400 + 40 * j for j in range(5)])
    with pytest.raises(VideoDecodeError, match="variable frame rate: no video frame for 1.04 s") as info:
        list(iter_frames(hole))
    assert isinstance(info.value.__cause__, FrameTimingError)
    with pytest.raises(CorruptMediaError, match="variable frame rate"):
        list(iter_video_frames(hole))
