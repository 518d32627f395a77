"""Code resampling and normalisation, TalkingHeadDataset pairing, collate, and the full loading pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from corpus_factory import make_records, write_corpus
from torch.utils.data import DataLoader

from omnitalker.audio.mel import num_mel_frames
from omnitalker.constants import CODE_DIM, MEL_FPS
from omnitalker.data.batching import DynamicFrameBatchSampler
from omnitalker.data.corpus import CorpusReader
from omnitalker.data.dataset import DatasetItemError, TalkingHeadDataset, collate
from omnitalker.data.normalization import CodeNormalizer
from omnitalker.data.resample import (
    MEL_PHASE,
    codes_to_mel_rate,
    codes_to_video_rate,
    num_code_frames_for_mel,
    num_mel_frames_for_codes,
    resample_codes,
)
from omnitalker.text import Vocab, tokenize

torch.set_num_threads(1)


# --- resampling -----------------------------------------------------------------------------------------------
def test_resample_is_linear_interpolation_at_the_destination_instants():
    codes = torch.randn(2, 30, CODE_DIM, dtype=torch.float64)
    out = resample_codes(codes, src_fps=30.0, dst_fps=MEL_FPS, dst_phase=MEL_PHASE)
    assert out.shape == (2, round(30 * MEL_FPS / 30), CODE_DIM) and out.dtype == torch.float64
    # video frame k stands for the centre of its display interval; the track spans the clip [0, 1 s]: the edge
    # half-frames continue the line through the two edge frames
    source_t = np.concatenate([[0.0], (np.arange(30) + 0.5) / 30.0, [1.0]])
    target_t = np.arange(out.shape[1]) / MEL_FPS  # mel frame j is centred on sample j * hop
    for d in (0, 17, 60):
        c = codes[1, :, d].numpy()
        extended = np.concatenate([[c[0] - (c[1] - c[0]) / 2], c, [c[-1] + (c[-1] - c[-2]) / 2]])
        np.testing.assert_allclose(out[1, :, d].numpy(), np.interp(target_t, source_t, extended), atol=1e-12)


def test_resample_places_a_ramp_and_an_impulse_by_their_timestamps():
    """Codes that lag the audio are not stretched onto it: frame k lands at (k + 0.5) / fps whatever the length."""
    fps = 25.0
    ramp = torch.from_numpy(((np.arange(25) + 0.5) / fps)[:, None].repeat(CODE_DIM, 1)).float()  # value = its time
    mel_frames = num_mel_frames(28800)  # 1.2 s of audio, 0.2 s longer than the 1 s of codes
    up = codes_to_mel_rate(ramp, fps, mel_frames)  # (113, 61)
    t = np.arange(mel_frames) / MEL_FPS
    inside = t <= 1.0
    np.testing.assert_allclose(up[inside, 7].numpy(), t[inside], atol=1e-6)  # the ramp reads its own clock
    np.testing.assert_allclose(up[~inside, 7].numpy(), 1.0, atol=1e-6)  # past the codes' end: held, not stretched
    # an impulse at video frame 10 peaks at the mel frame nearest its instant (10.5 / 25 s * 93.75 = 39.4)
    impulse = torch.zeros(50, CODE_DIM)
    impulse[10] = 1.0
    peak = int(codes_to_mel_rate(impulse, fps, num_mel_frames(48000))[:, 0].argmax())
    assert peak == round(10.5 / fps * MEL_FPS) == 39
    # and back to the video rate: the ramp is recovered at every video frame
    down = codes_to_video_rate(up[inside], fps, 25)
    np.testing.assert_allclose(down[:, 3].numpy(), ramp[:, 3].numpy(), atol=1e-6)


def test_resample_counts_and_errors():
    assert num_code_frames_for_mel(94, 30.0) == 30 and num_mel_frames_for_codes(30, 30.0) == 94
    one = torch.randn(1, CODE_DIM)
    assert torch.equal(resample_codes(one, 30.0, MEL_FPS, num_frames=5), one.expand(5, CODE_DIM))
    x = torch.randn(7, CODE_DIM)
    assert torch.equal(resample_codes(x, 25.0, 25.0), x)
    assert resample_codes(x, 25.0, 50.0, num_frames=3).shape == (3, CODE_DIM)
    with pytest.raises(ValueError, match=r"\(T, 61\)"):
        resample_codes(torch.randn(7, 60), 30.0, 25.0)
    with pytest.raises(ValueError, match="timestamps"):
        resample_codes(x, num_frames=3)
    with pytest.raises(ValueError, match="positive"):
        resample_codes(x, src_fps=0.0, dst_fps=25.0)


# --- normalisation --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    records = make_records(14, num_sources=4, seed=5)
    for rec in make_records(1, num_sources=1, seed=6, prefix="lonely"):  # a source with a single clip
        records.append(rec)
    records[3].codes[:, 10] = 0.25  # a constant dimension in one clip is fine; make it constant everywhere:
    for rec in records:
        rec.codes[:, 10] = 0.25
    return records, write_corpus(tmp_path_factory.mktemp("ds") / "c", records, shard_size_mb=0.1)


def test_normalizer_fit_and_round_trip(corpus, tmp_path):
    records, root = corpus
    reader = CorpusReader(root)
    normalizer = CodeNormalizer.fit(reader, progress=False)
    frames = np.concatenate([r.codes for r in records]).astype(np.float64)
    np.testing.assert_allclose(normalizer.mean.numpy(), frames.mean(0), rtol=1e-5, atol=1e-6)
    expected_std = np.maximum(frames.std(0), 1e-2)
    np.testing.assert_allclose(normalizer.std.numpy(), expected_std, rtol=1e-5, atol=1e-6)
    assert normalizer.std[10].item() == pytest.approx(1e-2)  # the floor, not 0

    codes = torch.from_numpy(records[2].codes)
    normed = normalizer.normalize(codes)
    assert normed[:, 10].abs().max() < 1e-5 and normed[:, 0].std() > 0.1
    torch.testing.assert_close(normalizer.denormalize(normed), codes, atol=1e-5, rtol=1e-5)
    all_normed = normalizer.normalize(torch.from_numpy(frames).float())
    assert all_normed[:, :10].mean(0).abs().max() < 1e-4
    assert (all_normed[:, :10].std(0, unbiased=False) - 1).abs().max() < 1e-3

    restored = CodeNormalizer.from_state_dict(normalizer.state_dict())
    assert torch.equal(restored.mean, normalizer.mean) and torch.equal(restored.std, normalizer.std)
    normalizer.save(tmp_path / "stats.json")
    assert torch.equal(CodeNormalizer.load(tmp_path / "stats.json").std, normalizer.std)
    subset = CodeNormalizer.fit(reader, max_clips=5, progress=False)
    assert not torch.equal(subset.mean, normalizer.mean)
    with pytest.raises(ValueError, match="strictly positive"):
        CodeNormalizer(torch.zeros(CODE_DIM), torch.zeros(CODE_DIM))
    with pytest.raises(ValueError, match=r"\(\.\.\., 61\)"):
        normalizer.normalize(torch.zeros(3, 60))


# --- dataset ---------------------------------------------------------------------------------------------------
def _dataset(root, pairing="single", **kwargs):
    reader = CorpusReader(root)
    vocab = Vocab.build(reader.index.text)
    normalizer = CodeNormalizer.fit(reader, progress=False)
    return TalkingHeadDataset(reader, vocab, normalizer, pairing=pairing, **kwargs)


def test_single_items_match_the_corpus(corpus):
    records, root = corpus
    ds = _dataset(root)
    assert len(ds) == len(records)
    assert np.array_equal(ds.lengths(), ds.reader.index.num_mel_frames)
    item = ds[4]
    rec = ds.reader[4]
    assert item["clip_ids"] == [records[4].clip_id] and item["ref_length"] == 0
    assert item["mel"].shape == (rec.mel.shape[0], 100) and item["mel"].dtype == torch.float32
    assert torch.equal(item["mel"], torch.from_numpy(rec.mel))
    expected = ds.normalizer.normalize(codes_to_mel_rate(rec.codes, rec.fps, rec.mel.shape[0]))
    torch.testing.assert_close(item["codes"], expected)
    assert item["text"].tolist() == ds.vocab.encode(tokenize(records[4].text))
    with pytest.raises(IndexError):
        ds[len(records)]


def test_same_video_pairing(corpus):
    records, root = corpus
    ds = _dataset(root, pairing="same_video", seed=3)
    source = ds.reader.index.source_id
    refs = ds.references(epoch=0)
    lonely = len(records) - 1
    assert refs[lonely] == -1  # its source has no other clip
    paired = np.flatnonzero(refs >= 0)
    assert len(paired) == len(records) - 1
    for i in paired:
        assert refs[i] != i and source[int(refs[i])] == source[int(i)]
    lengths = ds.lengths(0)
    for i in (int(paired[0]), int(paired[5]), lonely):
        item = ds[i]
        ref = int(refs[i])
        assert item["length"] == lengths[i] == item["mel"].shape[0] == item["codes"].shape[0]
        if ref >= 0:
            assert item["clip_ids"] == [records[ref].clip_id, records[i].clip_id]
            assert item["ref_length"] == records[ref].num_mel_frames
            assert torch.equal(item["mel"][: item["ref_length"]], torch.from_numpy(ds.reader[ref].mel))
            joined = ds.vocab.encode(tokenize(records[ref].text + " " + records[i].text))
            assert item["text"].tolist() == joined
    # reproducible per (seed, epoch), different across epochs, and keys may carry their epoch
    assert np.array_equal(_dataset(root, pairing="same_video", seed=3).references(0), refs)
    assert not np.array_equal(ds.references(1), refs)
    ds.set_epoch(0)
    assert ds[(int(paired[0]), 1)]["clip_ids"][0] == records[int(ds.references(1)[paired[0]])].clip_id


def test_mixed_pairing_probability_and_frame_cap(corpus):
    records, root = corpus
    ds = _dataset(root, pairing="mixed", pair_prob=0.5, seed=0)
    fractions = [(ds.references(e) >= 0).mean() for e in range(40)]
    assert 0.35 < np.mean(fractions) < 0.6
    cap = int(np.median(ds.reader.index.num_mel_frames)) * 2
    capped = _dataset(root, pairing="same_video", max_frames=cap)
    for e in range(5):
        refs = capped.references(e)
        lengths = capped.lengths(e)
        assert (lengths[refs >= 0] <= cap).all()
    assert (_dataset(root, pairing="single").references(0) == -1).all()


def test_collate_pads_and_validates(corpus):
    _, root = corpus
    ds = _dataset(root, pairing="same_video")
    items = [ds[0], ds[1], ds[len(ds) - 1]]
    batch = collate(items)
    lengths = [it["length"] for it in items]
    frames, symbols = max(lengths), max(len(it["text"]) for it in items)
    assert batch["mel"].shape == (3, frames, 100) and batch["codes"].shape == (3, frames, CODE_DIM)
    assert batch["lengths"].tolist() == lengths and batch["text"].shape == (3, symbols)
    assert batch["ref_lengths"].tolist() == [it["ref_length"] for it in items]
    for b, it in enumerate(items):
        n, m = it["length"], len(it["text"])
        assert torch.equal(batch["mel"][b, :n], it["mel"]) and (batch["mel"][b, n:] == 0).all()
        assert torch.equal(batch["codes"][b, :n], it["codes"]) and (batch["codes"][b, n:] == 0).all()
        assert batch["mask"][b].sum() == n and batch["mask"][b, :n].all()
        assert batch["text"][b, :m].tolist() == it["text"].tolist() and (batch["text"][b, m:] == -1).all()
    assert batch["clip_ids"] == [it["clip_ids"] for it in items]

    bad = dict(items[0], codes=items[0]["codes"][:-1])
    with pytest.raises(ValueError, match="codes must be"):
        collate([items[1], bad])
    with pytest.raises(ValueError, match="empty batch"):
        collate([])


def test_bad_text_names_the_clip(corpus, tmp_path):
    records, _ = corpus
    rec = records[0]
    rec_bad = type(rec)(**{**rec.__dict__, "clip_id": "silent", "text": "   "})
    root = write_corpus(tmp_path / "c", [rec_bad, records[1]])
    reader = CorpusReader(root)
    ds = TalkingHeadDataset(reader, Vocab.build(["hello world"]), CodeNormalizer.identity())
    with pytest.raises(DatasetItemError, match="silent"):
        ds[0]
    with pytest.raises(ValueError, match="pairing"):
        TalkingHeadDataset(reader, None, CodeNormalizer.identity(), pairing="cross")


def test_full_loading_pipeline_with_workers(corpus):
    _, root = corpus
    ds = _dataset(root, pairing="mixed", max_frames=400, seed=1)
    sampler = DynamicFrameBatchSampler(ds.lengths, max_frames=400, max_samples=4, seed=1, tag_epoch=True)
    seen = []
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=2, persistent_workers=False)
        epoch_targets = []
        for batch in loader:
            assert batch["mel"].shape[0] * batch["mel"].shape[1] <= 400
            assert batch["lengths"].max() == batch["mel"].shape[1]
            epoch_targets += [ids[-1] for ids in batch["clip_ids"]]
        fitting = np.flatnonzero(ds.lengths(epoch) <= 400)
        assert sorted(epoch_targets) == sorted(ds.reader.index.clip_id[i] for i in fitting)
        seen.append(epoch_targets)
    assert seen[0] != seen[1]
