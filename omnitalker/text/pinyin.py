"""Chinese grapheme-to-pinyin (pypinyin, TONE3, tone sandhi, neutral tone as 5) and inline pinyin overrides.

Symbols are toned syllables as pypinyin's TONE3 style writes them: letters + one tone digit 1..5, "ü" as "v"
("lv4", "nve4"), neutral tone explicit ("men5"). Inline overrides are written in braces, see `parse_inline_pinyin`.
"""

from __future__ import annotations

import functools
import re

from pypinyin import Style, lazy_pinyin
from pypinyin.contrib.tone_convert import to_tone3
from pypinyin.pinyin_dict import pinyin_dict

from omnitalker.text.errors import InlinePinyinError

_SYLLABLE_SHAPE = re.compile(r"^[a-zê]+[1-5]$")
_NO_READING = "\x00"


@functools.lru_cache(maxsize=1)
def syllable_bases() -> frozenset[str]:
    """All toneless pinyin syllables pypinyin knows (about 430: "a", "zhuang", "lv", "ng", "hm", ...)."""
    bases = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            bases.add(to_tone3(reading, neutral_tone_with_five=True).rstrip("12345"))
    bases.discard("")
    return frozenset(bases)


def is_pinyin_symbol(symbol: str) -> bool:
    """True for a toned syllable symbol such as "hang2" or "ma5" (never true for a single character)."""
    return len(symbol) > 1 and _SYLLABLE_SHAPE.match(symbol) is not None


def canonical_syllable(token: str) -> str:
    """User-written syllable -> canonical symbol: lower case, ü/u:/v -> v; raises InlinePinyinError if invalid."""
    syllable = token.strip().lower().replace("u:", "v").replace("ü", "v")
    if not syllable:
        raise InlinePinyinError("empty pinyin syllable in an inline {...} group")
    if syllable[-1] not in "12345":
        raise InlinePinyinError(
            f"inline pinyin {token!r} has no tone digit: write the tone as 1-5 (5 = neutral), e.g. {syllable}1"
        )
    base = syllable[:-1]
    if not _SYLLABLE_SHAPE.match(syllable) or base not in syllable_bases():
        raise InlinePinyinError(f"inline pinyin {token!r} is not a Mandarin syllable (expected e.g. hang2, lv4, ma5)")
    return syllable


def parse_inline_pinyin(content: str) -> list[str]:
    """Inside of one `{...}` group -> canonical syllables. Separators: spaces, commas or apostrophes."""
    tokens = [t for t in re.split(r"[\s,']+", content) if t]
    if not tokens:
        raise InlinePinyinError("empty inline pinyin group '{}': write syllables with tones, e.g. {hang2}")
    return [canonical_syllable(token) for token in tokens]


def han_to_pinyin(run: str) -> list[str | None]:
    """A run of Han characters -> one TONE3 syllable per character (None where pypinyin has no reading).

    The whole run goes to pypinyin at once so that its phrase dictionary picks polyphone readings from context
    and tone sandhi (3-3, 一, 不) sees the neighbours.
    """
    readings = lazy_pinyin(
        run,
        style=Style.TONE3,
        errors=lambda chars: [_NO_READING] * len(chars),
        neutral_tone_with_five=True,
        tone_sandhi=True,
    )
    if len(readings) != len(run):  # pypinyin grouped something unexpectedly: fall back to one call per character
        readings = [
            lazy_pinyin(c, style=Style.TONE3, errors=lambda chars: [_NO_READING] * len(chars),
                        neutral_tone_with_five=True)[0]
            for c in run
        ]
    return [r if is_pinyin_symbol(r) else None for r in readings]
