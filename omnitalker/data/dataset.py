"""Training items for the flow-matching model: mel + visual codes at the mel rate + text ids (SPEC §2, §4).

An item is one clip, or — the paper's pairing — a reference clip followed by another clip of the SAME source video,
so the model learns to continue a speaker's voice and motion from the in-context prompt. Item ``i`` always ends
with clip ``i``; whether it is paired, and with which reference, is a pure function of ``(seed, epoch, i)``, so
every item length is known before loading (``lengths(epoch)``) and the frame-budget sampler can batch exactly.

In a pair, the target's head translation and scale are re-expressed in the reference clip's frame
(:mod:`omnitalker.data.pose_frame`, from the ``centre_ref``/``scale_ref`` data preparation stores in ``extra``), as
at inference, where the generated motion continues the reference's own measurements. Clips without stored references
(the synthetic corpus, whose codes all share one camera frame) are concatenated as they are.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from omnitalker.constants import CODE_DIM, N_MELS
from omnitalker.data.normalization import CodeNormalizer
from omnitalker.data.pose_frame import PoseFrame, reexpress_pose
from omnitalker.data.resample import codes_to_mel_rate

log = logging.getLogger(__name__)

Pairing = Literal["single", "same_video", "mixed"]


class DatasetItemError(RuntimeError):
    """Loading an item failed; names the clips involved (the cause is chained)."""


class TalkingHeadDataset(Dataset):
    """Items ``{"mel": (T, 100) f32, "codes": (T, 61) f32 normalised at the mel rate, "text": (L,) long,
    "length": T, "ref_length": T_ref (0 if single), "clip_ids": [ref_id, target_id] or [target_id]}``.

    ``pairing``: ``"single"`` (one clip), ``"same_video"`` (always a reference + target from one source video when
    the source has another clip), ``"mixed"`` (paired with probability ``pair_prob``). A pair is only formed when
    both clips together fit ``max_frames`` (otherwise the item is the single clip); the reference is drawn
    uniformly among the other clips of the same source. Call ``set_epoch`` each epoch (the sampler's
    ``tag_epoch=True`` passes ``(index, epoch)`` keys instead, which also suits persistent workers).
    ``tokenizer`` defaults to :func:`omnitalker.text.tokenize`; ``vocab.encode`` maps its symbols to ids.
    """

    def __init__(
        self,
        reader: Any,
        vocab: Any,
        normalizer: CodeNormalizer,
        pairing: Pairing = "single",
        pair_prob: float = 0.5,
        max_frames: int | None = None,
        seed: int = 0,
        tokenizer: Callable[[str], list[str]] | None = None,
    ) -> None:
        if pairing not in ("single", "same_video", "mixed"):
            raise ValueError(f"pairing must be 'single', 'same_video' or 'mixed', got {pairing!r}")
        if not 0.0 <= pair_prob <= 1.0:
            raise ValueError(f"pair_prob must be in [0, 1], got {pair_prob}")
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
        if tokenizer is None:
            from omnitalker.text import tokenize as tokenizer
        self.reader = reader
        self.vocab = vocab
        self.normalizer = normalizer
        self.pairing = pairing
        self.pair_prob = 1.0 if pairing == "same_video" else (0.0 if pairing == "single" else pair_prob)
        self.max_frames = max_frames
        self.seed = seed
        self.tokenizer = tokenizer
        self.epoch = 0
        self._clip_lengths = np.asarray(reader.index.num_mel_frames, dtype=np.int64)  # (N,)
        self._plan_cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._clip_lengths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    # --- pairing plan -------------------------------------------------------------------------------------------
    def references(self, epoch: int | None = None) -> np.ndarray:
        """(N,) int64: the reference clip of item i in ``epoch`` (-1 = unpaired); vectorised over the corpus."""
        epoch = self.epoch if epoch is None else int(epoch)
        cached = self._plan_cache.get(epoch)
        if cached is not None:
            return cached
        n = len(self)
        refs = np.full(n, -1, dtype=np.int64)
        if self.pair_prob > 0 and n > 1:
            rng = np.random.default_rng([self.seed, epoch, 0x5EED])
            want = rng.random(n) < self.pair_prob  # (N,)
            pick = rng.random(n)  # (N,) uniform draw choosing among the other clips of the source
            source = self.reader.index.source_codes()  # (N,)
            order = np.argsort(source, kind="stable")  # clips grouped by source
            grouped = source[order]
            first = np.searchsorted(grouped, grouped, side="left")  # (N,) start of each clip's group
            size = np.searchsorted(grouped, grouped, side="right") - first  # (N,) clips in the group
            rank = np.arange(n) - first  # position inside the group
            offset = 1 + np.floor(pick[order] * np.maximum(size - 1, 1)).astype(np.int64)  # in [1, size - 1]
            partner = np.empty(n, dtype=np.int64)
            partner[order] = order[first + (rank + offset) % size]
            ok = want & (partner != np.arange(n))
            if self.max_frames is not None:
                ok &= self._clip_lengths[partner] + self._clip_lengths <= self.max_frames
            refs = np.where(ok, partner, -1)
        if len(self._plan_cache) >= 4:
            self._plan_cache.pop(next(iter(self._plan_cache)))
        self._plan_cache[epoch] = refs
        return refs

    def lengths(self, epoch: int | None = None) -> np.ndarray:
        """(N,) int64 mel frames of every item in ``epoch`` (pass this method to DynamicFrameBatchSampler)."""
        refs = self.references(epoch)
        paired = refs >= 0
        out = self._clip_lengths.copy()
        out[paired] += self._clip_lengths[refs[paired]]
        return out

    # --- pose frames --------------------------------------------------------------------------------------------
    def _pose_frame(self, clip: int) -> PoseFrame | None:
        text = self.reader.index.columns["extra"][clip]
        return PoseFrame.from_extra(json.loads(text) if text else {}, self.reader.index.clip_id[clip])

    def _in_reference_frame(self, codes: np.ndarray, clip: int, ref_frame: PoseFrame | None, ref: int) -> np.ndarray:
        """The target's codes with translation/scale measured in the reference clip's frame."""
        frame = self._pose_frame(clip)
        if frame is not None and ref_frame is not None:
            return reexpress_pose(codes, frame, ref_frame)
        if (frame is None) != (ref_frame is None):
            raise ValueError(f"clips {self.reader.index.clip_id[ref]} and {self.reader.index.clip_id[clip]} of one "
                             f"source: only one stores centre_ref/scale_ref, so their poses cannot be put in one "
                             f"frame (re-run data preparation on that source)")
        return codes

    # --- items --------------------------------------------------------------------------------------------------
    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch = (key if isinstance(key, tuple) else (key, self.epoch))
        n = len(self)
        if not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise IndexError(f"item index {index!r} out of range for a dataset of {n} clips")
        ref = int(self.references(epoch)[index])
        clips = [ref, int(index)] if ref >= 0 else [int(index)]
        ids = [self.reader.index.clip_id[c] for c in clips]
        try:
            mels, codes, texts = [], [], []
            frame = self._pose_frame(clips[0]) if len(clips) == 2 else None
            for c in clips:
                arrays = self.reader.read_arrays(c, ("codes", "mel"))
                mel = torch.from_numpy(arrays["mel"])  # (T_c, 100)
                mels.append(mel)
                clip_codes = arrays["codes"]  # (T_v, 61) at the clip's fps
                if c != clips[0]:
                    clip_codes = self._in_reference_frame(clip_codes, c, frame, clips[0])
                fps = float(self.reader.index.fps[c])
                codes.append(codes_to_mel_rate(clip_codes, fps, mel.shape[0]))  # (T_c, 61) by timestamps
                texts.append(self.reader.index.text[c])
            text_ids = self.vocab.encode(self.tokenizer(" ".join(texts)))
        except Exception as e:
            raise DatasetItemError(f"cannot load item {index} (clips {ids}): {e}") from e
        mel = torch.cat(mels, 0)  # (T, 100)
        return {
            "mel": mel,
            "codes": self.normalizer.normalize(torch.cat(codes, 0)),  # (T, 61)
            "text": torch.as_tensor(text_ids, dtype=torch.long),  # (L,)
            "length": int(mel.shape[0]),
            "ref_length": int(mels[0].shape[0]) if len(clips) == 2 else 0,
            "clip_ids": ids,
        }


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pad items into a batch: ``mel`` (B, T, 100) and ``codes`` (B, T, 61) zero-padded, ``mask`` (B, T) bool,
    ``lengths``/``ref_lengths``/``text_lengths`` (B,) long, ``text`` (B, L) long padded with -1, ``clip_ids``, and
    ``host_lengths``/``host_ref_lengths``: the same lengths as lists of Python ints, checked here (every item has a
    frame, every reference is shorter than its item) so that the training step needs no device read-back."""
    if len(items) == 0:
        raise ValueError("collate got an empty batch")
    for k, item in enumerate(items):
        missing = {"mel", "codes", "text", "clip_ids"} - set(item)
        if missing:
            raise ValueError(f"batch item {k} lacks {sorted(missing)}")
        mel, codes, text = item["mel"], item["codes"], item["text"]
        if mel.dim() != 2 or mel.shape[1] != N_MELS:
            raise ValueError(f"batch item {k} ({item['clip_ids']}): mel must be (T, {N_MELS}), got {tuple(mel.shape)}")
        if codes.shape != (mel.shape[0], CODE_DIM):
            raise ValueError(f"batch item {k} ({item['clip_ids']}): codes must be ({mel.shape[0]}, {CODE_DIM}) to "
                             f"match the mel, got {tuple(codes.shape)}")
        if text.dim() != 1 or text.dtype != torch.long:
            raise ValueError(f"batch item {k} ({item['clip_ids']}): text must be a 1-D long tensor, got "
                             f"{tuple(text.shape)} {text.dtype}")
        ref = item.get("ref_length", 0)
        if mel.shape[0] < 1 or not 0 <= ref < mel.shape[0]:
            raise ValueError(f"batch item {k} ({item['clip_ids']}): needs at least one frame and a reference shorter "
                             f"than the item (0 <= ref_length < length), got {mel.shape[0]} frames, ref_length {ref}")
    batch = len(items)
    host_lengths = [int(item["mel"].shape[0]) for item in items]
    host_refs = [int(item.get("ref_length", 0)) for item in items]
    lengths = torch.tensor(host_lengths, dtype=torch.long)  # (B,)
    text_lengths = torch.tensor([item["text"].shape[0] for item in items], dtype=torch.long)  # (B,)
    frames, symbols = int(lengths.max()), int(text_lengths.max())
    mel = items[0]["mel"].new_zeros(batch, frames, N_MELS)  # (B, T, 100)
    codes = items[0]["codes"].new_zeros(batch, frames, CODE_DIM)  # (B, T, 61)
    text = torch.full((batch, symbols), -1, dtype=torch.long)  # (B, L)
    for b, item in enumerate(items):
        mel[b, : lengths[b]] = item["mel"]
        codes[b, : lengths[b]] = item["codes"]
        text[b, : text_lengths[b]] = item["text"]
    return {
        "mel": mel,
        "codes": codes,
        "mask": torch.arange(frames).unsqueeze(0) < lengths.unsqueeze(1),  # (B, T)
        "lengths": lengths,
        "ref_lengths": torch.tensor(host_refs, dtype=torch.long),  # (B,)
        "host_lengths": host_lengths,
        "host_ref_lengths": host_refs,
        "text": text,
        "text_lengths": text_lengths,
        "clip_ids": [list(item["clip_ids"]) for item in items],
    }
