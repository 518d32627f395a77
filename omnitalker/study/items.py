"""Held-out evaluation pairs of a synthetic study corpus: reference = one clip, target = the next clip of the same
source video (the in-context setting of inference), taken from ``corpus_heldout/`` (sessions never trained on)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from omnitalker.data.corpus_reader import CorpusReader
from omnitalker.data.resample import codes_to_mel_rate


@dataclass
class StudyItem:
    item_id: str
    speaker: str
    language: str
    ref_text: str
    text: str
    ref_mel: np.ndarray  # (n_ref, 100) log-mel
    ref_codes: np.ndarray  # (n_ref, 61) raw codes at the mel rate
    ref_codes_video: np.ndarray  # (T_ref, 61) raw codes at the video rate
    gt_mel: np.ndarray  # (n_gt, 100)
    gt_codes: np.ndarray  # (T_gt, 61) raw codes at the video rate
    fps: float


class StudyCorpusError(RuntimeError):
    """The study corpus is missing or has no usable held-out pairs."""


def _reader(path: Path) -> CorpusReader:
    if not (path / "index.json").is_file():
        raise StudyCorpusError(f"no corpus at {path} (make one: python scripts/make_synthetic_corpus.py "
                               "out=data/study preset=study)")
    return CorpusReader(path)


def load_items(corpus_dir: str | Path, per_speaker: int = 3) -> list[StudyItem]:
    """``per_speaker`` pairs per speaker from its held-out sessions, round-robin over sessions (clip 2k -> 2k+1)."""
    root = Path(corpus_dir)
    reader = _reader(root / "corpus_heldout")
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, meta in enumerate(reader.index):
        by_source[meta.source_id].append(i)
    by_speaker: dict[str, list[list[int]]] = defaultdict(list)
    for source in sorted(by_source):
        clips = sorted(by_source[source], key=lambda i: reader.index[i].clip_id)
        pairs = [clips[k:k + 2] for k in range(0, len(clips) - 1, 2)]
        by_speaker[reader.index[clips[0]].speaker_id].append(pairs)
    items = []
    for speaker in sorted(by_speaker):
        sessions = by_speaker[speaker]
        order = [pair for k in range(max(map(len, sessions))) for s in sessions if k < len(s) for pair in [s[k]]]
        for ref_i, tgt_i in order[:per_speaker]:
            items.append(_item(reader, ref_i, tgt_i))
    if not items:
        raise StudyCorpusError(f"{root}/corpus_heldout has no reference/target pairs")
    return items


def _item(reader: CorpusReader, ref_i: int, tgt_i: int) -> StudyItem:
    ref, tgt = reader.index[ref_i], reader.index[tgt_i]
    ra, ta = reader.read_arrays(ref_i), reader.read_arrays(tgt_i)
    ref_mel = ra["mel"]  # (n_ref, 100)
    ref_codes = codes_to_mel_rate(torch.from_numpy(ra["codes"]), ref.fps, ref_mel.shape[0]).numpy()  # (n_ref, 61)
    return StudyItem(tgt.clip_id, tgt.speaker_id, tgt.language, ref.text, tgt.text, ref_mel, ref_codes,
                     ra["codes"], ta["mel"], ta["codes"], tgt.fps)


def training_clips(corpus_dir: str | Path, per_speaker: int = 20, seed: int = 0) -> dict[str, list[dict]]:
    """Ground truth of the training sessions (codes at the video rate, mel), ``per_speaker`` clips per speaker: what
    the speaker-identification classifiers are fitted on (never the held-out items)."""
    reader = _reader(Path(corpus_dir) / "corpus")
    by_speaker: dict[str, list[int]] = defaultdict(list)
    for i, meta in enumerate(reader.index):
        by_speaker[meta.speaker_id].append(i)
    rng = np.random.default_rng(seed)
    out: dict[str, list[dict]] = {}
    for speaker in sorted(by_speaker):
        chosen = sorted(rng.choice(by_speaker[speaker], min(per_speaker, len(by_speaker[speaker])), replace=False))
        out[speaker] = [dict(reader.read_arrays(int(i)), fps=reader.index[int(i)].fps) for i in chosen]
    return out
