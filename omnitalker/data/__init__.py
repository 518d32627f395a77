"""Training data: the sharded clip corpus, code normalisation/resampling, the dataset and frame-budget batching."""

from omnitalker.data.corpus import (
    ClipMeta,
    ClipRecord,
    ClipValidationError,
    CorpusError,
    CorpusExistsError,
    CorpusFormatError,
    CorpusIndex,
    CorpusNotFoundError,
    CorpusReader,
    CorpusWriter,
    CorruptShardError,
    DuplicateClipError,
    IncompleteCorpusError,
    merge_corpora,
)

__all__ = [
    "ClipMeta", "ClipRecord", "ClipValidationError", "CorpusError", "CorpusExistsError", "CorpusFormatError",
    "CorpusIndex", "CorpusNotFoundError", "CorpusReader", "CorpusWriter", "CorruptShardError", "DuplicateClipError",
    "IncompleteCorpusError", "merge_corpora",
]
