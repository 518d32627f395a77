"""Corpus writer/reader: round trip, random access, integrity errors, atomicity, multi-root, workers."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from corpus_factory import make_record, make_records, write_corpus
from torch.utils.data import DataLoader, Dataset

from omnitalker.audio.mel import log_mel
from omnitalker.data.corpus import (
    ClipValidationError,
    CorpusExistsError,
    CorpusNotFoundError,
    CorpusReader,
    CorpusWriter,
    CorruptShardError,
    DuplicateClipError,
    IncompleteCorpusError,
    merge_corpora,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def records():
    recs = make_records(12, num_sources=3, seed=1)
    recs[5].video = b"\x00\x00\x00\x18ftypmp42-fake-video-bytes"
    recs[7].speaker_id = None
    recs[8].quality = {}
    rng = np.random.default_rng(2)
    recs.append(make_record(rng, "melonly", "clip-src0", with_audio=False))
    return recs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, records):
    return write_corpus(tmp_path_factory.mktemp("corpus") / "c", records, shard_size_mb=0.05)


def test_round_trip_values(corpus, records):
    reader = CorpusReader(corpus, verify="full")
    assert len(reader) == len(records)
    assert reader.num_shards > 3  # small shards: the corpus really is split
    for i, rec in enumerate(records):
        got = reader[i]
        assert got.clip_id == rec.clip_id and got.source_id == rec.source_id and got.speaker_id == rec.speaker_id
        assert got.text == rec.text and got.language == rec.language and got.fps == rec.fps
        np.testing.assert_array_equal(got.codes, rec.codes)
        assert got.codes.dtype == np.float32 and got.mel.dtype == np.float32
        if rec.audio is not None:
            np.testing.assert_array_equal(got.audio, rec.audio)
            expected_mel = log_mel(torch.from_numpy(rec.audio))[0].numpy()
        else:
            assert got.audio is None
            expected_mel = rec.mel
        assert got.mel.shape == expected_mel.shape
        np.testing.assert_allclose(got.mel, expected_mel, atol=4e-3, rtol=0)  # float16 storage
        assert got.video == rec.video
        assert got.quality == pytest.approx(rec.quality)
        assert got.extra == rec.extra
        assert got.duration == pytest.approx(rec.duration)


def test_random_access_and_index_metadata(corpus, records):
    reader = CorpusReader(corpus)
    order = np.random.default_rng(0).permutation(len(records))
    for i in order:
        assert reader[int(i)].clip_id == records[i].clip_id
    index = reader.index
    assert index.clip_id.tolist() == [r.clip_id for r in records]
    assert index.num_mel_frames.tolist() == [r.num_mel_frames for r in records]
    assert index.num_code_frames.tolist() == [r.codes.shape[0] for r in records]
    np.testing.assert_allclose(index.duration, [r.duration for r in records])
    assert index[7].speaker_id is None and index[3].speaker_id == records[3].speaker_id
    assert index[5].has_video and not index[4].has_video
    assert not index[len(records) - 1].has_audio
    assert np.isnan(index.quality["dnsmos_ovrl"][8]) and index[8].quality == {}
    assert index.position("clip0004") == 4
    assert reader[-1].clip_id == records[-1].clip_id
    with pytest.raises(IndexError):
        reader[len(records)]
    arrays = reader.read_arrays(2, ("codes",))
    assert set(arrays) == {"codes"}
    few_files = CorpusReader(corpus, max_open_files=2)  # LRU of descriptors: shards reopen transparently
    for i in list(range(len(records))) * 2:
        np.testing.assert_array_equal(few_files.read_arrays(i, ("codes",))["codes"], records[i].codes)
    assert len(few_files._files) == 2


def test_index_access_does_not_read_payloads(tmp_path, records):
    root = write_corpus(tmp_path / "c", records[:6], shard_size_mb=0.05)
    for payload in root.glob("*.bin"):  # same size, garbage content: only a payload read can notice
        payload.write_bytes(b"\xff" * payload.stat().st_size)
    reader = CorpusReader(root)  # default verify="size" passes
    assert reader.index.clip_id.tolist() == [r.clip_id for r in records[:6]]
    assert reader.index[3].text == records[3].text
    assert reader.index.num_mel_frames.sum() > 0
    with pytest.raises(CorruptShardError, match=r"shard-\d+\.bin.*bad magic"):
        reader[0]


def test_truncated_shard_is_named(tmp_path, records):
    root = write_corpus(tmp_path / "c", records[:6], shard_size_mb=0.05)
    victim = sorted(root.glob("*.bin"))[1]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptShardError) as excinfo:
        CorpusReader(root)
    assert excinfo.value.path == victim and victim.name in str(excinfo.value)
    reader = CorpusReader(root, verify="none")  # deferred checks still catch it at read time
    first_in_victim = int(np.flatnonzero(reader.index.shard == 1)[0])
    with pytest.raises(CorruptShardError, match=victim.name):
        reader[first_in_victim]
    reader[0]  # other shards stay readable


def test_byte_flip_is_detected(tmp_path, records):
    root = write_corpus(tmp_path / "c", records[:6], shard_size_mb=0.05)
    reader = CorpusReader(root)
    meta = reader.index[2]
    offset = int(reader.index.mel_offset[2]) + 10
    data = bytearray(meta.shard_path.read_bytes())
    data[offset] ^= 0x40
    meta.shard_path.write_bytes(bytes(data))
    reader = CorpusReader(root)  # size unchanged: opening succeeds
    with pytest.raises(CorruptShardError, match=rf"{meta.shard_path.name}.*clip0002.*mel"):
        reader[2]
    assert reader.read_arrays(2, ("codes",))["codes"].shape == records[2].codes.shape  # other arrays fine
    with pytest.raises(CorruptShardError, match="SHA-256"):
        reader.verify(full=True)


def test_corrupt_shard_index_is_named(tmp_path, records):
    root = write_corpus(tmp_path / "c", records[:4], shard_size_mb=0.05)
    shard_index = root / "shard-000001.json"
    content = json.loads(shard_index.read_text())
    content["clips"]["text"][0] = "tampered"
    shard_index.write_text(json.dumps(content))
    with pytest.raises(CorruptShardError, match="shard-000001.json"):
        CorpusReader(root)
    shard_index.unlink()
    with pytest.raises(CorruptShardError, match="shard-000001.json.*missing"):
        CorpusReader(root)


def test_writer_failure_leaves_no_complete_corpus(tmp_path, records):
    root = tmp_path / "c"
    with pytest.raises(RuntimeError, match="boom"), CorpusWriter(root, shard_size_mb=100, fsync=False) as writer:
        writer.add(records[0])
        raise RuntimeError("boom")
    assert not (root / "index.json").exists()
    assert not list(root.glob("shard-*")) and not (root / ".writer.lock").exists()
    with pytest.raises(CorpusNotFoundError):
        CorpusReader(root)

    # a crash after some shards were published leaves a resumable checkpoint, never a complete corpus
    with pytest.raises(RuntimeError, match="boom"), CorpusWriter(root, shard_size_mb=0.15, fsync=False) as writer:
        for rec in records[:5]:
            writer.add(rec)
        raise RuntimeError("boom")
    assert json.loads((root / "index.json").read_text())["complete"] is False
    with pytest.raises(IncompleteCorpusError, match="unfinished"):
        CorpusReader(root)
    partial = CorpusReader(root, allow_incomplete=True)
    published = partial.index.clip_id.tolist()
    assert 0 < len(published) < 5 and published == [r.clip_id for r in records[: len(published)]]
    assert not list(root.glob("*.tmp"))

    with pytest.raises(CorpusExistsError):
        CorpusWriter(root, mode="w")
    with CorpusWriter(root, mode="a", shard_size_mb=0.05, fsync=False) as writer:  # resume
        assert writer.clip_ids == set(published)
        for rec in records[:8]:
            if rec.clip_id not in writer.clip_ids:
                writer.add(rec)
    reader = CorpusReader(root, verify="full")
    assert reader.index.clip_id.tolist() == [r.clip_id for r in records[:8]]
    np.testing.assert_array_equal(reader[6].codes, records[6].codes)


def test_writer_validation_errors(tmp_path, records):
    rng = np.random.default_rng(3)
    with CorpusWriter(tmp_path / "c", fsync=False) as writer:
        writer.add(records[0])
        with pytest.raises(DuplicateClipError, match="clip0000"):
            writer.add(records[0])
        bad = make_record(rng, "bad", "s")
        bad.codes = bad.codes[:, :60]
        with pytest.raises(ClipValidationError, match=r"'bad'.*codes must have shape \(frames, 61\)"):
            writer.add(bad)
        bad = make_record(rng, "nan", "s")
        bad.codes[0, 0] = np.nan
        with pytest.raises(ClipValidationError, match="NaN"):
            writer.add(bad)
        bad = make_record(rng, "short", "s", seconds=1.0)
        bad.codes = bad.codes[:10]
        with pytest.raises(ClipValidationError, match="codes last"):
            writer.add(bad)
        bad = make_record(rng, "nothing", "s")
        bad.audio = None
        with pytest.raises(ClipValidationError, match="at least one of audio and mel"):
            writer.add(bad)
        with pytest.raises(ClipValidationError, match="source_id"):
            writer.add(make_record(rng, "x", ""))
        bad = make_record(rng, "extra", "s")
        bad.extra = {"array": np.zeros(2)}
        with pytest.raises(ClipValidationError, match="JSON"):
            writer.add(bad)
    assert len(CorpusReader(tmp_path / "c")) == 1  # rejected clips left nothing behind


def test_int16_audio_option(tmp_path, records):
    root = write_corpus(tmp_path / "c", records[:3], audio_dtype="int16")
    reader = CorpusReader(root)
    np.testing.assert_allclose(reader[1].audio, records[1].audio, atol=1 / 32767 / 2 + 1e-7)
    loud = make_record(np.random.default_rng(4), "loud", "s")
    loud.audio = loud.audio * 50
    with CorpusWriter(tmp_path / "d", audio_dtype="int16", fsync=False) as writer:
        with pytest.raises(ClipValidationError, match="peak"):
            writer.add(loud)


def test_missing_and_half_written_roots(tmp_path):
    with pytest.raises(CorpusNotFoundError):
        CorpusReader(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusNotFoundError):
        CorpusReader(tmp_path / "empty")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "shard-000000.bin.tmp").write_bytes(b"partial")
    with pytest.raises(IncompleteCorpusError):
        CorpusReader(tmp_path / "half")


def test_parallel_sub_corpora_read_and_merge(tmp_path):
    parent = tmp_path / "train"
    parts = [make_records(5, seed=s, prefix=f"w{s}-") for s in range(3)]
    for s, recs in enumerate(parts):
        write_corpus(parent / f"worker-{s:03d}", recs, shard_size_mb=0.05)
    every = [r for recs in parts for r in recs]
    reader = CorpusReader(parent)
    assert len(reader.roots) == 3 and reader.index.clip_id.tolist() == [r.clip_id for r in every]
    np.testing.assert_array_equal(reader[7].codes, every[7].codes)
    explicit = CorpusReader([parent / "worker-002", parent / "worker-000"])
    assert explicit.index.clip_id[0] == parts[2][0].clip_id

    merged = merge_corpora(parent, tmp_path / "merged")
    merged_reader = CorpusReader(merged, verify="full")
    assert merged_reader.index.clip_id.tolist() == [r.clip_id for r in every]
    assert json.loads((merged / "index.json").read_text())["num_clips"] == 15
    for i in (0, 6, 14):
        np.testing.assert_array_equal(merged_reader[i].codes, every[i].codes)
        np.testing.assert_array_equal(merged_reader[i].audio, every[i].audio)

    write_corpus(parent / "worker-dup", parts[0][:1])
    with pytest.raises(DuplicateClipError, match="w0-0000"):
        CorpusReader(parent)
    with pytest.raises(DuplicateClipError):
        merge_corpora(parent, tmp_path / "merged2")
    assert not (tmp_path / "merged2" / "index.json").exists()


def test_one_writer_per_root(tmp_path):
    writer = CorpusWriter(tmp_path / "c", fsync=False)
    with pytest.raises(CorpusExistsError, match="writer.lock"):
        CorpusWriter(tmp_path / "c", fsync=False)
    writer.close()
    assert len(CorpusReader(tmp_path / "c")) == 0


class _ClipCodes(Dataset):
    def __init__(self, reader: CorpusReader) -> None:
        self.reader = reader

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, i: int):
        arrays = self.reader.read_arrays(i, ("codes", "mel"))
        return i, torch.from_numpy(arrays["codes"]).sum(), torch.from_numpy(arrays["mel"]).sum()


def test_many_worker_dataloader(corpus, records):
    reader = CorpusReader(corpus)
    reader[0]  # the parent opens descriptors before forking; workers must not share them
    assert len(pickle.loads(pickle.dumps(reader))) == len(reader)
    loader = DataLoader(_ClipCodes(reader), batch_size=None, shuffle=True, num_workers=2,
                        generator=torch.Generator().manual_seed(0))
    seen = {}
    for i, code_sum, mel_sum in loader:
        seen[int(i)] = (float(code_sum), float(mel_sum))
    assert sorted(seen) == list(range(len(records)))
    for i, (code_sum, mel_sum) in seen.items():
        arrays = reader.read_arrays(i, ("codes", "mel"))
        assert code_sum == pytest.approx(float(arrays["codes"].sum()), rel=1e-5)
        assert mel_sum == pytest.approx(float(arrays["mel"].sum()), rel=1e-5)


def test_code_audio_duration_mismatch_is_trimmed_by_time_or_refused(tmp_path):
    """More than one code frame of mismatch is never stored for the dataset to stretch: the longer stream is cut to
    the common duration (a prefix: nothing is resampled), or the clip is refused with both durations named."""
    rng = np.random.default_rng(9)
    near = make_record(rng, "near", "s", seconds=1.0)  # 24000 samples, 30 codes
    near.codes = np.concatenate([near.codes, near.codes[-1:]])  # one code frame too many: stored as is
    long_codes = make_record(rng, "long_codes", "s", seconds=1.0)
    long_codes.codes = np.concatenate([long_codes.codes, long_codes.codes[:5]])  # 35 codes = 1.167 s
    long_audio = make_record(rng, "long_audio", "s", seconds=1.2)  # 28800 samples
    long_audio.codes = long_audio.codes[:30]  # 1.0 s of codes
    long_mel = make_record(rng, "long_mel", "s", seconds=1.2, with_audio=False)
    long_mel.codes = long_mel.codes[:30]
    with CorpusWriter(tmp_path / "c", fsync=False) as writer:
        for record in (near, long_codes, long_audio, long_mel):
            writer.add(record)
    reader = CorpusReader(tmp_path / "c")
    stored = {reader.index.clip_id[i]: reader[i] for i in range(len(reader))}
    assert stored["near"].codes.shape[0] == 31 and "duration_trim" not in stored["near"].extra
    np.testing.assert_array_equal(stored["long_codes"].codes, long_codes.codes[:30])
    assert stored["long_codes"].audio.shape[0] == 24000
    assert stored["long_codes"].extra["duration_trim"]["code_frames"] == 5
    assert stored["long_codes"].extra["start_s"] == 1.5  # the record's own provenance is kept
    assert stored["long_audio"].audio.shape[0] == 24000 and stored["long_audio"].mel.shape[0] == 24000 // 256 + 1
    np.testing.assert_array_equal(stored["long_audio"].audio, long_audio.audio[:24000])
    assert stored["long_audio"].extra["duration_trim"]["audio_samples"] == 4800
    np.testing.assert_array_equal(stored["long_mel"].mel, long_mel.mel[:24000 // 256 + 1].astype(np.float16))
    assert long_audio.audio.shape[0] == 28800, "the caller's record is not modified"

    strict = make_record(rng, "strict", "s", seconds=1.0)
    strict.codes = np.concatenate([strict.codes, strict.codes[:5]])
    too_far = make_record(rng, "too_far", "s", seconds=1.0)
    too_far.codes = np.concatenate([too_far.codes, too_far.codes[:9]])  # 0.3 s
    with CorpusWriter(tmp_path / "d", fsync=False, trim_duration_mismatch=False) as writer:
        with pytest.raises(ClipValidationError, match="'strict'.*more than one code frame apart"):
            writer.add(strict)
        with pytest.raises(ClipValidationError, match=r"'too_far'.*1\.300 s.*1\.000 s.*max_duration_mismatch_s"):
            writer.add(too_far)
