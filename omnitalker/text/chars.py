"""Character classes used by the text front-end (script membership by Unicode block, no external tables)."""

from __future__ import annotations

import unicodedata

# CJK ideograph blocks read as Mandarin: Ext-A, URO, compatibility ideographs, Ext-B..Ext-H, plus 〇 (ling2).
_HAN_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2EBEF),
    (0x30000, 0x323AF),
)
_HAN_EXTRA = {0x3007}

# Other scripts recognised by detect_language, as (first, last, language code).
SCRIPT_BLOCKS = (
    (0x3040, 0x30FF, "ja"),  # hiragana + katakana
    (0x31F0, 0x31FF, "ja"),  # katakana phonetic extensions
    (0xFF66, 0xFF9F, "ja"),  # half-width katakana (NFKC turns these into full width anyway)
    (0x1100, 0x11FF, "ko"),  # hangul jamo
    (0x3130, 0x318F, "ko"),  # hangul compatibility jamo
    (0xAC00, 0xD7AF, "ko"),  # hangul syllables
    (0x0400, 0x04FF, "cyrillic"),
    (0x0370, 0x03FF, "el"),
    (0x0590, 0x05FF, "he"),
    (0x0600, 0x06FF, "ar"),
    (0x0900, 0x097F, "hi"),
    (0x0E00, 0x0E7F, "th"),
)


def is_han(char: str) -> bool:
    """True for a CJK ideograph that the front-end converts to a pinyin syllable."""
    code = ord(char)
    return code in _HAN_EXTRA or any(lo <= code <= hi for lo, hi in _HAN_RANGES)


def is_latin_letter(char: str) -> bool:
    """True for a letter of the Latin script (ASCII letters and accented Latin letters, not digits)."""
    if not char.isalpha():
        return False
    if char.isascii():
        return True
    return "LATIN" in unicodedata.name(char, "")


def other_script(char: str) -> str | None:
    """Language/script code of a letter from a non-Latin, non-Han script listed in SCRIPT_BLOCKS, else None."""
    code = ord(char)
    for lo, hi, name in SCRIPT_BLOCKS:
        if lo <= code <= hi:
            return name
    return None


def is_syllabic(char: str) -> bool:
    """True for a single character that is spoken as about one syllable (hangul block, kana, han)."""
    script = other_script(char)
    return is_han(char) or (script in ("ja", "ko") and unicodedata.category(char).startswith("L"))
