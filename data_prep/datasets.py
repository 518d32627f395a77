"""Layouts of the paper's datasets -> the videos to prepare, each with its source-video id and speaker id.

Same-video pairing (`omnitalker.data.dataset`, ``pairing=same_video``) pairs clips with equal ``source_id``, so a
dataset that ships one file per utterance must say which files come from one recording; that comes from the layout
here (paths and metadata only; nothing is decoded). Ids are prefixed with the dataset name so that corpora of
several datasets can be merged. ``speaker_id`` is None where the dataset has no identity labels (then
``speaker_from_source`` in the prep config makes it the source id).

- ``folder``: any videos (folders searched recursively, or .txt lists); every file is its own source.
- ``voxceleb2``: ``[dev|test]/mp4/idXXXXX/<youtube id>/<nnnnn>.mp4`` (face-cropped 224x224, 25 fps, one
  utterance per file, audio inside the mp4). speaker ``voxceleb2/idXXXXX``, source ``voxceleb2/idXXXXX/<youtube
  id>`` (per speaker: an interview with two celebrities is two sources). When an mp4 tree has a sibling ``aac/``
  tree (``dev/aac/idXXXXX/<youtube id>/<nnnnn>.m4a``), that file is recorded as the item's audio, used if the mp4
  has no audio stream. Pointing at the ``aac/`` tree alone is an error (no faces in it).
- ``celebvhq``: the processed clips ``<clip id>.mp4`` (e.g. ``35666/<ytb_id>_<n>.mp4``) or the raw downloads
  ``<ytb_id>.mp4``, plus ``celebvhq_info.json`` (``clips.<clip id>.ytb_id / duration / bbox``; found at the given
  root, next to the videos, or set ``dataset_info=``). source ``celebvhq/<ytb_id>``; no speaker labels. A clip id
  missing from the json falls back to the ``<ytb_id>_<n>`` naming.
- ``talkinghead1kh``: ``<split>/raw_videos/<ytid>.mp4``, ``<split>/1min_clips/<ytid>_<NNNN>.mp4`` (videos_split.sh)
  or ``<split>/cropped_clips/<ytid>_<NNNN>_S<s>_E<e>_L<l>_T<t>_R<r>_B<b>.mp4`` (videos_crop.py). source
  ``talkinghead1kh/<ytid>``; no speaker labels. When several of these forms are present, only one is used
  (1min_clips, else raw_videos, else cropped_clips) so that no footage is prepared twice. NOTE: videos_crop.py
  writes the cropped clips WITHOUT audio (its ffmpeg graph maps only the trimmed video), so those are rejected as
  ``no_audio``; prepare the 1min_clips (full frames with sound) instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
_VOX_SPEAKER = re.compile(r"^id\d{5}$")
_TH_CHUNK = re.compile(r"^(?P<ytid>.+)_(?P<chunk>\d{4})$")
_TH_CROP = re.compile(r"^(?P<ytid>.+)_(?P<chunk>\d{4})_S(\d+)_E(\d+)_L(\d+)_T(\d+)_R(\d+)_B(\d+)$")
_NUMBERED = re.compile(r"^(?P<ytid>.+)_(?P<n>\d+)$")


class LayoutError(ValueError):
    """The inputs do not follow the dataset layout that was asked for (the message names an offending path)."""


@dataclass(frozen=True)
class VideoItem:
    path: Path
    source_id: str | None = None  # None -> the file is its own source (data_prep.process_video.video_id_for)
    speaker_id: str | None = None  # None -> unknown (speaker_from_source then uses the source id)
    audio_path: Path | None = None  # separate audio file, used when the video has no audio stream


@dataclass
class Listing:
    items: list[VideoItem]
    notes: list[str]  # one line each: skipped files, layout choices the user should know about


def _videos(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise LayoutError(f"input {root} does not exist")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


def _skipped(notes: list[str], dataset: str, bad: list[Path], expected: str) -> None:
    if bad:
        notes.append(f"{dataset}: skipped {len(bad)} file(s) not named like {expected}, e.g. {bad[0]}")


def folder(inputs: list[str], info: str | None = None) -> Listing:
    """Plain videos: folders (recursive), .txt lists (one path per line) or files; every file is its own source."""
    videos: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            videos += _videos(item)
        elif item.suffix == ".txt" and item.is_file():
            videos += [Path(line.strip()) for line in item.read_text().splitlines() if line.strip()]
        else:
            videos.append(item)
    return Listing([VideoItem(p) for p in sorted(set(videos))], [])


def voxceleb2(inputs: list[str], info: str | None = None) -> Listing:
    items, bad, notes = [], [], []
    for root in map(Path, inputs):
        videos = [p for p in _videos(root) if p.suffix.lower() == ".mp4"]
        if not videos and root.is_dir() and any(root.rglob("*.m4a")):
            raise LayoutError(
                f"voxceleb2: {root} holds only audio (.m4a, the aac/ tree); point inputs at the mp4/ tree "
                "(e.g. vox2/dev/mp4), its aac/ sibling is picked up automatically"
            )
        for path in videos:
            speaker, youtube = path.parent.parent.name, path.parent.name
            if not _VOX_SPEAKER.match(speaker):
                bad.append(path)
                continue
            audio = None
            tree = path.parents[2]  # .../mp4
            if tree.name == "mp4":
                candidate = tree.parent / "aac" / speaker / youtube / f"{path.stem}.m4a"
                audio = candidate if candidate.is_file() else None
            items.append(VideoItem(path, f"voxceleb2/{speaker}/{youtube}", f"voxceleb2/{speaker}", audio))
    _skipped(notes, "voxceleb2", bad, "idXXXXX/<youtube id>/<n>.mp4")
    return _nonempty(Listing(items, notes), "voxceleb2", inputs, "idXXXXX/<youtube id>/<n>.mp4")


def _celebvhq_info(inputs: list[str], info: str | None) -> dict[str, str]:
    """clip id -> ytb_id from celebvhq_info.json ({} when there is none)."""
    candidates = [Path(info)] if info else []
    for root in map(Path, inputs):
        base = root if root.is_dir() else root.parent
        candidates += [base / "celebvhq_info.json", base.parent / "celebvhq_info.json"]
    for path in candidates:
        if path.is_file():
            try:
                clips = json.loads(path.read_text(encoding="utf-8"))["clips"]
                return {str(k): str(v["ytb_id"]) for k, v in clips.items()}
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise LayoutError(f"celebvhq: {path} is not a celebvhq_info.json ({type(exc).__name__}: {exc})") from exc
        if info and path == Path(info):
            raise LayoutError(f"celebvhq: dataset_info={info} does not exist")
    return {}


def celebvhq(inputs: list[str], info: str | None = None) -> Listing:
    clip_to_video = _celebvhq_info(inputs, info)
    known_videos = set(clip_to_video.values())
    notes = [] if clip_to_video else ["celebvhq: no celebvhq_info.json found; source ids come from <ytb_id>_<n>.mp4"]
    items, bad, unlisted = [], [], 0
    for root in map(Path, inputs):
        for path in _videos(root):
            ytb = clip_to_video.get(path.stem)
            if ytb is None and path.stem in known_videos:  # a raw download <ytb_id>.mp4
                ytb = path.stem
            if ytb is None:
                match = _NUMBERED.match(path.stem)
                if match is None:
                    bad.append(path)
                    continue
                ytb, unlisted = match["ytid"], unlisted + bool(clip_to_video)
            items.append(VideoItem(path, f"celebvhq/{ytb}"))
    if unlisted:
        notes.append(f"celebvhq: {unlisted} clip(s) not in celebvhq_info.json; source id taken from the file name")
    _skipped(notes, "celebvhq", bad, "<ytb_id>_<n>.mp4 or a ytb_id of celebvhq_info.json")
    return _nonempty(Listing(items, notes), "celebvhq", inputs, "<ytb_id>_<n>.mp4")


def talkinghead1kh(inputs: list[str], info: str | None = None) -> Listing:
    kinds: dict[str, list[VideoItem]] = {"1min_clips": [], "raw_videos": [], "cropped_clips": []}
    bad: list[Path] = []
    for root in map(Path, inputs):
        for path in _videos(root):
            crop, chunk = _TH_CROP.match(path.stem), _TH_CHUNK.match(path.stem)
            if crop:
                kinds["cropped_clips"].append(VideoItem(path, f"talkinghead1kh/{crop['ytid']}"))
            elif chunk and path.parent.name != "raw_videos":
                kinds["1min_clips"].append(VideoItem(path, f"talkinghead1kh/{chunk['ytid']}"))
            elif path.parent.name == "raw_videos":
                kinds["raw_videos"].append(VideoItem(path, f"talkinghead1kh/{path.stem}"))
            else:
                bad.append(path)
    notes: list[str] = []
    present = [k for k, v in kinds.items() if v]
    chosen = present[0] if present else "1min_clips"
    if len(present) > 1:
        ignored = ", ".join(f"{k} ({len(kinds[k])})" for k in present[1:])
        notes.append(f"talkinghead1kh: preparing {chosen} ({len(kinds[chosen])} videos); ignoring {ignored}, "
                     "which hold the same footage")
    if chosen == "cropped_clips":
        notes.append("talkinghead1kh: videos_crop.py writes cropped_clips without audio (rejected as no_audio); "
                     "point inputs at <split>/1min_clips to keep the sound")
    _skipped(notes, "talkinghead1kh", bad, "raw_videos/<ytid>.mp4, <ytid>_<NNNN>.mp4 or <ytid>_<NNNN>_S.._B...mp4")
    expected = "raw_videos/<ytid>.mp4, 1min_clips/<ytid>_<NNNN>.mp4 or cropped_clips/<ytid>_<NNNN>_S<s>_..._B<b>.mp4"
    return _nonempty(Listing(kinds[chosen], notes), "talkinghead1kh", inputs, expected)


def _nonempty(listing: Listing, dataset: str, inputs: list[str], expected: str) -> Listing:
    if not listing.items:
        raise LayoutError(f"{dataset}: no video named like {expected} under {', '.join(inputs)}")
    listing.items.sort(key=lambda item: item.path)
    return listing


ADAPTERS: dict[str, Callable[[list[str], str | None], Listing]] = {
    "folder": folder,
    "voxceleb2": voxceleb2,
    "celebvhq": celebvhq,
    "talkinghead1kh": talkinghead1kh,
}


def list_videos(dataset: str, inputs: list[str], info: str | None = None) -> Listing:
    """The videos of `inputs` read with the layout of `dataset` (one of ADAPTERS). LayoutError on a mismatch."""
    if dataset not in ADAPTERS:
        raise LayoutError(f"unknown dataset layout {dataset!r}; choose one of {', '.join(ADAPTERS)}")
    return ADAPTERS[dataset](inputs, info)
