"""Synthetic talking-head corpus: real speech, speech-locked mouth codes, speaker styles, rendering, mp4 + corpus."""

from __future__ import annotations

import io
import itertools
import json
import sys
from pathlib import Path

import av
import librosa
import numpy as np
import pytest

from data_prep.synthetic import (
    ARCHETYPES,
    PRESETS,
    FaceRenderer,
    SpeechSynthesisError,
    SyntheticCorpusConfig,
    SyntheticCorpusError,
    VoiceSettings,
    blink_onsets,
    frame_energy,
    generate_corpus,
    generate_session,
    synthesize,
    viseme,
)
from omnitalker.constants import BLENDSHAPE_NAMES, CODE_DIM, RENDER_SIZE, SAMPLE_RATE

FPS = 25.0
SPF = int(SAMPLE_RATE / FPS)
JAW = BLENDSHAPE_NAMES.index("jawOpen")
BLINK = BLENDSHAPE_NAMES.index("eyeBlinkLeft")
YAW = 51


@pytest.fixture(scope="module")
def sessions():
    """Codes-only sessions (no rendering): the 4 archetype speakers x 2 sources x 6 utterances (~25 s each)."""
    return {(i, s): generate_session(spk, i, s, clips_per_source=6, seed=0) for i, spk in enumerate(ARCHETYPES)
            for s in range(2)}


@pytest.fixture(scope="module")
def tiny_corpus(synthetic_tiny):
    return synthetic_tiny


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def _lagged(a: np.ndarray, b: np.ndarray, lag: int) -> float:
    """Correlation of a[t] with b[t - lag]."""
    if lag > 0:
        return _pearson(a[lag:], b[:-lag])
    if lag < 0:
        return _pearson(a[:lag], b[-lag:])
    return _pearson(a, b)


# --- speech --------------------------------------------------------------------------------------------------

def test_speech_is_real_and_grows_with_text():
    voice = ARCHETYPES[0].voice
    short = synthesize("Good morning.", voice)
    long = synthesize("Good morning. We will meet at the station a little before nine tomorrow.", voice)
    for utt in (short, long):
        assert utt.audio.dtype == np.float32 and utt.audio.ndim == 1
        assert np.isfinite(utt.audio).all() and np.abs(utt.audio).max() <= 1.0
        energy = frame_energy(utt.audio[: len(utt.audio) // SPF * SPF], SPF)
        assert np.sqrt(np.mean(utt.audio ** 2)) > 0.01  # not silent
        assert energy.std() > 0.15  # syllables and pauses: the envelope moves
        starts = [p.start for p in utt.phonemes]
        assert len(starts) >= 5 and np.all(np.diff(starts) >= 0) and 0 <= starts[0] and starts[-1] < utt.duration
    assert long.duration > 2.5 * short.duration
    assert len(long.phonemes) > 2.5 * len(short.phonemes)
    zh = synthesize("今天天气很好，我们去公园散步吧。", ARCHETYPES[2].voice)
    assert zh.duration > 2.0 and len(zh.phonemes) > 20


def test_four_voices_are_distinguishable():
    """Median F0 (librosa.yin over voiced frames) differs by >= 20 % between every pair of the 4 voices."""
    texts = {"en": "We will meet at the station a little before nine tomorrow morning.",
             "zh": "明天下午三点我们在图书馆见面。"}
    f0 = []
    for speaker in ARCHETYPES:
        audio = synthesize(texts[speaker.language], speaker.voice).audio
        pitch = librosa.yin(audio, fmin=60, fmax=500, sr=SAMPLE_RATE, frame_length=2048)
        rms = librosa.feature.rms(y=audio, frame_length=2048, hop_length=512)[0][: len(pitch)]
        f0.append(float(np.median(pitch[: len(rms)][rms > 0.3 * rms.max()])))
    assert len({s.language for s in ARCHETYPES}) == 2
    for i in range(4):
        for j in range(i + 1, 4):
            ratio = max(f0[i], f0[j]) / min(f0[i], f0[j])
            assert ratio > 1.2, f"voices {i} and {j} too similar: F0 {f0[i]:.0f} vs {f0[j]:.0f} Hz"


def test_speech_errors_are_clear():
    with pytest.raises(SpeechSynthesisError, match="empty"):
        synthesize("   ", ARCHETYPES[0].voice)
    with pytest.raises(SpeechSynthesisError, match="no voice named"):
        synthesize("hello", VoiceSettings("xx-nonexistent"))


# --- codes ---------------------------------------------------------------------------------------------------

def test_visemes_follow_phonetics():
    assert viseme("ˈɑː")[0] > viseme("ə")[0] > viseme("iː")[0]  # open > mid > close vowel
    assert viseme("p")[3] == 1.0 and viseme("m")[0] < 0.1  # bilabials close the lips
    assert viseme("uː")[1] == 1.0 and viseme("i")[1] == 0.0  # rounding
    assert viseme("f")[4] == 1.0
    assert viseme("") == (0.0, 0.0, 0.0, 0.0, 0.0)


def test_codes_shape_and_ranges(sessions):
    for session in sessions.values():
        codes = session.codes
        assert codes.dtype == np.float32 and codes.shape == (session.speech.num_frames, CODE_DIM)
        assert session.speech.audio.shape[0] == codes.shape[0] * SPF
        assert np.isfinite(codes).all()
        assert codes[:, :51].min() >= 0.0 and codes[:, :51].max() <= 1.0
        assert np.abs(codes[:, 51:54]).max() < 0.6  # head rotation stays in a plausible range (radians)
        assert np.abs(codes[:, 57:61]).max() < 0.6
        spans = session.speech.clips
        assert spans[0].start_frame == 0 and spans[-1].end_frame == codes.shape[0]
        assert all(a.end_frame == b.start_frame for a, b in itertools.pairwise(spans))  # clips tile the source


def test_jaw_follows_speech_energy_without_lag(sessions):
    for (speaker, source), session in sessions.items():
        energy = frame_energy(session.speech.audio, SPF)
        jaw = session.codes[:, JAW].astype(np.float64)
        r = {lag: _lagged(jaw, energy, lag) for lag in range(-12, 13)}
        assert r[0] > 0.8, f"speaker {speaker}/{source}: jaw-energy r={r[0]:.2f}"
        assert max(r, key=r.get) == 0, f"speaker {speaker}/{source}: best lag {max(r, key=r.get)} frames"
        assert r[10] < r[0] - 0.4 and r[-10] < r[0] - 0.4
        silent = energy < 0.02
        assert silent.any() and jaw[silent].max() < 0.1  # mouth closed in pauses


def _head_stats(codes: np.ndarray) -> tuple[float, float, float]:
    yaw = codes[:, YAW] - codes[:, YAW].mean()
    spectrum = np.abs(np.fft.rfft(yaw * np.hanning(len(yaw))))
    freqs = np.fft.rfftfreq(len(yaw), 1 / FPS)
    blink_rate = len(blink_onsets(codes, FPS)) / (len(yaw) / FPS) * 60
    return float(yaw.std()), float(freqs[1:][spectrum[1:].argmax()]), blink_rate


def test_speaker_styles_differ_and_are_consistent(sessions):
    stats = {key: _head_stats(s.codes) for key, s in sessions.items()}
    for i, style in enumerate(ARCHETYPES):
        (std_a, freq_a, blink_a), (std_b, freq_b, blink_b) = stats[(i, 0)], stats[(i, 1)]
        # consistent within a speaker: both sessions near the style and near each other
        assert abs(std_a - std_b) < 0.3 * max(std_a, std_b)
        for freq in (freq_a, freq_b):
            assert abs(freq - style.head_freq) < 0.25 * style.head_freq + 0.08, (i, freq, style.head_freq)
        for blink in (blink_a, blink_b):
            assert abs(blink - style.blink_rate_per_min) < 0.45 * style.blink_rate_per_min, (i, blink)
    mean = {i: np.mean([stats[(i, 0)], stats[(i, 1)]], axis=0) for i in range(4)}
    for i in range(4):
        for j in range(i + 1, 4):
            a, b = ARCHETYPES[i], ARCHETYPES[j]
            differs = []
            if max(a.head_yaw_amp, b.head_yaw_amp) > 1.3 * min(a.head_yaw_amp, b.head_yaw_amp):
                differs.append((mean[i][0] > mean[j][0]) == (a.head_yaw_amp > b.head_yaw_amp))
            if max(a.head_freq, b.head_freq) > 1.4 * min(a.head_freq, b.head_freq):
                differs.append((mean[i][1] > mean[j][1]) == (a.head_freq > b.head_freq))
            if max(a.blink_rate_per_min, b.blink_rate_per_min) > 1.8 * min(a.blink_rate_per_min, b.blink_rate_per_min):
                differs.append((mean[i][2] > mean[j][2]) == (a.blink_rate_per_min > b.blink_rate_per_min))
            assert differs and all(differs), f"speakers {i} and {j} are not told apart by their motion: {differs}"
    # habitual expression: the smiley speaker smiles more than the serious one, whose brows are lower
    smile = BLENDSHAPE_NAMES.index("mouthSmileLeft")
    brow_down = BLENDSHAPE_NAMES.index("browDownLeft")
    assert sessions[(1, 0)].codes[:, smile].mean() > sessions[(2, 0)].codes[:, smile].mean() + 0.3
    assert sessions[(2, 0)].codes[:, brow_down].mean() > sessions[(1, 0)].codes[:, brow_down].mean() + 0.2


def test_sessions_are_deterministic_by_seed():
    a = generate_session(ARCHETYPES[3], 3, 0, clips_per_source=2, seed=5)
    b = generate_session(ARCHETYPES[3], 3, 0, clips_per_source=2, seed=5)
    c = generate_session(ARCHETYPES[3], 3, 0, clips_per_source=2, seed=6)
    assert np.array_equal(a.speech.audio, b.speech.audio) and np.array_equal(a.codes, b.codes)
    assert [s.text for s in a.speech.clips] == [s.text for s in b.speech.clips]
    assert a.codes.shape != c.codes.shape or not np.array_equal(a.codes, c.codes)


# --- rendering -----------------------------------------------------------------------------------------------

def test_frames_follow_the_codes():
    renderer = FaceRenderer()
    codes = np.zeros((4, CODE_DIM), np.float32)
    codes[1, JAW] = 0.6  # open mouth
    codes[2, BLINK] = codes[2, BLINK + 1] = 1.0  # closed eyes
    codes[3, YAW] = 0.2  # head turned
    frames = renderer.render(codes).astype(np.int16)
    assert frames.shape == (4, RENDER_SIZE, RENDER_SIZE, 3) and frames.dtype == np.int16
    mouth = (slice(330, 400), slice(195, 290))
    eyes = (slice(215, 255), slice(160, 330))
    corner = (slice(0, 40), slice(0, 40))

    def diff(i, region):
        return float(np.abs(frames[i][region] - frames[0][region]).mean())

    assert diff(1, mouth) > 15 and diff(1, eyes) < 1.0  # jaw moves the mouth, not the eyes
    assert frames[1][mouth].mean() < frames[0][mouth].mean() - 15  # the open mouth is dark inside
    assert diff(2, eyes) > 4 and diff(2, mouth) < 1.0  # blink moves the eyes only
    assert diff(3, (slice(200, 400), slice(150, 350))) > 10  # the head turn moves the whole face
    for i in range(1, 4):
        assert diff(i, corner) == 0.0  # the background far from the head stays put


def test_renderer_rejects_bad_codes():
    renderer = FaceRenderer()
    with pytest.raises(ValueError, match="shape"):
        renderer.render(np.zeros((3, 60), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        renderer.render(np.full((1, CODE_DIM), np.nan, np.float32))


# --- corpus ----------------------------------------------------------------------------------------------------

def _decode(data: bytes | str | Path):
    source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    with av.open(source) as container:
        assert len(container.streams.video) == 1 and len(container.streams.audio) == 1
        v, a = container.streams.video[0], container.streams.audio[0]
        info = (v.codec_context.name, v.width, v.height, float(v.average_rate), a.codec_context.name, a.sample_rate,
                a.channels)
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with av.open(io.BytesIO(data) if isinstance(data, bytes) else str(data)) as container:
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    return info, frames, audio


def test_corpus_end_to_end(tiny_corpus):
    from omnitalker.data import CorpusReader

    out, summary = tiny_corpus
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["num_clips"] == len(manifest) == 4
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # no partial directory left behind
    reader = CorpusReader(out / "corpus")
    assert len(reader) == 4
    assert {m["speaker_id"] for m in manifest} == {s.speaker_id for s in ARCHETYPES}
    assert {m["language"] for m in manifest} == {"en", "zh"}
    for i in range(len(reader)):
        record = reader[i]
        entry = next(m for m in manifest if m["clip_id"] == record.clip_id)
        n = record.codes.shape[0]
        assert record.fps == FPS and n == entry["num_frames"]
        assert record.audio.shape == (n * SPF,)
        assert record.text == entry["text"] and record.source_id == entry["source_id"]
        assert record.quality["fit_error"] == 0.0 and 0.1 < record.quality["face_area"] < 0.6
        assert 1.0 < record.quality["speaking_rate"] < 25.0
        truth = np.load(out / entry["ground_truth"])
        assert np.array_equal(truth["codes"], record.codes)
        assert truth["keypoints"].shape[:2] == (n, len(truth["keypoint_names"]))

        info, frames, audio = _decode(record.video)
        assert info == ("h264", RENDER_SIZE, RENDER_SIZE, FPS, "aac", SAMPLE_RATE, 1)
        assert frames.shape[0] == n  # one video frame per code frame
        assert abs(len(audio) - n * SPF) < SPF  # audio duration matches within one frame
        assert np.sqrt(np.mean(audio ** 2)) > 0.01
        # the encoded file is the same clip as the corpus bytes, and the picture follows the codes
        assert (out / entry["video"]).read_bytes() == record.video
        mouth = frames[:, 330:410, 190:295].astype(np.float32).mean(axis=(1, 2, 3))
        assert _pearson(-mouth, record.codes[:, JAW]) > 0.6
    # each source video holds its clips back to back
    for source in {m["source_id"] for m in manifest}:
        clips = [m for m in manifest if m["source_id"] == source]
        info, frames, _ = _decode(out / "sources" / f"{source}.mp4")
        assert frames.shape[0] == sum(m["num_frames"] for m in clips)


def test_corpus_output_is_protected(tiny_corpus, tmp_path):
    out, _ = tiny_corpus
    with pytest.raises(SyntheticCorpusError, match="already exists"):
        generate_corpus(SyntheticCorpusConfig(out=str(out), progress=False, **PRESETS["tiny"]))
    foreign = tmp_path / "not_a_corpus"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("precious")
    with pytest.raises(SyntheticCorpusError, match="not a synthetic corpus"):
        generate_corpus(SyntheticCorpusConfig(out=str(foreign), overwrite=True, progress=False))
    assert (foreign / "keep.txt").read_text() == "precious"
    with pytest.raises(SyntheticCorpusError, match="num_speakers"):
        generate_corpus(SyntheticCorpusConfig(out=str(tmp_path / "x"), num_speakers=0, progress=False))


def test_cli_arguments():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from make_synthetic_corpus import parse_args

    config = parse_args(["out=/tmp/x", "preset=tiny", "seed=3", "overwrite=true", "num_speakers=6"])
    assert (config.out, config.seed, config.overwrite, config.num_speakers) == ("/tmp/x", 3, True, 6)
    assert config.clips_per_source == PRESETS["tiny"]["clips_per_source"]
    with pytest.raises(SyntheticCorpusError, match="unknown option"):
        parse_args(["speakers=4"])
    with pytest.raises(SyntheticCorpusError, match="int"):
        parse_args(["seed=abc"])
    with pytest.raises(SyntheticCorpusError, match="preset"):
        parse_args(["preset=huge"])
