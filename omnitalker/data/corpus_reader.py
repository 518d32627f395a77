"""Random access to a sharded corpus (one root, a list of roots, or a parent directory of sub-corpora).

Opening a corpus reads only the JSON indexes (validated against the checksums in ``index.json``) and stats the
payload files; clip payloads are read on demand with ``os.preadv`` straight into numpy arrays and checked against
their CRC32. File descriptors are opened lazily per process (a reader created before a DataLoader forks, or
pickled into a spawned worker, reopens its files in each worker) and kept in a small LRU cache, so thousands of
shards never exhaust file descriptors.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from omnitalker.constants import CODE_DIM, N_MELS
from omnitalker.data.corpus_index import CorpusIndex
from omnitalker.data.errors import (
    CorpusFormatError,
    CorpusNotFoundError,
    CorruptShardError,
    DuplicateClipError,
    IncompleteCorpusError,
)
from omnitalker.data.record import ClipRecord
from omnitalker.data.shard_format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_SIZE,
    INT16_SCALE,
    PAYLOAD_FIELDS,
    SHARD_PREFIX,
    TOP_INDEX_NAME,
    check_header,
    field_dtype,
)

Verify = Literal["none", "size", "full"]


def find_corpus_roots(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Resolve corpus roots: a directory with ``index.json`` is a root; otherwise every directory below it that has
    one (sorted by path) is, e.g. the per-worker sub-corpora of a parallel data-preparation run."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    roots: list[Path] = []
    for path in map(Path, paths):
        if (path / TOP_INDEX_NAME).is_file():
            roots.append(path)
            continue
        if not path.is_dir():
            raise CorpusNotFoundError(f"no corpus at {path}: not a directory")
        found = sorted(p.parent for p in path.rglob(TOP_INDEX_NAME))
        if not found:
            if any(path.glob(f"{SHARD_PREFIX}*")):
                raise IncompleteCorpusError(f"{path} has shard files but no {TOP_INDEX_NAME}: its writer never "
                                            f"published a shard (crashed or still running)")
            raise CorpusNotFoundError(f"no corpus at {path}: no {TOP_INDEX_NAME} in it or below it")
        roots.extend(found)
    return roots


class CorpusReader:
    """``len(reader)``, ``reader[i] -> ClipRecord``, ``reader.read_arrays(i, fields)`` and ``reader.index``.

    ``verify``: ``"size"`` (default) checks every payload's existence and byte size when the corpus is opened,
    ``"full"`` also its SHA-256 (reads everything), ``"none"`` defers all checks to the first read of each shard.
    Headers are checked when a shard is first opened and each clip's arrays against their CRC32 on every read.
    ``allow_incomplete=True`` accepts the checkpoint index of an unfinished writer (only its published shards).
    """

    def __init__(
        self,
        roots: str | os.PathLike | Sequence[str | os.PathLike],
        verify: Verify = "size",
        allow_incomplete: bool = False,
        check_unique: bool = True,
        max_open_files: int = 64,
    ) -> None:
        if verify not in ("none", "size", "full"):
            raise ValueError(f"verify must be 'none', 'size' or 'full', got {verify!r}")
        self.roots = find_corpus_roots(roots)
        self.max_open_files = max_open_files
        self.info: list[dict[str, Any]] = []
        shard_clips: list[dict[str, Any]] = []
        payloads: list[Path] = []
        audio_dtypes: list[str] = []
        self._shard_sizes: list[int] = []
        self._shard_sha256: list[str] = []
        for root in self.roots:
            top = load_top_index(root, allow_incomplete)
            self.info.append(top)
            for shard in top["shards"]:
                clips = _load_shard_index(root, shard)
                shard_clips.append(clips)
                payloads.append(root / shard["payload"])
                audio_dtypes.append(shard.get("audio_dtype", "float32"))
                self._shard_sizes.append(int(shard["size"]))
                self._shard_sha256.append(shard["sha256"])
        self.index = CorpusIndex.from_shards(shard_clips, payloads, audio_dtypes)
        if check_unique and len(self.roots) > 1:
            _check_unique(self.index)
        if verify != "none":
            self.verify(full=verify == "full")
        self._pid = os.getpid()
        self._files: OrderedDict[int, int] = OrderedDict()

    # --- metadata ---------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index)

    @property
    def num_shards(self) -> int:
        return len(self.index.shard_payloads)

    @property
    def total_hours(self) -> float:
        return self.index.total_hours

    def verify(self, full: bool = False) -> None:
        """Check every payload exists with its recorded size (and SHA-256 when ``full``)."""
        for shard, path in enumerate(self.index.shard_payloads):
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise CorruptShardError(path, "payload file is missing") from None
            if size != self._shard_sizes[shard]:
                raise CorruptShardError(path, f"size {size} bytes, the index records {self._shard_sizes[shard]} "
                                              f"(truncated or overwritten)")
            if full:
                digest = hashlib.sha256()
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 22), b""):
                        digest.update(block)
                if digest.hexdigest() != self._shard_sha256[shard]:
                    raise CorruptShardError(path, "SHA-256 mismatch (content corrupted)")

    # --- payloads ---------------------------------------------------------------------------------------------
    def __getitem__(self, i: int) -> ClipRecord:
        meta = self.index[i]
        arrays = self.read_arrays(i, PAYLOAD_FIELDS)
        return ClipRecord(
            clip_id=meta.clip_id, source_id=meta.source_id, speaker_id=meta.speaker_id, language=meta.language,
            text=meta.text, codes=arrays["codes"], fps=meta.fps, audio=arrays.get("audio"), mel=arrays["mel"],
            video=arrays["video"].tobytes() if "video" in arrays else None, quality=meta.quality, extra=meta.extra,
        )

    def read_arrays(self, i: int, fields: Iterable[str] = ("codes", "mel")) -> dict[str, np.ndarray]:
        """Read only the named payload arrays of clip ``i``: ``codes`` (T_v, 61) float32, ``mel`` (T, 100) float32,
        ``audio`` (samples,) float32, ``video`` (bytes,) uint8. Absent optional arrays are left out of the dict."""
        n = len(self.index)
        if not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise IndexError(f"clip index {i!r} out of range for a corpus of {n} clips")
        i = int(i) % n
        cols = self.index.columns
        shard = int(cols["shard"][i])
        audio_dtype = self.index.shard_audio_dtypes[shard]
        out: dict[str, np.ndarray] = {}
        for field in fields:
            if field not in PAYLOAD_FIELDS:
                raise ValueError(f"unknown payload field {field!r}; choose from {PAYLOAD_FIELDS}")
            offset = int(cols[f"{field}_offset"][i])
            if offset < 0:
                continue
            shape = {
                "codes": (int(cols["num_code_frames"][i]), CODE_DIM),
                "mel": (int(cols["num_mel_frames"][i]), N_MELS),
                "audio": (int(cols["num_samples"][i]),),
                "video": (int(cols["video_nbytes"][i]),),
            }[field]
            array = np.empty(shape, dtype=field_dtype(field, audio_dtype))
            self._read_into(shard, offset, array, int(cols[f"{field}_crc32"][i]), field, i)
            if field == "mel":
                array = array.astype(np.float32)
            elif field == "audio" and audio_dtype == "int16":
                array = array.astype(np.float32) / INT16_SCALE
            out[field] = array
        return out

    def _read_into(self, shard: int, offset: int, array: np.ndarray, crc: int, field: str, i: int) -> None:
        fd = self._fd(shard)
        path = self.index.shard_payloads[shard]
        view = memoryview(array).cast("B")
        try:
            got = os.preadv(fd, [view], offset) if array.nbytes else 0
        except OSError as e:
            raise CorruptShardError(path, f"cannot read clip {self.index.clip_id[i]!r} {field}: {e}") from e
        if got != array.nbytes:
            raise CorruptShardError(path, f"truncated: clip {self.index.clip_id[i]!r} {field} needs bytes "
                                          f"[{offset}, {offset + array.nbytes}) but only {got} could be read")
        if zlib.crc32(view) != crc:
            raise CorruptShardError(path, f"checksum mismatch in clip {self.index.clip_id[i]!r} {field}")

    def _fd(self, shard: int) -> int:
        if os.getpid() != self._pid:  # forked into a DataLoader worker: never share the parent's descriptors
            self._files = OrderedDict()
            self._pid = os.getpid()
        fd = self._files.get(shard)
        if fd is not None:
            self._files.move_to_end(shard)
            return fd
        path = self.index.shard_payloads[shard]
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise CorruptShardError(path, "payload file is missing") from None
        try:
            problem = check_header(os.pread(fd, HEADER_SIZE, 0))
            size = os.fstat(fd).st_size
            if problem is None and size != self._shard_sizes[shard]:
                problem = f"size {size} bytes, the index records {self._shard_sizes[shard]} (truncated?)"
            if problem is not None:
                raise CorruptShardError(path, problem)
        except BaseException:
            os.close(fd)
            raise
        self._files[shard] = fd
        while len(self._files) > self.max_open_files:
            _, old = self._files.popitem(last=False)
            os.close(old)
        return fd

    def close(self) -> None:
        if os.getpid() == self._pid:
            for fd in self._files.values():
                os.close(fd)
        self._files = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_files"] = OrderedDict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self) -> CorpusReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_top_index(root: Path, allow_incomplete: bool) -> dict[str, Any]:
    path = root / TOP_INDEX_NAME
    try:
        top = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CorpusFormatError(f"cannot read corpus index {path}: {e}") from e
    if not isinstance(top, dict) or top.get("format") != FORMAT_NAME:
        raise CorpusFormatError(f"{path} is not an {FORMAT_NAME} index")
    if top.get("version") != FORMAT_VERSION:
        raise CorpusFormatError(f"{path} has format version {top.get('version')!r}; this code reads "
                                f"version {FORMAT_VERSION}")
    if not top.get("complete", False) and not allow_incomplete:
        raise IncompleteCorpusError(f"{path} is a checkpoint of an unfinished writer ({len(top['shards'])} shards "
                                    f"published); resume it with CorpusWriter(mode='a') or pass allow_incomplete=True")
    return top


def _load_shard_index(root: Path, shard: dict[str, Any]) -> dict[str, Any]:
    path = root / shard["index"]
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorruptShardError(path, "shard index is missing") from None
    if hashlib.sha256(data).hexdigest() != shard["index_sha256"]:
        raise CorruptShardError(path, "shard index SHA-256 does not match index.json")
    try:
        content = json.loads(data)
    except ValueError as e:
        raise CorruptShardError(path, f"shard index is not valid JSON ({e})") from e
    clips = content["clips"]
    if len(clips["clip_id"]) != shard["num_clips"]:
        raise CorruptShardError(path, f"{len(clips['clip_id'])} clips, index.json says {shard['num_clips']}")
    return clips


def _check_unique(index: CorpusIndex) -> None:
    seen: dict[str, int] = {}
    for i, clip_id in enumerate(index.clip_id):
        if clip_id in seen:
            first, second = index[seen[clip_id]].shard_path, index[i].shard_path
            raise DuplicateClipError(f"clip_id {clip_id!r} occurs in {first} and in {second}")
        seen[clip_id] = i
