"""Normalised text -> model symbols, segment by segment for mixed Chinese / Latin text (F5-TTS conventions).

Symbols: one toned pinyin syllable per Han character ("ni2"), one symbol per other character (Latin letters keep
their case, punctuation, digits when numbers are not verbalised, any other script's characters as they are),
and " " for word boundaries. As in F5-TTS, a space precedes every Chinese syllable (also at the start of the text)
and a Latin word directly after a Chinese syllable gets a space before it; runs of spaces collapse to one.

Inline pinyin: `行{hang2}` overrides the reading of the Han character(s) directly before the braces - n syllables
replace the last n characters (`行长{hang2 zhang3}`); braces not directly after Han characters insert the
syllables themselves (`say {ni3 hao3}`; `好{hao3}{ma5}` = override + insert). Overrides are taken verbatim
(no tone sandhi is applied to them).
"""

from __future__ import annotations

from dataclasses import dataclass

from omnitalker.text.chars import is_han, is_latin_letter
from omnitalker.text.errors import EmptyTextError, InlinePinyinError
from omnitalker.text.normalize import normalize_text
from omnitalker.text.pinyin import han_to_pinyin, is_pinyin_symbol, parse_inline_pinyin

SPACE = " "


@dataclass
class _Item:
    kind: str  # "han" (a Han character), "syl" (a syllable symbol) or "char" (any other character)
    value: str
    override: str | None = None  # inline pinyin for a "han" item


def _scan(text: str) -> list[_Item]:
    """Normalised text -> items, with `{...}` groups resolved into overrides or inserted syllables."""
    items: list[_Item] = []
    after_group = False  # a group directly after another group inserts instead of overriding again
    i = 0
    while i < len(text):
        char = text[i]
        if char == "}":
            raise InlinePinyinError(f"unmatched '}}' at position {i} in {text!r}")
        if char != "{":
            items.append(_Item("han" if is_han(char) else "char", char))
            after_group = False
            i += 1
            continue
        close = text.find("}", i + 1)
        if close < 0:
            raise InlinePinyinError(f"unmatched '{{' at position {i} in {text!r}: close it, e.g. 行{{hang2}}")
        if "{" in text[i + 1 : close]:
            raise InlinePinyinError(f"nested '{{' at position {text.index('{', i + 1)} in {text!r}")
        syllables = parse_inline_pinyin(text[i + 1 : close])
        preceding_han = 0
        while not after_group and preceding_han < len(items) and items[-1 - preceding_han].kind == "han":
            preceding_han += 1
        if preceding_han == 0:
            items.extend(_Item("syl", s) for s in syllables)
        elif preceding_han >= len(syllables):
            for item, syllable in zip(items[len(items) - len(syllables) :], syllables):
                item.override = syllable
        else:
            raise InlinePinyinError(
                f"inline pinyin {text[i : close + 1]!r} gives {len(syllables)} syllables but only {preceding_han} "
                f"Chinese character(s) stand directly before it in {text!r}"
            )
        after_group = True
        i = close + 1
    return items


def _resolve_han(items: list[_Item]) -> list[_Item]:
    """Replace each run of Han items by syllables (context-aware pypinyin), overrides winning."""
    resolved: list[_Item] = []
    start = 0
    while start < len(items):
        if items[start].kind != "han":
            resolved.append(items[start])
            start += 1
            continue
        end = start
        while end < len(items) and items[end].kind == "han":
            end += 1
        run = items[start:end]
        readings = han_to_pinyin("".join(item.value for item in run))
        for item, reading in zip(run, readings):
            syllable = item.override or reading
            # a Han character without any known reading stays a character symbol (the vocabulary will name it)
            resolved.append(_Item("syl", syllable) if syllable else _Item("char", item.value))
        start = end
    return resolved


def tokenize(text: str, *, verbalize_numbers: bool = True) -> list[str]:
    """Text -> normalised symbol sequence, e.g. "你好, world" -> [" ", "ni2", " ", "hao3", ",", " ", "w", ...].

    Raises EmptyTextError for empty / whitespace-only text and InlinePinyinError for a malformed `{...}` group.
    """
    normalised = normalize_text(text, verbalize=verbalize_numbers)
    if not normalised:
        raise EmptyTextError(f"text is empty after normalisation: {text!r}")
    symbols: list[str] = []
    for item in _resolve_han(_scan(normalised)):
        if item.kind == "syl":
            if not symbols or symbols[-1] != SPACE:
                symbols.append(SPACE)
            symbols.append(item.value)
        elif item.value == SPACE:
            if symbols and symbols[-1] != SPACE:
                symbols.append(SPACE)
        else:
            if is_latin_letter(item.value) and symbols and is_pinyin_symbol(symbols[-1]):
                symbols.append(SPACE)  # word boundary between a Chinese syllable and a Latin word
            symbols.append(item.value)
    while symbols and symbols[-1] == SPACE:
        symbols.pop()
    if not symbols:
        raise EmptyTextError(f"text has no symbols: {text!r}")
    return symbols
