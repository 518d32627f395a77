"""Corpus -> frame-budget batches for training, with the vocabulary and code statistics the model needs."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
from lightning.pytorch.accelerators import CUDAAccelerator
from torch.utils.data import DataLoader

from omnitalker.data.batching import DynamicFrameBatchSampler
from omnitalker.data.corpus import CorpusReader
from omnitalker.data.dataset import TalkingHeadDataset, collate
from omnitalker.data.normalization import CodeNormalizer
from omnitalker.text import Vocab

log = logging.getLogger(__name__)


class CorpusDataModule(L.LightningDataModule):
    """Owns the reader, vocabulary, normaliser, dataset and the DDP-aware dynamic batch sampler.

    The sampler's position (epoch, batches done) travels in the checkpoint, so a resumed run sees exactly the
    batches the interrupted run had not seen yet.
    """

    def __init__(
        self,
        corpus: str | list[str],
        vocab: str | None = None,
        normalizer: str | None = None,
        pairing: str = "mixed",
        pair_prob: float = 0.5,
        max_frames: int = 12_800,
        max_samples: int | None = 64,
        bucket_size: int = 2048,
        num_workers: int = 2,
        seed: int = 0,
        normalizer_max_clips: int | None = 20_000,
    ) -> None:
        super().__init__()
        self.corpus = corpus
        self.vocab_path = vocab
        self.normalizer_path = normalizer
        self.pairing, self.pair_prob = pairing, pair_prob
        self.max_frames, self.max_samples, self.bucket_size = max_frames, max_samples, bucket_size
        self.num_workers, self.seed = num_workers, seed
        self.normalizer_max_clips = normalizer_max_clips
        self.reader = CorpusReader(corpus)
        self.vocab: Vocab | None = None
        self.normalizer: CodeNormalizer | None = None
        self.dataset: TalkingHeadDataset | None = None
        self.sampler: DynamicFrameBatchSampler | None = None
        self._pending_sampler_state: dict[str, Any] | None = None

    # ------------------------------------------------------------------ vocabulary and statistics
    def prepare_vocab(self, base: Vocab | None = None) -> Vocab:
        """The run's vocabulary: a given vocab.txt, else built from the corpus texts; ``base`` (a pretrained
        model's vocabulary, for fine-tuning) is kept in order and extended with the corpus's new symbols."""
        if self.vocab_path:
            vocab = Vocab.load(self.vocab_path)
        else:
            vocab = Vocab.build(self.reader.index.columns["text"].tolist())
        if base is not None:
            merged = Vocab(list(base.symbols))
            added = merged.extend(vocab.symbols)  # keeps the base ids, appends only new symbols
            if added:
                log.info("vocabulary extended by %d new symbols: %s", len(added), added[:20])
            vocab = merged
        self.vocab = vocab
        return vocab

    def prepare_normalizer(self, state: dict[str, Any] | None = None) -> CodeNormalizer:
        if state is not None:
            self.normalizer = CodeNormalizer.from_state_dict(state)
        elif self.normalizer_path:
            self.normalizer = CodeNormalizer.load(self.normalizer_path)
        else:
            self.normalizer = CodeNormalizer.fit(self.reader, max_clips=self.normalizer_max_clips, seed=self.seed)
        return self.normalizer

    # ------------------------------------------------------------------ Lightning hooks
    def setup(self, stage: str | None = None) -> None:
        if self.vocab is None:
            self.prepare_vocab()
        if self.normalizer is None:
            self.prepare_normalizer()
        if self.dataset is None:
            self.dataset = TalkingHeadDataset(
                self.reader, self.vocab, self.normalizer, self.pairing, self.pair_prob, self.max_frames, self.seed
            )

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        self.sampler = DynamicFrameBatchSampler(
            self.dataset.lengths,
            self.max_frames,
            self.max_samples,
            num_replicas=world,
            rank=rank,
            seed=self.seed,
            bucket_size=self.bucket_size,
            tag_epoch=True,
        )
        if self._pending_sampler_state is not None:
            state = dict(self._pending_sampler_state, rank=rank)
            self.sampler.load_state_dict(state)
            self._pending_sampler_state = None
        if len(self.sampler) == 0:
            raise ValueError(
                f"the corpus {self.corpus} gives no batch per rank (clips: {len(self.reader)}, "
                f"budget {self.max_frames} frames, {world} ranks): every clip too long, or too few clips"
            )
        return DataLoader(
            self.dataset,
            batch_sampler=self.sampler,
            collate_fn=collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=trainer is not None and isinstance(trainer.accelerator, CUDAAccelerator),
        )

    def state_dict(self) -> dict[str, Any]:
        if self.sampler is None or self.trainer is None:
            return {}
        done = getattr(self.trainer.lightning_module, "batches_in_epoch", 0)
        return {"sampler": self.sampler.state_dict(batches_done=done)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pending_sampler_state = state.get("sampler")

    def padding_report(self) -> dict[str, Any]:
        """Padding fraction and skipped clips of the current plan (for the run summary)."""
        if self.sampler is None:
            return {}
        return self.sampler.stats()

