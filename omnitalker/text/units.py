"""Language-aware text length for duration estimation (never UTF-8 bytes).

Counted on the symbols `tokenize` produces, so numbers count as the words they are read as:
a Chinese syllable (also a kana / hangul character) = `syllable_weight`, a letter or digit of any other script =
`letter_weight`, a space = `space_weight`, punctuation and other symbols = `punctuation_weight`.
Defaults 1 / 1 / 0 / 0: "你好世界" -> 4, "hello" -> 5, "Hello, world!" -> 10.
Spaces and punctuation count nothing by default: the duration rule uses the ratio of two texts' units, and pauses
scale with the text like everything else. When the reference and the target differ in language, pass
`syllable_weight=LETTERS_PER_SYLLABLE` so both are in letter-equivalents.
"""

from __future__ import annotations

import unicodedata

from omnitalker.text.chars import is_syllabic
from omnitalker.text.pinyin import is_pinyin_symbol
from omnitalker.text.tokenizer import SPACE, tokenize

# One Mandarin syllable lasts about as long as three Latin letters: the ratio F5-TTS gets implicitly from UTF-8
# bytes (3 per Han character, 1 per ASCII letter). The four transcribed clips in shared/media give 1.6-3.4
# (English 7.7-8.0 letters/s, Mandarin 2.3-4.9 syllables/s over the speech span), consistent with it.
LETTERS_PER_SYLLABLE = 3.0


def symbol_units(
    symbols: list[str],
    *,
    syllable_weight: float = 1.0,
    letter_weight: float = 1.0,
    punctuation_weight: float = 0.0,
    space_weight: float = 0.0,
) -> float:
    """Length of an already tokenised symbol sequence (see module docstring)."""
    total = 0.0
    for symbol in symbols:
        if is_pinyin_symbol(symbol):
            total += syllable_weight
        elif symbol == SPACE:
            total += space_weight
        elif len(symbol) == 1 and is_syllabic(symbol):
            total += syllable_weight
        elif len(symbol) == 1 and unicodedata.category(symbol)[0] in "LN":
            total += letter_weight
        elif len(symbol) == 1 and unicodedata.category(symbol)[0] == "M":
            continue  # combining mark: part of the letter before it
        else:
            total += punctuation_weight
    return total


def length_units(
    text: str,
    *,
    syllable_weight: float = 1.0,
    letter_weight: float = 1.0,
    punctuation_weight: float = 0.0,
    space_weight: float = 0.0,
    verbalize_numbers: bool = True,
) -> float:
    """Spoken length of `text` in units (syllables for Chinese, letters for Latin scripts). EmptyTextError if empty."""
    return symbol_units(
        tokenize(text, verbalize_numbers=verbalize_numbers),
        syllable_weight=syllable_weight,
        letter_weight=letter_weight,
        punctuation_weight=punctuation_weight,
        space_weight=space_weight,
    )
