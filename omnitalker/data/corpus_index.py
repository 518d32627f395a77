"""Columnar, fork-friendly in-memory view of every clip's metadata (no payload is ever read to build it).

Numbers live in numpy arrays and strings in one packed UTF-8 buffer per column, so millions of clips cost a few
hundred MB at most and DataLoader workers forked from the parent do not copy the index page by page (a list of
Python strings would be touched by reference counting and duplicated in every worker).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from omnitalker.data.shard_format import FLOAT_COLUMNS, INT_COLUMNS, STRING_COLUMNS


class StringColumn:
    """Immutable sequence of ``str | None`` stored as one UTF-8 buffer plus offsets."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray, none_mask: np.ndarray | None = None) -> None:
        self._data = data  # (total_bytes,) uint8
        self._offsets = offsets  # (n + 1,) int64
        self._none = none_mask  # (n,) bool or None when no entry is None

    @classmethod
    def from_list(cls, values: Sequence[str | None]) -> StringColumn:
        encoded = [b"" if v is None else v.encode("utf-8") for v in values]
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        none = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
        return cls(data, offsets, none if none.any() else None)

    @classmethod
    def concat(cls, columns: Sequence[StringColumn]) -> StringColumn:
        if not columns:
            return cls.from_list([])
        data = np.concatenate([c._data for c in columns])
        starts = np.cumsum([0] + [len(c._data) for c in columns[:-1]])
        shifted = [c._offsets[:-1] + s for c, s in zip(columns, starts, strict=True)]
        offsets = np.concatenate(shifted + [np.array([len(data)])])
        if any(c._none is not None for c in columns):
            none = np.concatenate([c._none if c._none is not None else np.zeros(len(c), bool) for c in columns])
        else:
            none = None
        return cls(data, offsets.astype(np.int64), none)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i: int) -> str | None:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} entries")
        i %= n
        if self._none is not None and self._none[i]:
            return None
        return self._data[self._offsets[i]:self._offsets[i + 1]].tobytes().decode("utf-8")

    def __iter__(self) -> Iterator[str | None]:
        return (self[i] for i in range(len(self)))

    def tolist(self) -> list[str | None]:
        return list(self)


@dataclass
class ClipMeta:
    """Lightweight metadata of one clip, read from the index only."""

    clip_id: str
    source_id: str
    speaker_id: str | None
    language: str
    text: str
    fps: float
    duration: float
    num_code_frames: int
    num_mel_frames: int
    num_samples: int  # 0 when the clip has no stored audio
    video_nbytes: int  # 0 when the clip has no stored video
    shard: int  # position in CorpusIndex.shard_payloads
    shard_path: Path
    quality: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_audio(self) -> bool:
        return self.num_samples > 0

    @property
    def has_video(self) -> bool:
        return self.video_nbytes > 0


class CorpusIndex:
    """Per-clip metadata of a whole (possibly multi-root) corpus as columns.

    Columns: ``clip_id``, ``source_id``, ``speaker_id``, ``language``, ``text`` (:class:`StringColumn`);
    ``fps``, ``duration`` (float64); ``num_code_frames``, ``num_mel_frames``, ``num_samples``, ``video_nbytes``,
    ``shard`` and the payload offsets/checksums (int64); ``quality[key]`` (float64, NaN where a clip lacks the key).
    """

    def __init__(self, columns: dict[str, Any], quality: dict[str, np.ndarray], shard_payloads: list[Path],
                 shard_audio_dtypes: list[str]) -> None:
        self.columns = columns
        self.quality = quality
        self.shard_payloads = shard_payloads
        self.shard_audio_dtypes = shard_audio_dtypes
        self._row_of_clip: dict[str, int] | None = None
        self._source_codes: np.ndarray | None = None

    # --- construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_shards(cls, shards: Sequence[dict[str, Any]], payloads: list[Path],
                    audio_dtypes: list[str]) -> CorpusIndex:
        """Concatenate decoded shard-index ``clips`` dicts (one per payload, in order)."""
        columns: dict[str, Any] = {}
        for name in STRING_COLUMNS + ("extra",):
            columns[name] = StringColumn.concat([_strings(name, s) for s in shards])
        for name in INT_COLUMNS:
            columns[name] = _concat_numbers(shards, name, np.int64)
        for name in FLOAT_COLUMNS:
            columns[name] = _concat_numbers(shards, name, np.float64)
        counts = [len(s["clip_id"]) for s in shards]
        columns["shard"] = np.repeat(np.arange(len(shards), dtype=np.int64), counts)
        keys = sorted({k for s in shards for k in s.get("quality", {})})
        quality = {}
        for key in keys:
            parts = []
            for s, n in zip(shards, counts, strict=True):
                values = s.get("quality", {}).get(key)
                parts.append(np.full(n, np.nan) if values is None else
                             np.array([np.nan if v is None else v for v in values], dtype=np.float64))
            quality[key] = np.concatenate(parts) if parts else np.zeros(0)
        return cls(columns, quality, payloads, audio_dtypes)

    # --- access -------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.columns["clip_id"])

    def __getattr__(self, name: str) -> Any:
        columns = self.__dict__.get("columns")
        if columns is not None and name in columns:
            return columns[name]
        raise AttributeError(f"CorpusIndex has no column {name!r}")

    def __getitem__(self, i: int) -> ClipMeta:
        n = len(self)
        if not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise IndexError(f"clip index {i!r} out of range for a corpus of {n} clips")
        i = int(i) % n
        c = self.columns
        quality = {k: float(v[i]) for k, v in self.quality.items() if not np.isnan(v[i])}
        extra_text = c["extra"][i]
        return ClipMeta(
            clip_id=c["clip_id"][i], source_id=c["source_id"][i], speaker_id=c["speaker_id"][i],
            language=c["language"][i], text=c["text"][i], fps=float(c["fps"][i]), duration=float(c["duration"][i]),
            num_code_frames=int(c["num_code_frames"][i]), num_mel_frames=int(c["num_mel_frames"][i]),
            num_samples=int(c["num_samples"][i]), video_nbytes=int(c["video_nbytes"][i]),
            shard=int(c["shard"][i]), shard_path=self.shard_payloads[int(c["shard"][i])],
            quality=quality, extra=json.loads(extra_text) if extra_text else {},
        )

    def __iter__(self) -> Iterator[ClipMeta]:
        return (self[i] for i in range(len(self)))

    def position(self, clip_id: str) -> int:
        """Row of ``clip_id`` (KeyError if absent); the lookup table is built on first use."""
        if self._row_of_clip is None:
            self._row_of_clip = {cid: i for i, cid in enumerate(self.columns["clip_id"])}
        return self._row_of_clip[clip_id]

    def source_codes(self) -> np.ndarray:
        """(num_clips,) int64: equal values <=> equal ``source_id`` (computed once)."""
        if self._source_codes is None:
            _, inverse = np.unique(np.array(self.columns["source_id"].tolist(), dtype=object), return_inverse=True)
            self._source_codes = inverse.astype(np.int64).reshape(-1)
        return self._source_codes

    @property
    def total_hours(self) -> float:
        return float(self.columns["duration"].sum()) / 3600.0


def _strings(name: str, shard: dict[str, Any]) -> StringColumn:
    values = shard.get(name)
    if values is None:
        values = [""] * len(shard["clip_id"])
    if name == "extra":
        values = ["" if not v else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values]
    return StringColumn.from_list(values)


def _concat_numbers(shards: Sequence[dict[str, Any]], name: str, dtype: type) -> np.ndarray:
    if not shards:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([np.asarray(s[name], dtype=dtype).reshape(-1) for s in shards])
