"""Exceptions and warnings of the text front-end (one base class so callers can catch all text problems at once)."""

from __future__ import annotations


class TextError(ValueError):
    """Base class: a text could not be turned into model symbols."""


class EmptyTextError(TextError):
    """The text is empty or contains nothing but whitespace / invisible characters."""


class UnsupportedTextError(TextError):
    """No symbol of the text is in the vocabulary, so there is nothing the model could speak."""


class InlinePinyinError(TextError):
    """An inline pinyin override (`{...}`) is malformed: unmatched brace, unknown syllable, missing tone digit."""


class VocabFormatError(TextError):
    """A vocabulary file or symbol list breaks the format (index 0 = space, unique, non-empty, one per line)."""


class UnknownSymbolWarning(UserWarning):
    """Symbols missing from the vocabulary were dropped while encoding; the message names them."""
