"""On-disk layout of a corpus (format version 1); see docs/corpus_format.md for the prose description.

A corpus root holds ``shard-NNNNNN.bin`` payload files, one ``shard-NNNNNN.json`` columnar index per shard and a
top-level ``index.json`` (written last). A payload file is a 64-byte header followed by raw little-endian arrays,
each starting at a 64-byte aligned offset; the shard index records where each clip's arrays live.
"""

from __future__ import annotations

import struct

import numpy as np

FORMAT_NAME = "omnitalker-corpus"
SHARD_INDEX_FORMAT_NAME = "omnitalker-corpus-shard"
FORMAT_VERSION = 1
TOP_INDEX_NAME = "index.json"
SHARD_PREFIX = "shard-"
PAYLOAD_SUFFIX = ".bin"
SHARD_INDEX_SUFFIX = ".json"
TMP_SUFFIX = ".tmp"

MAGIC = b"OMTKSHRD"
HEADER_SIZE = 64
ALIGN = 64
_HEADER_STRUCT = struct.Struct("<8sII")  # magic, version, header size; zero padded to HEADER_SIZE

CODES_DTYPE = np.dtype("<f4")
MEL_DTYPE = np.dtype("<f2")  # log-mel lies in [-11.6, ~8]; float16 keeps ~3 significant digits at half the size
AUDIO_DTYPES = {"float32": np.dtype("<f4"), "int16": np.dtype("<i2")}
INT16_SCALE = 32767.0

PAYLOAD_FIELDS = ("codes", "mel", "audio", "video")

# Columns of a shard index, in order; each is a JSON list with one entry per clip.
STRING_COLUMNS = ("clip_id", "source_id", "speaker_id", "language", "text")
INT_COLUMNS = (
    "num_code_frames", "num_mel_frames", "num_samples", "video_nbytes",
    "codes_offset", "mel_offset", "audio_offset", "video_offset",
    "codes_crc32", "mel_crc32", "audio_crc32", "video_crc32",
)
FLOAT_COLUMNS = ("fps", "duration")


def shard_name(number: int) -> str:
    return f"{SHARD_PREFIX}{number:06d}"


def encode_header() -> bytes:
    header = _HEADER_STRUCT.pack(MAGIC, FORMAT_VERSION, HEADER_SIZE)
    return header + b"\0" * (HEADER_SIZE - len(header))


def check_header(header: bytes) -> str | None:
    """Return a description of what is wrong with a payload header, or None if it is valid."""
    if len(header) < HEADER_SIZE:
        return f"header is {len(header)} bytes, expected {HEADER_SIZE}"
    magic, version, size = _HEADER_STRUCT.unpack_from(header)
    if magic != MAGIC:
        return f"bad magic {magic!r} (expected {MAGIC!r})"
    if version != FORMAT_VERSION:
        return f"payload format version {version} is not supported (this code reads {FORMAT_VERSION})"
    if size != HEADER_SIZE:
        return f"header size {size} != {HEADER_SIZE}"
    return None


def aligned(offset: int) -> int:
    return (offset + ALIGN - 1) // ALIGN * ALIGN


def field_dtype(field: str, audio_dtype: str) -> np.dtype:
    if field == "codes":
        return CODES_DTYPE
    if field == "mel":
        return MEL_DTYPE
    if field == "audio":
        return AUDIO_DTYPES[audio_dtype]
    if field == "video":
        return np.dtype("u1")
    raise KeyError(field)
