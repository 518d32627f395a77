"""Random fixed-length audio segments for vocoder training, from corpus shards and/or folders of audio files.

Sources: ``CorpusReader`` roots (clips whose ``audio`` is stored; mel-only clips are left out via the index) and directories of
``.wav``/``.flac``/``.ogg`` files read with soundfile (resampled to 24 kHz, downmixed to mono). Items are split into
train/validation deterministically by a hash of their name, so the split never changes between runs. Training
offsets and gains are drawn from ``(seed, epoch, index)`` (keys may be ``(index, epoch)``, see
``omnitalker.data.epoch_sampler``): reproducible, and new every epoch.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio
from torch.utils.data import Dataset

from omnitalker.constants import SAMPLE_RATE
from omnitalker.data.epoch_sampler import split_key

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class AudioDataError(ValueError):
    """The vocoder data sources are empty, unreadable or hold no audio; the message says which."""


@dataclass(frozen=True)
class _Item:
    name: str  # used for the train/val split
    wav_path: str | None = None
    corpus_index: int = -1  # row in the CorpusReader over all corpus roots


def _is_val(name: str, val_fraction: float) -> bool:
    return (zlib.crc32(name.encode()) % 10_000) < val_fraction * 10_000


def _collect_items(corpus_roots: Sequence[str], wav_dirs: Sequence[str]) -> list[_Item]:
    items: list[_Item] = []
    if corpus_roots:
        from omnitalker.data.corpus import CorpusReader  # data layer; imported only when a corpus is used

        index = CorpusReader(list(corpus_roots)).index
        with_audio = np.flatnonzero(index.columns["num_samples"] > 0)  # mel-only clips cannot train a vocoder
        clip_ids = index.columns["clip_id"]
        items += [_Item(name=clip_ids[int(i)], corpus_index=int(i)) for i in with_audio]
    for directory in wav_dirs:
        directory = Path(directory).expanduser()
        if not directory.is_dir():
            raise AudioDataError(f"audio folder {directory} does not exist")
        files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
        items += [_Item(name=str(p.relative_to(directory)), wav_path=str(p)) for p in files]
    return items


class AudioSegmentDataset(Dataset):
    """``segment_samples`` of 24 kHz mono audio per item, peak-normalised to a gain in ``gain_db`` (dBFS).

    Training draws an offset and gain from ``(seed, epoch, index)``; validation takes the centre segment at the mean
    gain.
    """

    def __init__(
        self,
        corpus_roots: Sequence[str | os.PathLike[str]] = (),
        wav_dirs: Sequence[str | os.PathLike[str]] = (),
        segment_samples: int = 16384,
        split: str = "train",
        val_fraction: float = 0.05,
        gain_db: tuple[float, float] = (-6.0, -1.0),
        max_items: int | None = None,
        seed: int = 0,
    ) -> None:
        if split not in ("train", "val", "all"):
            raise AudioDataError(f"split must be 'train', 'val' or 'all', got {split!r}")
        all_items = _collect_items([str(r) for r in corpus_roots], [str(d) for d in wav_dirs])
        if not all_items:
            raise AudioDataError(f"no audio found in corpus roots {list(corpus_roots)} or folders {list(wav_dirs)}")
        items = all_items
        if split != "all":
            in_val = [_is_val(it.name, val_fraction) for it in all_items]
            if not any(in_val) and len(all_items) > 1:  # tiny sets: hold out the last item rather than none
                in_val[-1] = True
            items = [it for it, v in zip(all_items, in_val) if v == (split == "val")]
            if not items:
                raise AudioDataError(
                    f"the {split} split is empty ({len(all_items)} items, val_fraction={val_fraction})"
                )
        self.items = items[:max_items] if max_items else items
        self.segment_samples = segment_samples
        self.train = split == "train"
        self.gain_db = gain_db
        self.corpus_roots = [str(r) for r in corpus_roots]
        self.seed = seed
        self.epoch = 0
        self._reader = None

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """The epoch used for plain integer keys (``(index, epoch)`` keys carry their own)."""
        self.epoch = int(epoch)

    def _corpus_audio(self, item: _Item) -> np.ndarray:
        if self._reader is None:  # opened lazily: cheap to pickle into DataLoader workers
            from omnitalker.data.corpus import CorpusReader

            self._reader = CorpusReader(self.corpus_roots, verify="none")
        return self._reader.read_arrays(item.corpus_index, ("audio",))["audio"]  # (samples,) at 24 kHz

    def _file_segment(self, item: _Item, rng: np.random.Generator) -> np.ndarray:
        try:
            info = sf.info(item.wav_path)
        except RuntimeError as exc:
            raise AudioDataError(f"cannot read audio file {item.wav_path}: {exc}") from exc
        need = int(np.ceil(self.segment_samples * info.samplerate / SAMPLE_RATE))  # samples at the file's rate
        start = self._offset(info.frames, need, rng)
        wav, rate = sf.read(item.wav_path, start=start, stop=start + need, dtype="float32", always_2d=True)
        wav = wav.mean(axis=1)  # (samples,) mono
        if rate != SAMPLE_RATE:
            wav = torchaudio.functional.resample(torch.from_numpy(wav), rate, SAMPLE_RATE).numpy()
        return wav

    def _offset(self, total: int, need: int, rng: np.random.Generator) -> int:
        if total <= need:
            return 0
        return int(rng.integers(0, total - need + 1)) if self.train else (total - need) // 2

    def __getitem__(self, key: int | tuple[int, int]) -> torch.Tensor:
        index, epoch = split_key(key, self.epoch)
        if not 0 <= index < len(self):
            raise IndexError(f"segment index {index} out of range for {len(self)} items")
        rng = np.random.default_rng([self.seed, epoch, index] if self.train else [index])
        item = self.items[index]
        if item.wav_path is not None:
            wav = self._file_segment(item, rng)
        else:
            audio = self._corpus_audio(item)
            start = self._offset(len(audio), self.segment_samples, rng)
            wav = np.asarray(audio[start : start + self.segment_samples], dtype=np.float32)
        wav = torch.from_numpy(np.ascontiguousarray(wav))[: self.segment_samples]  # (<= segment,)
        wav = torch.nn.functional.pad(wav, (0, self.segment_samples - wav.shape[0]))  # (segment,)
        gain = rng.uniform(*self.gain_db) if self.train else float(np.mean(self.gain_db))
        peak = wav.abs().max()
        if peak > 1e-6:
            wav = wav * (10 ** (gain / 20) / peak)
        return wav
