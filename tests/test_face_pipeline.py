"""Data preparation end to end on tiny real inputs: clips written, rejections recorded with reasons, resume."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

from data_prep import prepare
from data_prep.config import PrepConfig
from data_prep.process_video import video_id_for
from data_prep.segment import group_segments
from omnitalker.audio.asr import Segment

MEDIA = SHARED / "media"
SHORT_TALK = MEDIA / "hard" / "vexpress_RD_Radio10_0_clip_0.mp4"  # 2.1 s, one speaker, real speech
SILENT = MEDIA / "hard" / "liveportrait_d19.mp4"  # audio stream of digital silence
pytestmark = pytest.mark.skipif(not SHORT_TALK.is_file(), reason="shared media not available")


def test_grouping_respects_shots_and_durations():
    segs = [
        Segment(0.0, 2.0, "a"),
        Segment(2.2, 4.0, "b"),
        Segment(6.0, 7.0, "c"),
        Segment(7.5, 30.0, "d"),
        Segment(31.0, 33.0, "e"),
    ]
    shots = [(0.0, 5.0), (5.0, 40.0)]
    cands, dropped = group_segments(segs, shots, max_duration=10.0, max_pause=1.0, pad=0.1)
    assert [(c.text, c.shot) for c in cands] == [("a b", 0), ("c", 1), ("e", 1)]
    assert cands[0].start == 0.0 and cands[0].end == pytest.approx(4.1)
    assert [(s.text, r) for s, r in dropped] == [("d", "segment_too_long")]


def _no_audio_copy(src: Path, dst: Path) -> Path:
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        for packet in inp.demux(vin):
            if packet.dts is None:
                continue
            packet.stream = vout
            out.mux(packet)
    return dst


def test_pipeline_writes_rejects_and_resumes(tmp_path, monkeypatch):
    videos = tmp_path / "videos"
    videos.mkdir()
    talk = videos / "talk.mp4"
    talk.write_bytes(SHORT_TALK.read_bytes())
    _no_audio_copy(SHORT_TALK, videos / "mute.mp4")
    (videos / "silent.mp4").symlink_to(SILENT)
    (videos / "broken.mp4").write_bytes(b"\x00" * 100)
    out = tmp_path / "out"
    config = PrepConfig(inputs=[str(videos)], out=str(out))
    config.filters.min_duration_s = 1.0
    monkeypatch.setattr(prepare, "_PROCESSOR", None)
    summary = prepare.run(config)

    assert summary["videos_done"] == 4 and summary["clips"] == 1
    reasons = {}
    for line in (out / "rejections").glob("*.jsonl"):
        for row in map(json.loads, line.read_text().splitlines()):
            reasons[Path(row["video"]).name] = row["reason"]
            assert row["detail"]
    assert reasons == {"mute.mp4": "no_audio", "silent.mp4": "silent_audio", "broken.mp4": "decode_error"}
    for name in ("duration", "text_length", "dnsmos_ovrl", "face_area"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000

    from omnitalker.data.corpus import CorpusReader

    reader = CorpusReader(out / "corpus")
    assert len(reader) == 1
    clip = reader[0]
    assert clip.codes.shape[1] == 61 and clip.codes.shape[0] > 25
    assert clip.codes[:, :51].min() >= 0 and clip.codes[:, :51].max() <= 1
    assert abs(clip.audio.shape[0] / 24000 - clip.codes.shape[0] / clip.fps) < 0.01
    assert clip.text.strip() and clip.language == "en"
    assert clip.quality["fit_error"] < 0.03 and clip.quality["dnsmos_ovrl"] > 1.0
    import av

    with av.open(io.BytesIO(clip.video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == clip.codes.shape[0] and frames[0].shape == (512, 512, 3)

    # re-run: every video has its done-marker -> nothing is processed again
    calls = []
    real_process = prepare._process
    monkeypatch.setattr(prepare, "_process", lambda v, c: calls.append(v) or real_process(v, c))
    prepare.run(config)
    assert calls == []

    # a half-finished video (no done-marker, stale partial sub-corpus) is redone from scratch
    vid = video_id_for(talk)
    (out / "done" / f"{vid}.json").unlink()
    (out / "corpus" / vid / "stale.tmp").write_bytes(b"partial")
    summary = prepare.run(config)
    assert calls == [str(talk)]
    assert not (out / "corpus" / vid / "stale.tmp").exists()
    assert summary["clips"] == 1 and len(CorpusReader(out / "corpus")) == 1
    assert np.isfinite(CorpusReader(out / "corpus")[0].codes).all()


def test_missing_optional_dependency_names_the_pip_package():
    from omnitalker.deps import MissingDependencyError, require

    with pytest.raises(MissingDependencyError, match="pip install not-a-real-package"):
        require("not_a_real_module_xyz", "not-a-real-package", "shot detection")
    assert require("json", "json", "test").dumps([1]) == "[1]"
