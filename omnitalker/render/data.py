"""Renderer training pairs from the corpus: (source frame, driving frame, source codes, driving codes) of one clip.

Each clip stores its 512x512 face crop as mp4 bytes (``ClipRecord.video``) and its codes at the video's frame rate.
A pair is two frames of the same clip: the renderer must redraw the driving frame from the source frame's appearance
and the driving frame's codes. Clips are split into train/val deterministically by a hash of their ``source_id``
(no identity in both; the default) or ``clip_id``. Decoded clips are kept in a small per-worker LRU cache.
Training pairs are drawn from ``(seed, epoch, index)`` (keys may be ``(index, epoch)``, see
``omnitalker.data.epoch_sampler``), so a run is reproducible and each epoch draws new pairs; validation pairs
depend on ``(seed, index)`` only.
"""

from __future__ import annotations

import io
import os
import zlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from omnitalker.data.epoch_sampler import split_key
from omnitalker.render.errors import RenderDataError


def decode_video(data: bytes, max_frames: int | None = None) -> np.ndarray:
    """mp4 bytes -> (T, H, W, 3) uint8 RGB frames (PyAV)."""
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            frames = []
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))  # (H, W, 3)
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except (av.error.FFmpegError, ValueError) as exc:
        raise RenderDataError(f"cannot decode clip video: {exc}") from exc
    if not frames:
        raise RenderDataError("clip video has no frames")
    return np.stack(frames)  # (T, H, W, 3)


def _in_val(key: str, val_fraction: float) -> bool:
    return (zlib.crc32(key.encode()) % 10_000) < val_fraction * 10_000


def resize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3, H, W) float -> (N, 3, size, size) (antialiased bilinear)."""
    if frames.shape[-1] == size and frames.shape[-2] == size:
        return frames
    return F.interpolate(frames, size=(size, size), mode="bilinear", antialias=True).clamp(0, 1)


class RendererPairDataset(Dataset):
    """``pairs_per_clip`` (source, driving) pairs per clip and epoch; training pairs are a function of
    ``(seed, epoch, index)``, validation pairs of ``(seed, index)``."""

    def __init__(
        self,
        corpus_roots: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        split: str = "train",
        val_fraction: float = 0.1,
        split_by: str = "source_id",
        input_size: int = 256,
        output_size: int = 512,
        pairs_per_clip: int = 4,
        cache_clips: int = 16,
        seed: int = 0,
        max_clips: int | None = None,
    ) -> None:
        from omnitalker.data.corpus import CorpusReader

        if split not in ("train", "val", "all"):
            raise RenderDataError(f"split must be 'train', 'val' or 'all', got {split!r}")
        if split_by not in ("source_id", "clip_id"):
            raise RenderDataError(f"split_by must be 'source_id' or 'clip_id', got {split_by!r}")
        self.corpus_roots = (
            [str(corpus_roots)] if isinstance(corpus_roots, (str, os.PathLike)) else list(map(str, corpus_roots))
        )
        index = CorpusReader(self.corpus_roots).index
        cols = index.columns
        usable = np.flatnonzero((cols["video_nbytes"] > 0) & (cols["num_code_frames"] >= 2))
        if usable.size == 0:
            raise RenderDataError(
                f"no clip with a stored face-crop video and >= 2 frames in {self.corpus_roots}; "
                "renderer training needs ClipRecord.video"
            )
        keys = cols[split_by]
        if split != "all":
            usable = np.array(
                [i for i in usable if _in_val(keys[int(i)], val_fraction) == (split == "val")], dtype=np.int64
            )
            if usable.size == 0:
                raise RenderDataError(
                    f"the {split} split of {self.corpus_roots} is empty (val_fraction={val_fraction})"
                )
        self.clips = [int(i) for i in usable[:max_clips]] if max_clips else [int(i) for i in usable]
        self.train = split == "train"
        self.input_size, self.output_size = input_size, output_size
        self.pairs_per_clip = pairs_per_clip
        self.cache_clips = cache_clips
        self.seed = seed
        self.epoch = 0
        self._reader = None
        self._cache: OrderedDict[int, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.clips) * self.pairs_per_clip

    def set_epoch(self, epoch: int) -> None:
        """The epoch used for plain integer keys (``(index, epoch)`` keys carry their own)."""
        self.epoch = int(epoch)

    def _clip(self, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames (T, 3, out, out) uint8 at the output size and codes (T, 61) float32 of corpus row ``row``."""
        if row in self._cache:
            self._cache.move_to_end(row)
            return self._cache[row]
        if self._reader is None:  # opened lazily, once per worker
            from omnitalker.data.corpus import CorpusReader

            self._reader = CorpusReader(self.corpus_roots, verify="none")
        arrays = self._reader.read_arrays(row, ("codes", "video"))
        codes = torch.from_numpy(arrays["codes"]).float()  # (T_v, 61)
        try:
            frames = decode_video(arrays["video"].tobytes(), max_frames=codes.shape[0])  # (T, H, W, 3)
        except RenderDataError as exc:
            raise RenderDataError(f"clip {self._reader.index.columns['clip_id'][row]!r}: {exc}") from None
        n = min(frames.shape[0], codes.shape[0])
        video = torch.from_numpy(frames[:n]).permute(0, 3, 1, 2)  # (T, 3, H, W) uint8
        video = (resize_frames(video.float() / 255, self.output_size) * 255).round().to(torch.uint8)  # (T, 3, out, out)
        entry = (video, codes[:n])
        if self.cache_clips > 0:
            self._cache[row] = entry
            while len(self._cache) > self.cache_clips:
                self._cache.popitem(last=False)
        return entry

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, epoch = split_key(key, self.epoch)
        if not 0 <= index < len(self):
            raise IndexError(f"pair index {index} out of range for {len(self)} pairs")
        row = self.clips[index // self.pairs_per_clip]
        video, codes = self._clip(row)
        rng = np.random.default_rng([self.seed, epoch, index] if self.train else [self.seed, index])
        src, drv = rng.choice(video.shape[0], size=2, replace=video.shape[0] < 2)
        frames = video[[src, drv]].float() / 255  # (2, 3, out, out)
        return {
            "source": resize_frames(frames[:1], self.input_size)[0],  # (3, in, in)
            "driving": frames[1],  # (3, out, out)
            "source_codes": codes[src],  # (61,)
            "driving_codes": codes[drv],  # (61,)
        }
