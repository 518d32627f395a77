"""Texts -> padded id batch for the model (padding -1; the text encoder shifts by +1 so 0 becomes filler)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from omnitalker.text.errors import TextError
from omnitalker.text.vocab import PADDING_ID, Vocab


def encode_batch(texts: Sequence[str], vocab: Vocab, *, verbalize_numbers: bool = True) -> torch.Tensor:
    """list of B texts -> LongTensor (B, L), L = longest encoded text, right-padded with -1."""
    if isinstance(texts, str) or len(texts) == 0:
        raise TextError("encode_batch needs a non-empty list of texts")
    encoded = [vocab.encode_text(text, verbalize_numbers=verbalize_numbers) for text in texts]
    batch = torch.full((len(encoded), max(map(len, encoded))), PADDING_ID, dtype=torch.long)  # (B, L)
    for row, ids in enumerate(encoded):
        batch[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return batch
