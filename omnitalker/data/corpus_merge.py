"""Merge corpora written in parallel (one sub-corpus per worker) into one root, without rewriting payloads.

Reading a parent directory of sub-corpora already works (:class:`CorpusReader` accepts it); merging is for
publishing one self-contained corpus. Payload files are hard-linked when source and destination share a file
system (instant, no extra space) and copied otherwise; shard indexes are rewritten with the new shard names.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from omnitalker.constants import CODE_DIM, MEL_FPS, N_MELS, SAMPLE_RATE
from omnitalker.data.corpus_reader import find_corpus_roots, load_top_index
from omnitalker.data.corpus_writer import write_json_atomic
from omnitalker.data.errors import CorpusExistsError, CorruptShardError, DuplicateClipError
from omnitalker.data.shard_format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    PAYLOAD_SUFFIX,
    SHARD_INDEX_SUFFIX,
    TMP_SUFFIX,
    TOP_INDEX_NAME,
    shard_name,
)


def merge_corpora(sources: str | os.PathLike | Sequence[str | os.PathLike], dest: str | os.PathLike,
                  link: bool = True) -> Path:
    """Merge every complete corpus found under ``sources`` into a new corpus at ``dest``; returns ``dest``.

    Raises :class:`DuplicateClipError` if two sources share a clip id (before anything is written) and
    :class:`CorpusExistsError` if ``dest`` already has an index. The merged ``index.json`` is written last.
    """
    dest = Path(dest)
    if (dest / TOP_INDEX_NAME).exists():
        raise CorpusExistsError(f"{dest / TOP_INDEX_NAME} exists; merge into a new directory")
    roots = find_corpus_roots(sources)
    plans = []  # (root, shard entry, shard index content)
    seen: dict[str, Path] = {}
    face_models = set()
    for root in roots:
        top = load_top_index(root, allow_incomplete=False)
        face_models.add(top.get("face_model"))
        for shard in top["shards"]:
            path = root / shard["index"]
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != shard["index_sha256"]:
                raise CorruptShardError(path, "shard index SHA-256 does not match index.json")
            content = json.loads(data)
            for clip_id in content["clips"]["clip_id"]:
                if clip_id in seen:
                    raise DuplicateClipError(f"clip_id {clip_id!r} occurs in {seen[clip_id]} and in {path}")
                seen[clip_id] = path
            plans.append((root, shard, content))

    dest.mkdir(parents=True, exist_ok=True)
    shards, totals = [], {"num_clips": 0, "total_seconds": 0.0, "total_mel_frames": 0, "total_code_frames": 0}
    for number, (root, shard, content) in enumerate(plans):
        name = shard_name(number)
        payload = name + PAYLOAD_SUFFIX
        src, dst = root / shard["payload"], dest / payload
        tmp = dst.with_name(dst.name + TMP_SUFFIX)
        tmp.unlink(missing_ok=True)
        if link:
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
        else:
            shutil.copyfile(src, tmp)
        if tmp.stat().st_size != shard["size"]:
            raise CorruptShardError(src, f"size {tmp.stat().st_size} bytes, the index records {shard['size']}")
        os.replace(tmp, dst)
        content["payload"] = payload
        index_bytes = write_json_atomic(dest / (name + SHARD_INDEX_SUFFIX), content)
        shards.append({**shard, "name": name, "payload": payload, "index": name + SHARD_INDEX_SUFFIX,
                       "index_sha256": hashlib.sha256(index_bytes).hexdigest()})
        clips = content["clips"]
        totals["num_clips"] += len(clips["clip_id"])
        totals["total_seconds"] += float(sum(clips["duration"]))
        totals["total_mel_frames"] += int(sum(clips["num_mel_frames"]))
        totals["total_code_frames"] += int(sum(clips["num_code_frames"]))
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_json_atomic(dest / TOP_INDEX_NAME, {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "complete": True, "created": now, "updated": now,
        **totals, "code_dim": CODE_DIM, "n_mels": N_MELS, "sample_rate": SAMPLE_RATE, "mel_fps": MEL_FPS,
        "mel_dtype": "float16", "codes_dtype": "float32", "shards": shards,
        "merged_from": [str(r) for r in roots],
        "face_model": face_models.pop() if len(face_models) == 1 else None,  # None: unknown or mixed
    })
    return dest
