"""The synthetic generator's study mode: codes + audio only, sampled speaker styles, held-out splits, parallel workers."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from data_prep.synthetic.generate import PRESETS, SyntheticCorpusConfig, SyntheticCorpusError, generate_corpus
from data_prep.synthetic.sentences import is_heldout_sentence, pick_sentences
from data_prep.synthetic.style import StyleRanges, sample_speakers
from omnitalker.data import CorpusReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from make_synthetic_corpus import parse_args  # noqa: E402

SMALL = dict(render=False, style_mode="sampled", num_speakers=3, sources_per_speaker=2, clips_per_source=2,
             heldout_sources_per_speaker=1, heldout_speakers=1, heldout_sentence_fraction=0.3, progress=False)


@pytest.fixture(scope="module")
def study_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "corpus"
    summary = generate_corpus(SyntheticCorpusConfig(out=str(out), **SMALL))
    return out, summary


def test_codes_only_mode_writes_no_video(study_corpus):
    out, summary = study_corpus
    assert not (out / "clips").exists() and not (out / "sources").exists()
    for name in ("corpus", "corpus_heldout"):
        reader = CorpusReader(out / name, verify="full")
        for i in range(len(reader)):
            record = reader[i]
            assert record.video is None and record.audio is not None
            assert record.codes.shape[1] == 61 and "face_area" not in record.quality
    entry = json.loads((out / "manifest.json").read_text())[0]
    with np.load(out / entry["ground_truth"], allow_pickle=False) as truth:
        assert "keypoints" not in truth.files and truth["codes"].shape[1] == 61


def test_heldout_splits_never_reach_the_training_corpus(study_corpus):
    out, summary = study_corpus
    manifest = json.loads((out / "manifest.json").read_text())
    # speaker 2 (the last) is held out; of speakers 0 and 1 the last session (s01) is held out
    expected = {"train": 2 * 1 * 2, "heldout_source": 2 * 1 * 2, "heldout_speaker": 1 * 2 * 2}
    assert summary["splits"] == expected
    train = CorpusReader(out / "corpus")
    heldout = CorpusReader(out / "corpus_heldout")
    train_ids = {train.index[i].clip_id for i in range(len(train))}
    heldout_ids = {heldout.index[i].clip_id for i in range(len(heldout))}
    assert train_ids == {e["clip_id"] for e in manifest if e["split"] == "train"}
    assert heldout_ids == {e["clip_id"] for e in manifest if e["split"] != "train"}
    held_speaker = json.loads((out / "speakers.json").read_text())[2]
    assert held_speaker["split"] == "heldout_speaker"
    assert all(train.index[i].speaker_id != held_speaker["speaker_id"] for i in range(len(train)))
    assert {train.index[i].source_id for i in range(len(train))}.isdisjoint(
        {heldout.index[i].source_id for i in range(len(heldout))})
    # held-out sessions speak only held-out sentences, training sessions never do
    for entry in manifest:
        assert is_heldout_sentence(entry["text"], 0.3) == (entry["split"] != "train"), entry


def test_parallel_workers_give_identical_output(tmp_path, study_corpus):
    out, _ = study_corpus
    config = dataclasses.replace(SyntheticCorpusConfig(out=str(tmp_path / "par"), **SMALL), workers=2)
    generate_corpus(config)
    a, b = CorpusReader(out / "corpus"), CorpusReader(tmp_path / "par" / "corpus")
    assert len(a) == len(b)
    for i in range(len(a)):
        ra, rb = a[i], b[i]
        assert ra.clip_id == rb.clip_id and ra.text == rb.text
        np.testing.assert_array_equal(ra.codes, rb.codes)
        np.testing.assert_array_equal(ra.audio, rb.audio)


def test_sampled_styles_cover_every_range_stratified():
    n = 8
    ranges = StyleRanges()
    speakers = sample_speakers(n, seed=3, ranges=ranges, languages=("en", "zh"))
    assert len({s.speaker_id for s in speakers}) == n
    assert [s.language for s in speakers] == ["en", "zh"] * 4
    for name, attr in (("head_amp", "head_yaw_amp"), ("head_freq", "head_freq"),
                       ("blink_rate_per_min", "blink_rate_per_min"), ("articulation", "articulation")):
        lo, hi = getattr(ranges, name)
        values = np.array([getattr(s, attr) for s in speakers])
        strata = np.floor((values - lo) / (hi - lo) * n).astype(int)
        assert sorted(strata) == list(range(n)), (name, values)  # one speaker in each n-th of the range
    lo, hi = ranges.voice_pitch
    assert all(lo <= s.voice.pitch <= hi for s in speakers)
    assert sample_speakers(n, seed=3) == speakers and sample_speakers(n, seed=4) != speakers
    with pytest.raises(ValueError, match="low <= high"):
        sample_speakers(2, 0, dataclasses.replace(ranges, head_freq=(1.0, 0.5)))
    with pytest.raises(ValueError, match="languages"):
        sample_speakers(2, 0, ranges, languages=("de",))


def test_sentence_split_is_respected_for_bank_and_templates():
    rng = np.random.default_rng(0)
    for language in ("en", "zh"):
        for heldout in (True, False):
            picked = pick_sentences(language, 200, rng, templated_fraction=0.5, heldout=heldout, heldout_fraction=0.2)
            assert all(is_heldout_sentence(s, 0.2) == heldout for s in picked)
    # without a split the draws are exactly the historical ones (existing corpora stay reproducible)
    a = pick_sentences("en", 20, np.random.default_rng(5))
    b = pick_sentences("en", 20, np.random.default_rng(5), heldout=None, heldout_fraction=0.4)
    assert a == b


def test_cli_parses_presets_and_ranges():
    config = parse_args(["out=x", "preset=study", "ranges.head_freq=0.3,1.2", "workers=2"])
    assert config.render is False and config.style_mode == "sampled" and config.workers == 2
    assert config.ranges.head_freq == (0.3, 1.2) and config.ranges.head_amp == StyleRanges().head_amp
    assert config.heldout_sources_per_speaker == PRESETS["study"]["heldout_sources_per_speaker"]
    with pytest.raises(SyntheticCorpusError, match="unknown style range"):
        parse_args(["ranges.nope=1,2"])
    with pytest.raises(SyntheticCorpusError, match="LOW,HIGH"):
        parse_args(["ranges.head_freq=1"])


@pytest.mark.parametrize("bad", [dict(heldout_speakers=3), dict(heldout_sources_per_speaker=2),
                                 dict(heldout_sentence_fraction=1.0), dict(style_mode="random"), dict(workers=0)])
def test_bad_split_options_are_refused(bad, tmp_path):
    config = dataclasses.replace(SyntheticCorpusConfig(out=str(tmp_path / "x"), **SMALL), **bad)
    with pytest.raises(SyntheticCorpusError):
        generate_corpus(config)
    assert not (tmp_path / "x").exists()
