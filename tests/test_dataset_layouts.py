"""Dataset layout adapters (data_prep/datasets.py) on tiny fake trees: speaker and source-video ids from the paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_prep import prepare
from data_prep.datasets import LayoutError, list_videos
from data_prep.process_video import VideoProcessor


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_voxceleb2_speaker_and_youtube_video_from_the_path(tmp_path):
    vox = tmp_path / "vox2"
    touch(vox, "dev/mp4/id00012/21Uxsk56VDQ/00001.mp4", "dev/mp4/id00012/21Uxsk56VDQ/00002.mp4",
          "dev/mp4/id00012/_-aB_c-9xYz/00001.mp4", "dev/mp4/id00015/21Uxsk56VDQ/00001.mp4",
          "dev/aac/id00012/21Uxsk56VDQ/00001.m4a", "dev/mp4/README.mp4", "dev/mp4/id00012/notes.txt")
    listing = list_videos("voxceleb2", [str(vox / "dev" / "mp4")])
    by_path = {item.path.relative_to(vox / "dev" / "mp4").as_posix(): item for item in listing.items}
    assert sorted(by_path) == ["id00012/21Uxsk56VDQ/00001.mp4", "id00012/21Uxsk56VDQ/00002.mp4",
                               "id00012/_-aB_c-9xYz/00001.mp4", "id00015/21Uxsk56VDQ/00001.mp4"]
    first = by_path["id00012/21Uxsk56VDQ/00001.mp4"]
    assert (first.source_id, first.speaker_id) == ("voxceleb2/id00012/21Uxsk56VDQ", "voxceleb2/id00012")
    assert first.audio_path == vox / "dev/aac/id00012/21Uxsk56VDQ/00001.m4a"  # the aac/ variant is paired
    assert by_path["id00012/21Uxsk56VDQ/00002.mp4"].audio_path is None
    # same YouTube video, same speaker -> same source; same YouTube video, other speaker -> another source
    assert by_path["id00012/21Uxsk56VDQ/00002.mp4"].source_id == first.source_id
    assert by_path["id00015/21Uxsk56VDQ/00001.mp4"].source_id != first.source_id
    assert any("skipped 1 file" in note and "README.mp4" in note for note in listing.notes)
    # the whole download (dev + test) works too; the aac/ tree alone is an error naming what to pass
    touch(vox, "test/mp4/id00017/01dfn2spqyE/00001.mp4")
    assert len(list_videos("voxceleb2", [str(vox)]).items) == 5
    with pytest.raises(LayoutError, match=r"only audio .*point inputs at the mp4/ tree"):
        list_videos("voxceleb2", [str(vox / "dev" / "aac")])
    with pytest.raises(LayoutError, match="no video named like idXXXXX"):
        list_videos("voxceleb2", [str(vox / "dev" / "mp4" / "id00012" / "notes.txt")])


def test_celebvhq_source_from_info_json_or_clip_name(tmp_path):
    root = tmp_path / "CelebV-HQ"
    info = {"meta_info": {}, "clips": {
        "M2Ohb0FAaJU_1": {"ytb_id": "M2Ohb0FAaJU", "duration": {"start_sec": 3.1, "end_sec": 9.0},
                          "bbox": {"top": 0.1, "bottom": 0.6, "left": 0.3, "right": 0.7}},
        "M2Ohb0FAaJU_2": {"ytb_id": "M2Ohb0FAaJU", "duration": {"start_sec": 20.0, "end_sec": 25.5},
                          "bbox": {"top": 0.1, "bottom": 0.6, "left": 0.3, "right": 0.7}},
        "odd-name": {"ytb_id": "_x-Y_z123ab", "duration": {"start_sec": 0, "end_sec": 4}, "bbox": {}},
    }}
    root.mkdir()
    (root / "celebvhq_info.json").write_text(json.dumps(info))
    touch(root, "35666/M2Ohb0FAaJU_1.mp4", "35666/M2Ohb0FAaJU_2.mp4", "35666/odd-name.mp4",
          "35666/notInJson_7.mp4", "35666/garbage.mp4", "raw/_x-Y_z123ab.mp4")
    listing = list_videos("celebvhq", [str(root / "35666")])
    got = {item.path.name: (item.source_id, item.speaker_id) for item in listing.items}
    assert got == {
        "M2Ohb0FAaJU_1.mp4": ("celebvhq/M2Ohb0FAaJU", None),
        "M2Ohb0FAaJU_2.mp4": ("celebvhq/M2Ohb0FAaJU", None),
        "odd-name.mp4": ("celebvhq/_x-Y_z123ab", None),  # from the json, not from the name
        "notInJson_7.mp4": ("celebvhq/notInJson", None),  # fallback <ytb_id>_<n>
    }
    assert any("1 clip(s) not in celebvhq_info.json" in n for n in listing.notes)
    assert any("skipped 1 file" in n and "garbage.mp4" in n for n in listing.notes)
    raw = list_videos("celebvhq", [str(root / "raw")], str(root / "celebvhq_info.json"))  # raw downloads
    assert [(i.path.name, i.source_id) for i in raw.items] == [("_x-Y_z123ab.mp4", "celebvhq/_x-Y_z123ab")]
    with pytest.raises(LayoutError, match="does not exist"):
        list_videos("celebvhq", [str(root / "35666")], str(root / "missing.json"))
    (root / "celebvhq_info.json").write_text("[1, 2]")
    with pytest.raises(LayoutError, match="is not a celebvhq_info.json"):
        list_videos("celebvhq", [str(root / "35666")])


def test_talkinghead1kh_all_three_namings(tmp_path):
    root = tmp_path / "TalkingHead-1KH"
    touch(root, "train/raw_videos/--Y9imYnfBw.mp4", "train/raw_videos/a_b_c_1234.mp4",
          "train/1min_clips/--Y9imYnfBw_0000.mp4", "train/1min_clips/--Y9imYnfBw_0001.mp4",
          "train/1min_clips/a_b_c_1234_0000.mp4",
          "train/cropped_clips/--Y9imYnfBw_0000_S1020_E1246_L428_T22_R812_B406.mp4")
    clips = list_videos("talkinghead1kh", [str(root / "train" / "1min_clips")])
    assert [(i.path.name, i.source_id, i.speaker_id) for i in clips.items] == [
        ("--Y9imYnfBw_0000.mp4", "talkinghead1kh/--Y9imYnfBw", None),
        ("--Y9imYnfBw_0001.mp4", "talkinghead1kh/--Y9imYnfBw", None),
        ("a_b_c_1234_0000.mp4", "talkinghead1kh/a_b_c_1234", None),  # underscores inside the YouTube id
    ]
    raw = list_videos("talkinghead1kh", [str(root / "train" / "raw_videos")])
    assert [i.source_id for i in raw.items] == ["talkinghead1kh/--Y9imYnfBw", "talkinghead1kh/a_b_c_1234"]
    cropped = list_videos("talkinghead1kh", [str(root / "train" / "cropped_clips")])
    assert [i.source_id for i in cropped.items] == ["talkinghead1kh/--Y9imYnfBw"]
    assert any("without audio" in n for n in cropped.notes)
    whole = list_videos("talkinghead1kh", [str(root)])  # all three present: the 1min_clips only, said so
    assert [i.path.parent.name for i in whole.items] == ["1min_clips"] * 3
    assert any("ignoring raw_videos (2), cropped_clips (1)" in n for n in whole.notes)
    touch(tmp_path, "other/clip.mp4")
    with pytest.raises(LayoutError, match="talkinghead1kh: no video named like"):
        list_videos("talkinghead1kh", [str(tmp_path / "other")])


def test_folder_layout_and_unknown_dataset(tmp_path):
    touch(tmp_path, "a/x.mp4", "a/b/y.MOV", "a/z.txt")
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'a' / 'x.mp4'}\n\n/elsewhere/w.mp4\n")
    listing = list_videos("folder", [str(tmp_path / "a"), str(tmp_path / "list.txt")])
    assert [i.path for i in listing.items] == [Path("/elsewhere/w.mp4"), tmp_path / "a/b/y.MOV", tmp_path / "a/x.mp4"]
    assert all(i.source_id is None and i.speaker_id is None for i in listing.items)
    with pytest.raises(LayoutError, match="unknown dataset layout 'vox'; choose one of folder, voxceleb2"):
        list_videos("vox", [str(tmp_path)])


def test_prepare_passes_the_layout_ids_to_every_video(tmp_path, monkeypatch, capsys):
    vox = tmp_path / "vox2" / "dev" / "mp4"
    touch(vox, "id00012/21Uxsk56VDQ/00001.mp4", "id00012/21Uxsk56VDQ/00002.mp4", "id00020/abcdefghijk/00001.mp4")
    seen = {}

    def fake_process(self, video, source_id=None, speaker_id=None, audio_path=None):
        seen[Path(video).relative_to(vox).as_posix()] = (source_id, speaker_id)
        return real(self, video, source_id=source_id, speaker_id=speaker_id, audio_path=audio_path)

    real = VideoProcessor.process
    monkeypatch.setattr(VideoProcessor, "process", fake_process)
    monkeypatch.setattr(prepare, "_PROCESSOR", None)
    out = tmp_path / "out"
    status = prepare.main(["dataset=voxceleb2", f"inputs=[{vox}]", f"out={out}"])
    assert status == 1  # empty files: every video rejected, nothing accepted
    assert seen == {
        "id00012/21Uxsk56VDQ/00001.mp4": ("voxceleb2/id00012/21Uxsk56VDQ", "voxceleb2/id00012"),
        "id00012/21Uxsk56VDQ/00002.mp4": ("voxceleb2/id00012/21Uxsk56VDQ", "voxceleb2/id00012"),
        "id00020/abcdefghijk/00001.mp4": ("voxceleb2/id00020/abcdefghijk", "voxceleb2/id00020"),
    }
    done = [json.loads(p.read_text()) for p in sorted((out / "done").glob("*.json"))]
    assert sorted(d["source_id"] for d in done) == ["voxceleb2/id00012/21Uxsk56VDQ"] * 2 + [
        "voxceleb2/id00020/abcdefghijk"]
    assert prepare.main(["dataset=celebvhq", f"inputs=[{tmp_path / 'nothing'}]", f"out={tmp_path / 'out2'}"]) == 2
    assert "error: input" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()  # nothing left behind
