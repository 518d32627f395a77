"""Split a long text into chunks that each fit the model's length budget (SPEC §5, long text).

The text is normalised first (`omnitalker.text.normalize_text`: full-width -> ASCII, numbers -> words), and the
chunks tile it exactly: ``"".join(chunks) == normalize_text(text)``. Each chunk's estimated sequence length
(reference frames + the duration rule's frames for the chunk) is <= `max_total_frames`. Split points are tried from
strong to weak: sentence ends (. ! ?), then clause marks (, : ;), then spaces, then between characters (never inside
an inline-pinyin group `{...}`, nor inside the run of Han characters a group applies to, nor inside a Latin word
unless the word alone is too long). Adjacent pieces are packed greedily. Works for Chinese (no spaces; CJK
punctuation is normalised to ASCII), English and mixed text. Whitespace stays with the piece before it, so pass
`chunk.strip()` to the model.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from omnitalker.inference.duration import syllable_weight_for, text_units
from omnitalker.inference.errors import DurationError, TextInputError
from omnitalker.text import normalize_text

_SENTENCE_END = ".!?"
_CLAUSE_END = ",:;"
_CLOSERS = "\"')]}>"
_BRACE_GROUP = re.compile(r"\{[^{}]*\}")
_HAN_RUN_WITH_GROUP = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+(?=\{)")


def _protected(text: str) -> list[bool]:
    """protected[i] True = no split allowed at index i (between text[i-1] and text[i])."""
    protected = [False] * (len(text) + 1)
    for match in _BRACE_GROUP.finditer(text):
        for i in range(match.start() + 1, match.end()):
            protected[i] = True
        protected[match.start()] = True  # a group belongs to what precedes it
    for match in _HAN_RUN_WITH_GROUP.finditer(text):
        for i in range(match.start() + 1, match.end() + 1):
            protected[i] = True
    return protected


def _after_marks(text: str, marks: str) -> list[int]:
    """Split indices after a run of `marks` (+ closing quotes/brackets + whitespace), unless the mark is glued to a
    following ASCII letter/digit (abbreviations like "e.g", decimals)."""
    cuts = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in marks:
            j = i
            while j < n and text[j] in marks:
                j += 1
            while j < n and text[j] in _CLOSERS:
                j += 1
            if j < n and text[j].isascii() and text[j].isalnum():
                i = j
                continue
            while j < n and text[j].isspace():
                j += 1
            if 0 < j < n:
                cuts.append(j)
            i = max(j, i + 1)
        else:
            i += 1
    return cuts


def _after_spaces(text: str) -> list[int]:
    return [m.end() for m in re.finditer(r"\s+", text) if 0 < m.end() < len(text)]


def _between_words(text: str) -> list[int]:
    """Every character boundary except inside an ASCII word."""
    return [
        i
        for i in range(1, len(text))
        if not (text[i - 1].isascii() and text[i - 1].isalnum() and text[i].isascii() and text[i].isalnum())
    ]


def _anywhere(text: str) -> list[int]:
    return list(range(1, len(text)))


_LEVELS: tuple[Callable[[str], list[int]], ...] = (
    lambda t: _after_marks(t, _SENTENCE_END),
    lambda t: _after_marks(t, _CLAUSE_END),
    _after_spaces,
    _between_words,
    _anywhere,
)


def _split_at(text: str, level: int) -> list[str]:
    protected = _protected(text)
    cuts = [c for c in _LEVELS[level](text) if not protected[c]]
    bounds = [0, *sorted(set(cuts)), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def split_text(
    text: str,
    *,
    reference_text: str,
    reference_frames: int,
    max_total_frames: int,
    speed: float = 1.0,
) -> list[str]:
    """Chunks of normalize_text(text) whose estimated reference + new mel frames are <= max_total_frames each.

    Raises TextInputError for an empty text or reference transcript, DurationError when the reference alone (or a
    single unsplittable piece plus the reference) exceeds the budget or `speed` <= 0.
    """
    normalised = normalize_text(text)
    if not normalised.strip():
        raise TextInputError("the text to speak is empty")
    if not reference_text or not reference_text.strip():
        raise TextInputError("the reference transcript is empty")
    if not speed > 0:
        raise DurationError(f"speed must be > 0, got {speed!r}")
    if reference_frames >= max_total_frames:
        raise DurationError(
            f"the reference alone ({reference_frames} mel frames) fills the budget of {max_total_frames} frames; "
            "use a shorter reference or a larger budget"
        )
    weight = syllable_weight_for(reference_text, normalised)
    reference_units = text_units(reference_text, weight)
    if reference_units <= 0:
        raise TextInputError(f"the reference transcript has nothing to pronounce: {reference_text!r}")
    frames_per_unit = reference_frames / reference_units / speed

    def fits(piece: str) -> bool:
        return reference_frames + round(text_units(piece, weight) * frames_per_unit) <= max_total_frames

    def pack(piece: str, level: int) -> list[str]:
        items: list[str] = []
        for part in _split_at(piece, level):
            if fits(part):
                items.append(part)
            elif level + 1 < len(_LEVELS):
                items.extend(pack(part, level + 1))
            else:
                raise DurationError(
                    f"{part!r} cannot be split further and does not fit the budget of {max_total_frames} mel frames "
                    f"with a {reference_frames}-frame reference"
                )
        chunks: list[str] = []
        current = ""
        for item in items:
            if current and not fits(current + item):
                chunks.append(current)
                current = item
            else:
                current += item
        if current:
            chunks.append(current)
        return chunks

    return [normalised] if fits(normalised) else pack(normalised, 0)
