"""Symbol vocabulary: build from a corpus, save/load as vocab.txt (F5-TTS format), encode/decode, extend.

File format: UTF-8, one symbol per line, "\\n" line ends, line 1 (index 0) is a single space. Built vocabularies
are sorted by code point after the space, so the same corpus always gives the same file, whatever its order.
`extend` appends at the end, so ids of an existing checkpoint stay valid when finetuning on new symbols.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from tqdm import tqdm

from omnitalker.text.errors import (
    EmptyTextError,
    TextError,
    UnknownSymbolWarning,
    UnsupportedTextError,
    VocabFormatError,
)
from omnitalker.text.tokenizer import SPACE, tokenize

VOCAB_FILENAME = "vocab.txt"
PADDING_ID = -1  # id of padding in batches; the model's text encoder shifts ids by +1 so that 0 is its filler


def _check_symbol(symbol: object) -> str:
    if not isinstance(symbol, str) or not symbol:
        raise VocabFormatError(f"a symbol must be a non-empty str, got {symbol!r}")
    if "\n" in symbol or "\r" in symbol:
        raise VocabFormatError(f"a symbol must not contain a line break, got {symbol!r}")
    return symbol


def _resolve(path: str | os.PathLike[str]) -> Path:
    """A directory means the vocab.txt inside it."""
    path = Path(path)
    return path / VOCAB_FILENAME if path.is_dir() else path


class Vocab:
    """Ordered symbol list with index 0 = " " (see module docstring)."""

    def __init__(self, symbols: Sequence[str]) -> None:
        symbols = [_check_symbol(s) for s in symbols]
        if not symbols or symbols[0] != SPACE:
            first = symbols[0] if symbols else None
            raise VocabFormatError(f"index 0 of a vocabulary must be the space symbol ' ', got {first!r}")
        duplicates = [s for s, n in Counter(symbols).items() if n > 1]
        if duplicates:
            raise VocabFormatError(f"duplicate symbols in vocabulary: {duplicates!r}")
        self._symbols = symbols
        self._ids = {s: i for i, s in enumerate(symbols)}

    # ------------------------------------------------------------------------------------------ construction
    @classmethod
    def build(cls, texts: Iterable[str], *, verbalize_numbers: bool = True, progress: bool = False) -> Vocab:
        """Vocabulary of every symbol `tokenize` produces on `texts`: " " first, then sorted by code point.

        An empty text raises TextError naming its position, so a broken transcript is found, not skipped.
        """
        found: set[str] = set()
        for index, text in enumerate(tqdm(texts, desc="vocab", unit="text", disable=not progress)):
            try:
                found.update(tokenize(text, verbalize_numbers=verbalize_numbers))
            except TextError as error:
                raise type(error)(f"text #{index}: {error}") from error
        found.discard(SPACE)
        return cls([SPACE, *sorted(found)])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read vocab.txt (or `path`/vocab.txt for a directory); VocabFormatError names the bad line."""
        path = _resolve(path)
        try:
            content = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as error:
            raise VocabFormatError(f"{path} is not UTF-8: {error}") from error
        content = content.removesuffix("\n")
        lines = content.split("\n")
        if len(lines) > 1 and all(line.endswith("\r") for line in lines[:-1]):
            lines = [line.removesuffix("\r") for line in lines]  # written with Windows line ends
        if not lines or lines[0] != SPACE:
            raise VocabFormatError(
                f"{path}: line 1 must be a single space (index 0 = space), got {lines[0]!r}; "
                "an editor that strips trailing whitespace breaks vocabulary files"
            )
        for number, line in enumerate(lines, start=1):
            if not line:
                raise VocabFormatError(f"{path}: line {number} is empty")
        seen: dict[str, int] = {}
        for number, line in enumerate(lines, start=1):
            if line in seen:
                raise VocabFormatError(f"{path}: symbol {line!r} on line {number} repeats line {seen[line]}")
            seen[line] = number
        return cls(lines)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write vocab.txt atomically (temp file in the same directory, then rename); returns the file path."""
        path = _resolve(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write("\n".join(self._symbols) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def extend(self, symbols: Iterable[str]) -> list[str]:
        """Append the symbols not yet present (in the given order); returns those added. Old ids never change."""
        added: list[str] = []
        for symbol in symbols:
            if _check_symbol(symbol) not in self._ids:
                self._ids[symbol] = len(self._symbols)
                self._symbols.append(symbol)
                added.append(symbol)
        return added

    # ------------------------------------------------------------------------------------------ lookup
    def __len__(self) -> int:
        return len(self._symbols)

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self._symbols == other._symbols

    def __repr__(self) -> str:
        return f"Vocab({len(self)} symbols)"

    @property
    def symbols(self) -> list[str]:
        return list(self._symbols)

    def encode(self, symbols: Sequence[str]) -> list[int]:
        """Symbols -> ids. Unknown symbols are dropped with an UnknownSymbolWarning naming them (repeated spaces
        left by a drop collapse); UnsupportedTextError if no symbol other than space remains."""
        if not symbols:
            raise EmptyTextError("cannot encode an empty symbol sequence")
        ids: list[int] = []
        unknown: Counter[str] = Counter()
        for symbol in symbols:
            index = self._ids.get(symbol)
            if index is None:
                unknown[symbol] += 1
            elif not (index == 0 and ids and ids[-1] == 0):
                ids.append(index)
        named = ", ".join(f"{s!r}" + (f" (x{n})" if n > 1 else "") for s, n in unknown.items())
        if all(i == 0 for i in ids):
            if not unknown:
                raise UnsupportedTextError("the text has only spaces, nothing to speak")
            raise UnsupportedTextError(f"no supported symbol in the text: {named} are unknown to the vocabulary")
        if unknown:
            warnings.warn(f"dropped symbols not in the vocabulary: {named}", UnknownSymbolWarning, stacklevel=2)
        return ids

    def encode_text(self, text: str, *, verbalize_numbers: bool = True) -> list[int]:
        """tokenize + encode."""
        return self.encode(tokenize(text, verbalize_numbers=verbalize_numbers))

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids (list, array or 1-D tensor) -> symbols; padding (-1) is skipped, other bad ids raise IndexError."""
        symbols: list[str] = []
        for raw in ids:
            index = int(raw)
            if index == PADDING_ID:
                continue
            if not 0 <= index < len(self._symbols):
                raise IndexError(f"id {index} is outside the vocabulary of {len(self._symbols)} symbols")
            symbols.append(self._symbols[index])
        return symbols
