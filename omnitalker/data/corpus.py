"""Training corpus: sharded, checksummed, random-access storage of clips (see docs/corpus_format.md).

Public entry points::

    with CorpusWriter(root, shard_size_mb=256) as w:   # shards + index written atomically
        w.add(ClipRecord(...))
    reader = CorpusReader(root)                          # or a list of roots, or a parent dir of sub-corpora
    len(reader); reader[i] -> ClipRecord; reader.read_arrays(i, ("codes", "mel")); reader.index (metadata only)
"""

from omnitalker.data.corpus_index import ClipMeta, CorpusIndex, StringColumn
from omnitalker.data.corpus_merge import merge_corpora
from omnitalker.data.corpus_reader import CorpusReader, find_corpus_roots
from omnitalker.data.corpus_writer import CorpusWriter
from omnitalker.data.errors import (
    ClipValidationError,
    CorpusError,
    CorpusExistsError,
    CorpusFormatError,
    CorpusNotFoundError,
    CorruptShardError,
    DuplicateClipError,
    IncompleteCorpusError,
)
from omnitalker.data.record import ClipRecord

__all__ = [
    "ClipMeta", "ClipRecord", "ClipValidationError", "CorpusError", "CorpusExistsError", "CorpusFormatError",
    "CorpusIndex", "CorpusNotFoundError", "CorpusReader", "CorpusWriter", "CorruptShardError", "DuplicateClipError",
    "IncompleteCorpusError", "StringColumn", "find_corpus_roots", "merge_corpora",
]
