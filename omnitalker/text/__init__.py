"""Text front-end: normalisation, Chinese -> pinyin / Latin -> characters, vocabulary, length units.

See docs/text_frontend.md for the symbol set, the inline pinyin syntax (`行{hang2}`) and the length units.
"""

from omnitalker.text.batch import encode_batch
from omnitalker.text.errors import (
    EmptyTextError,
    InlinePinyinError,
    TextError,
    UnknownSymbolWarning,
    UnsupportedTextError,
    VocabFormatError,
)
from omnitalker.text.language import detect_language
from omnitalker.text.normalize import normalize_text
from omnitalker.text.numbers import verbalize_numbers
from omnitalker.text.tokenizer import tokenize
from omnitalker.text.units import LETTERS_PER_SYLLABLE, length_units, symbol_units
from omnitalker.text.vocab import PADDING_ID, VOCAB_FILENAME, Vocab

__all__ = [
    "LETTERS_PER_SYLLABLE",
    "PADDING_ID",
    "VOCAB_FILENAME",
    "EmptyTextError",
    "InlinePinyinError",
    "TextError",
    "UnknownSymbolWarning",
    "UnsupportedTextError",
    "Vocab",
    "VocabFormatError",
    "detect_language",
    "encode_batch",
    "length_units",
    "normalize_text",
    "symbol_units",
    "tokenize",
    "verbalize_numbers",
]
