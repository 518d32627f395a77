"""Exceptions raised by the training-corpus reader/writer, the dataset and the batch sampler.

Every error names the file, clip or argument it is about, so a failure deep in a DataLoader worker is actionable.
"""

from __future__ import annotations

from pathlib import Path


class CorpusError(Exception):
    """Base class of every corpus error."""


class CorpusNotFoundError(CorpusError, FileNotFoundError):
    """No corpus (no ``index.json``) at the given root."""


class IncompleteCorpusError(CorpusError):
    """The corpus was never finalised: its writer crashed or is still running."""


class CorpusExistsError(CorpusError, FileExistsError):
    """A writer in mode ``"w"`` was pointed at a root that already holds a corpus."""


class CorpusFormatError(CorpusError):
    """The top-level index is unreadable, of another format or of an unsupported version."""


class CorruptShardError(CorpusError):
    """A shard payload or shard index is missing, truncated or corrupt. ``path`` names the offending file."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"corrupt shard {self.path}: {problem}")


class ClipValidationError(CorpusError, ValueError):
    """A :class:`ClipRecord` handed to the writer is malformed (names the clip and the problem)."""


class DuplicateClipError(CorpusError, ValueError):
    """Two clips share one ``clip_id`` (within a corpus or across the roots read together)."""
