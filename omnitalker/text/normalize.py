"""Text normalisation before tokenisation: one canonical spelling for everything that sounds the same.

Steps (in order): Unicode NFKC (full-width letters, digits and punctuation -> ASCII, "…" -> "...", ligatures);
the CJK punctuation NFKC keeps (。、「」《》…) -> ASCII; curly quotes -> straight; dashes -> "-"; ";" -> ","
(as F5-TTS); invisible characters (controls, zero-width, BOM) removed; every whitespace run -> one space, ends
stripped; optionally numbers -> words in the language around them (omnitalker.text.numbers).
"""

from __future__ import annotations

import re
import unicodedata

from omnitalker.text.numbers import verbalize_numbers

_PUNCTUATION = str.maketrans(
    {
        "。": ".", "｡": ".", "、": ",", "，": ",", "；": ",", ";": ",",
        "“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "「": '"', "」": '"', "『": '"', "』": '"',
        "《": '"', "》": '"', "〈": '"', "〉": '"', "〝": '"', "〞": '"', "＂": '"',
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
        "–": "-", "—": "-", "―": "-", "‐": "-", "‑": "-", "‒": "-", "−": "-", "～": "~", "〜": "~",
        "【": "[", "】": "]", "〔": "[", "〕": "]", "〖": "[", "〗": "]",
        "·": " ", "・": " ", "•": " ",
    }
)
_WHITESPACE = re.compile(r"\s+")
_REPEATED_DASH = re.compile(r"-{2,}")
_LONG_ELLIPSIS = re.compile(r"\.{4,}")


def _is_invisible(char: str) -> bool:
    """Control and format characters (zero-width space/joiner, BOM, bidi marks) that carry no sound."""
    return unicodedata.category(char) in ("Cc", "Cf") and not char.isspace()


def normalize_text(text: str, *, verbalize: bool = True) -> str:
    """Canonical form of `text` (see module docstring). May return "" for text without visible characters."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_PUNCTUATION)
    text = "".join(char for char in text if not _is_invisible(char))
    text = _REPEATED_DASH.sub("-", text)
    text = _LONG_ELLIPSIS.sub("...", text)
    text = _WHITESPACE.sub(" ", text).strip()
    if verbalize:
        text = _WHITESPACE.sub(" ", verbalize_numbers(text)).strip()
    return text
