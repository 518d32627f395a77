"""Writes clips into a sharded corpus; nothing becomes visible to a reader until it is complete and checksummed.

Each shard is written to ``shard-NNNNNN.bin.tmp`` and published with ``os.replace`` when it reaches
``shard_size_mb``, followed by its columnar ``shard-NNNNNN.json`` index. After every published shard the top-level
``index.json`` is rewritten (atomically) with ``"complete": false`` — a resumable checkpoint that readers refuse by
default — and :meth:`CorpusWriter.close` rewrites it with ``"complete": true``. A writer that raises inside its
``with`` block deletes its unpublished shard and never marks the corpus complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import socket
import time
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np

from omnitalker.constants import CODE_DIM, HOP_LENGTH, MEL_FPS, N_MELS, SAMPLE_RATE
from omnitalker.data.errors import ClipValidationError, CorpusExistsError, CorpusFormatError, DuplicateClipError
from omnitalker.data.record import ClipRecord
from omnitalker.data.shard_format import (
    AUDIO_DTYPES,
    CODES_DTYPE,
    FLOAT_COLUMNS,
    FORMAT_NAME,
    FORMAT_VERSION,
    INT16_SCALE,
    INT_COLUMNS,
    MEL_DTYPE,
    PAYLOAD_SUFFIX,
    SHARD_INDEX_FORMAT_NAME,
    SHARD_INDEX_SUFFIX,
    SHARD_PREFIX,
    STRING_COLUMNS,
    TMP_SUFFIX,
    TOP_INDEX_NAME,
    aligned,
    encode_header,
    shard_name,
)

log = logging.getLogger(__name__)

LOCK_NAME = ".writer.lock"


def write_json_atomic(path: Path, payload: dict[str, Any], fsync: bool = True) -> bytes:
    """Serialise ``payload`` to ``path`` via a temp file in the same directory + ``os.replace``; return the bytes."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with open(tmp, "wb") as f:
        f.write(data)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    return data


class CorpusWriter:
    """Append clips to a corpus at ``root``; use as a context manager (``with CorpusWriter(root) as w: w.add(r)``).

    mode ``"w"`` creates a new corpus (error if ``root`` already has an ``index.json``); mode ``"a"`` appends to an
    existing corpus, complete or checkpointed by a crashed writer (``clip_ids`` then lists what is already stored, so
    a resumed job can skip it). ``audio_dtype="int16"`` halves audio storage (quantisation error <= 1/32767; audio
    outside [-1, 1] is refused). ``store_audio=False`` keeps only the mel (audio is then used to compute it).

    Codes and audio must cover the same time: training places code frame k at ``(k + 0.5) / fps`` and never stretches
    (``omnitalker.data.resample``). A clip whose code and audio durations differ by at most one code frame (plus one
    mel hop of framing) is stored as it is. A larger difference up to ``max_duration_mismatch_s`` is trimmed: the
    longer stream is cut to the common duration (codes to whole frames, audio/mel from the end) and the cut is
    recorded in ``extra["duration_trim"]``; with ``trim_duration_mismatch=False`` it is refused instead. A difference
    beyond ``max_duration_mismatch_s`` is always refused with a :class:`ClipValidationError` naming both durations.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        shard_size_mb: float = 256,
        mode: Literal["w", "a"] = "w",
        audio_dtype: Literal["float32", "int16"] = "float32",
        store_audio: bool = True,
        max_duration_mismatch_s: float = 0.25,
        fsync: bool = True,
        trim_duration_mismatch: bool = True,
        face_model: str | None = None,
    ) -> None:
        if mode not in ("w", "a"):
            raise ValueError(f"mode must be 'w' or 'a', got {mode!r}")
        if audio_dtype not in AUDIO_DTYPES:
            raise ValueError(f"audio_dtype must be one of {sorted(AUDIO_DTYPES)}, got {audio_dtype!r}")
        if not shard_size_mb > 0:
            raise ValueError(f"shard_size_mb must be positive, got {shard_size_mb}")
        self.root = Path(root)
        self.shard_size_bytes = int(shard_size_mb * 2**20)
        self.audio_dtype = audio_dtype
        self.store_audio = store_audio
        if not max_duration_mismatch_s >= 0:
            raise ValueError(f"max_duration_mismatch_s must be >= 0, got {max_duration_mismatch_s}")
        self.max_duration_mismatch_s = max_duration_mismatch_s
        self.trim_duration_mismatch = trim_duration_mismatch
        self.fsync = fsync
        self.face_model = face_model  # id of the face model that fitted the codes (omnitalker.face.fingerprint)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.root / LOCK_NAME
        self._acquire_lock()
        self._closed = False
        self._file = None
        try:
            self._shards: list[dict[str, Any]] = []
            self.clip_ids: set[str] = set()
            self._created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            self._totals = {"num_clips": 0, "total_seconds": 0.0, "total_mel_frames": 0, "total_code_frames": 0}
            self._load_existing(mode)
            self._remove_unpublished()
            self._next_shard = len(self._shards)
        except BaseException:
            self._closed = True
            self._release_lock()
            raise

    # --- public API -------------------------------------------------------------------------------------------
    def __enter__(self) -> CorpusWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def add(self, record: ClipRecord) -> None:
        """Validate ``record`` and append it to the current shard (publishing the shard once it is full)."""
        if self._closed:
            raise RuntimeError("CorpusWriter is closed")
        if not isinstance(record, ClipRecord):
            raise TypeError(f"expected a ClipRecord, got {type(record).__name__}")
        record.validate(math.inf)  # structure first; the durations are reconciled below
        record = self._align_durations(record)
        if record.clip_id in self.clip_ids:
            raise DuplicateClipError(f"clip_id {record.clip_id!r} is already in the corpus at {self.root}")
        arrays = self._encode(record)
        if self._file is None:
            self._open_shard()
        entry = {}
        for field_name in ("codes", "mel", "audio", "video"):
            data = arrays.get(field_name)
            if data is None:
                entry[f"{field_name}_offset"], entry[f"{field_name}_crc32"] = -1, 0
                continue
            entry[f"{field_name}_offset"] = self._write_aligned(data)
            entry[f"{field_name}_crc32"] = zlib.crc32(data)
        self._append_row(record, arrays, entry)
        if self._offset >= self.shard_size_bytes:
            self._publish_shard()

    def close(self) -> None:
        """Publish the last shard and mark the corpus complete (idempotent)."""
        if self._closed:
            return
        try:
            if self._file is not None:
                self._publish_shard()
            self._write_top_index(complete=True)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._release_lock()

    def abort(self) -> None:
        """Drop the unpublished shard; already published shards stay listed in a ``complete: false`` index."""
        if self._closed:
            return
        if self._file is not None:
            self._file.close()
            self._tmp_path.unlink(missing_ok=True)
            self._file = None
        self._closed = True
        self._release_lock()

    @property
    def num_clips(self) -> int:
        return self._totals["num_clips"]

    # --- internals --------------------------------------------------------------------------------------------
    def _align_durations(self, record: ClipRecord) -> ClipRecord:
        """The record as stored: unchanged, trimmed to the common duration, or refused (see the class docstring)."""
        code_s = record.codes.shape[0] / record.fps
        audio_s = record.duration
        mismatch = abs(code_s - audio_s)
        tolerance = 1.0 / record.fps + HOP_LENGTH / SAMPLE_RATE
        if mismatch <= tolerance:
            return record
        what = (f"codes last {code_s:.3f} s ({record.codes.shape[0]} frames at {record.fps} fps) but the audio lasts "
                f"{audio_s:.3f} s")
        if mismatch > self.max_duration_mismatch_s:
            raise ClipValidationError(f"clip {record.clip_id!r}: {what}, a {mismatch:.3f} s mismatch beyond "
                                      f"max_duration_mismatch_s={self.max_duration_mismatch_s}; audio and codes must "
                                      f"come from the same span of the video")
        if not self.trim_duration_mismatch:
            raise ClipValidationError(f"clip {record.clip_id!r}: {what}, more than one code frame apart "
                                      f"(trim_duration_mismatch=False)")
        common = min(code_s, audio_s)
        trim: dict[str, float] = {}
        codes, audio, mel = record.codes, record.audio, record.mel
        if code_s > audio_s:
            keep = max(1, round(common * record.fps))
            trim["code_frames"] = codes.shape[0] - keep
            codes = codes[:keep]
        else:
            from omnitalker.audio.mel import num_mel_frames

            if audio is not None:
                samples = max(1, round(common * SAMPLE_RATE))
                trim["audio_samples"] = audio.shape[0] - samples
                audio = audio[:samples]
                if mel is not None:
                    mel = mel[:num_mel_frames(samples)]
            else:
                frames = num_mel_frames(max(1, round(common * SAMPLE_RATE)))
                trim["mel_frames"] = mel.shape[0] - frames
                mel = mel[:frames]
        trim["seconds"] = round(mismatch, 6)
        log.info("clip %s: %s; trimmed to the common %.3f s (%s)", record.clip_id, what, common, trim)
        trimmed = dataclasses.replace(record, codes=codes, audio=audio, mel=mel,
                                      extra={**record.extra, "duration_trim": trim})
        trimmed.validate(tolerance)
        return trimmed

    def _acquire_lock(self) -> None:
        for _ in range(2):
            try:
                fd = os.open(self._lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self._lock_is_stale():
                    self._lock_path.unlink(missing_ok=True)
                    continue
                raise CorpusExistsError(f"another CorpusWriter holds {self._lock_path}; one writer per root "
                                        f"(parallel workers write separate sub-corpora)") from None
            with os.fdopen(fd, "w") as f:
                json.dump({"host": socket.gethostname(), "pid": os.getpid()}, f)
            return

    def _lock_is_stale(self) -> bool:
        try:
            owner = json.loads(self._lock_path.read_text())
        except (OSError, ValueError):
            return True
        if owner.get("host") != socket.gethostname():
            return False
        try:
            os.kill(int(owner.get("pid", -1)), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError, OverflowError):
            return False
        return False

    def _release_lock(self) -> None:
        self._lock_path.unlink(missing_ok=True)

    def _load_existing(self, mode: str) -> None:
        top = self.root / TOP_INDEX_NAME
        if not top.exists():
            return
        if mode == "w":
            raise CorpusExistsError(f"{top} exists; use mode='a' to append or choose a new root")
        try:
            index = json.loads(top.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise CorpusFormatError(f"cannot append: {top} is unreadable ({e})") from e
        if index.get("format") != FORMAT_NAME or index.get("version") != FORMAT_VERSION:
            raise CorpusFormatError(f"cannot append to {top}: format {index.get('format')!r} version "
                                    f"{index.get('version')!r}, this writer writes {FORMAT_NAME} v{FORMAT_VERSION}")
        if self.face_model != index.get("face_model"):
            raise CorpusFormatError(f"cannot append to {top}: its codes were fitted by face model "
                                    f"{index.get('face_model')!r}, these by {self.face_model!r}")
        self._shards = list(index["shards"])
        self._created = index.get("created", self._created)
        for key in self._totals:
            self._totals[key] = index.get(key, 0)
        for shard in self._shards:
            clips = json.loads((self.root / shard["index"]).read_text(encoding="utf-8"))["clips"]
            self.clip_ids.update(clips["clip_id"])

    def _remove_unpublished(self) -> None:
        """Delete shard files a crashed writer left behind that no index lists (they were never visible)."""
        listed = {s["payload"] for s in self._shards} | {s["index"] for s in self._shards}
        for path in self.root.glob(f"{SHARD_PREFIX}*"):
            if path.name not in listed:
                log.warning("removing unpublished shard file %s left by an interrupted writer", path)
                path.unlink()
        (self.root / (TOP_INDEX_NAME + TMP_SUFFIX)).unlink(missing_ok=True)

    def _open_shard(self) -> None:
        name = shard_name(self._next_shard)
        self._shard_base = name
        self._tmp_path = self.root / (name + PAYLOAD_SUFFIX + TMP_SUFFIX)
        self._file = open(self._tmp_path, "wb")
        self._hash = hashlib.sha256()
        self._offset = 0
        self._rows: dict[str, list[Any]] = {c: [] for c in STRING_COLUMNS + INT_COLUMNS + FLOAT_COLUMNS + ("extra",)}
        self._quality: dict[str, list[float | None]] = {}
        self._write(encode_header())

    def _write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self._hash.update(data)
        self._offset += len(data)

    def _write_aligned(self, data: bytes) -> int:
        pad = aligned(self._offset) - self._offset
        if pad:
            self._write(b"\0" * pad)
        start = self._offset
        self._write(data)
        return start

    def _encode(self, record: ClipRecord) -> dict[str, Any]:
        arrays: dict[str, Any] = {"codes": np.ascontiguousarray(record.codes, dtype=CODES_DTYPE).tobytes()}
        mel = record.mel
        if mel is None:
            import torch

            from omnitalker.audio.mel import log_mel

            mel = log_mel(torch.from_numpy(np.ascontiguousarray(record.audio, dtype=np.float32)))[0].numpy()
        mel16 = np.ascontiguousarray(mel, dtype=MEL_DTYPE)
        if not np.isfinite(mel16).all():
            raise ClipValidationError(f"clip {record.clip_id!r}: mel overflows float16 storage (|value| > 65504); "
                                      f"is it really a log-mel?")
        arrays["mel"] = mel16.tobytes()
        arrays["num_mel_frames"] = mel16.shape[0]
        arrays["num_samples"] = 0
        if record.audio is not None and self.store_audio:
            audio = record.audio
            if self.audio_dtype == "int16":
                peak = float(np.abs(audio).max())
                if peak > 1.0:
                    raise ClipValidationError(f"clip {record.clip_id!r}: audio peak {peak:.3f} exceeds 1.0 and cannot "
                                              f"be stored as int16 without clipping; use audio_dtype='float32'")
                audio = np.round(audio * INT16_SCALE)
            arrays["audio"] = np.ascontiguousarray(audio, dtype=AUDIO_DTYPES[self.audio_dtype]).tobytes()
            arrays["num_samples"] = int(record.audio.shape[0])
        arrays["video"] = bytes(record.video) if record.video else None
        return arrays

    def _append_row(self, record: ClipRecord, arrays: dict[str, Any], entry: dict[str, int]) -> None:
        rows = self._rows
        n_before = len(rows["clip_id"])
        duration = record.duration
        values = {
            "clip_id": record.clip_id, "source_id": record.source_id, "speaker_id": record.speaker_id,
            "language": record.language, "text": record.text, "fps": float(record.fps), "duration": float(duration),
            "num_code_frames": int(record.codes.shape[0]), "num_mel_frames": arrays["num_mel_frames"],
            "num_samples": arrays["num_samples"], "video_nbytes": len(arrays["video"]) if arrays["video"] else 0,
            "extra": record.extra, **entry,
        }
        for key, value in values.items():
            rows[key].append(value)
        for key in record.quality:
            if key not in self._quality:
                self._quality[key] = [None] * n_before
        for key, column in self._quality.items():
            value = record.quality.get(key)
            column.append(None if value is None else float(value))
        self.clip_ids.add(record.clip_id)
        self._totals["num_clips"] += 1
        self._totals["total_seconds"] += float(duration)
        self._totals["total_mel_frames"] += int(arrays["num_mel_frames"])
        self._totals["total_code_frames"] += int(record.codes.shape[0])

    def _publish_shard(self) -> None:
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        payload_name = self._shard_base + PAYLOAD_SUFFIX
        index_name = self._shard_base + SHARD_INDEX_SUFFIX
        size, sha256 = self._offset, self._hash.hexdigest()
        os.replace(self._tmp_path, self.root / payload_name)
        shard_index = {
            "format": SHARD_INDEX_FORMAT_NAME, "version": FORMAT_VERSION, "payload": payload_name, "size": size,
            "sha256": sha256, "audio_dtype": self.audio_dtype, "num_clips": len(self._rows["clip_id"]),
            "clips": {**self._rows, "quality": self._quality},
        }
        index_bytes = write_json_atomic(self.root / index_name, shard_index, self.fsync)
        self._shards.append({
            "name": self._shard_base, "payload": payload_name, "index": index_name,
            "num_clips": shard_index["num_clips"], "size": size, "sha256": sha256,
            "index_sha256": hashlib.sha256(index_bytes).hexdigest(), "audio_dtype": self.audio_dtype,
        })
        self._next_shard += 1
        self._write_top_index(complete=False)

    def _write_top_index(self, complete: bool) -> None:
        write_json_atomic(self.root / TOP_INDEX_NAME, {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "complete": complete,
            "created": self._created, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **self._totals,
            "code_dim": CODE_DIM, "n_mels": N_MELS, "sample_rate": SAMPLE_RATE, "mel_fps": MEL_FPS,
            "mel_dtype": "float16", "codes_dtype": "float32", "face_model": self.face_model,
            "shards": self._shards,
        }, self.fsync)

    def __del__(self) -> None:
        if getattr(self, "_closed", True) is False:
            self.abort()
