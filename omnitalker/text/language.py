"""Language guess from the script of the letters (and, for Latin text, a few function words).

Returns "zh" (Han only), "en", "mixed" (Han and Latin letters both present: code-switched Chinese/English),
"ja" (any kana), "ko", "ru"/"uk" (Cyrillic), "el", "he", "ar", "hi", "th", "fr"/"de"/"es"/"it"/"pt" (Latin text
whose function words or letters point to that language), or "unknown" (no letters at all). Inline `{pinyin}`
groups count as Chinese. A heuristic for labelling corpora and choosing readings, not a classifier.
"""

from __future__ import annotations

import re
from collections import Counter

from omnitalker.text.chars import is_han, is_latin_letter, other_script
from omnitalker.text.normalize import normalize_text

_FUNCTION_WORDS = {
    "en": ["the", "and", "of", "to", "is", "in", "that", "it", "you", "i", "was", "for", "on", "are", "with", "this", "be", "have", "not", "what", "my", "your", "we", "he", "she", "they"],
    "fr": ["le", "la", "les", "et", "est", "une", "des", "du", "je", "vous", "pas", "que", "qui", "dans", "pour", "ce", "il", "elle", "nous", "sur", "avec", "au", "très", "mais"],
    "de": ["der", "die", "das", "und", "ist", "nicht", "ich", "ein", "eine", "zu", "den", "mit", "sich", "auf", "für", "dem", "es", "sie", "wir", "auch", "von", "guten", "meine", "mein", "sind", "wie", "aber", "noch", "heute", "hier", "wird", "haben", "oder"],
    "es": ["el", "los", "las", "y", "es", "una", "que", "en", "por", "para", "con", "no", "se", "del", "lo", "como", "pero", "muy", "hola", "gracias", "dónde", "está"],
    "it": ["il", "di", "che", "e", "la", "le", "non", "per", "una", "sono", "con", "del", "della", "gli", "ma", "anche", "questo", "ciao", "come", "sei", "mi", "ti", "lo"],
    "pt": ["o", "os", "as", "e", "de", "que", "não", "uma", "um", "com", "para", "por", "do", "da", "em", "se", "é", "mas", "você", "olá", "obrigado", "bem", "está"],
}
_LETTER_HINTS = {"ß": "de", "ä": "de", "ö": "de", "ç": "fr", "è": "fr", "ê": "fr", "ñ": "es", "¿": "es",
                 "¡": "es", "ã": "pt", "õ": "pt", "ò": "it"}
_UKRAINIAN_LETTERS = set("іїєґІЇЄҐ")
_BRACES = re.compile(r"\{[^{}]*\}")
_WORD = re.compile(r"[^\W\d_]+")


def _latin_language(text: str) -> str:
    """English unless another language's function words (or distinctive letters) win, with at least 2 hits."""
    words = [w.lower() for w in _WORD.findall(text)]
    scores = Counter({lang: sum(w in vocab for w in words) for lang, vocab in _FUNCTION_WORDS.items()})
    for char in text.lower():
        if char in _LETTER_HINTS:
            scores[_LETTER_HINTS[char]] += 1
    best, best_score = max(scores.items(), key=lambda kv: (kv[1], kv[0] == "en"))
    return best if best_score > scores["en"] and best_score >= 2 else "en"


def detect_language(text: str) -> str:
    """Language code of `text` (see module docstring); "unknown" when it has no letters."""
    normalised = normalize_text(text, verbalize=False)
    han = len(_BRACES.findall(normalised))
    without_braces = _BRACES.sub(" ", normalised)
    latin = 0
    others: Counter[str] = Counter()
    for char in without_braces:
        if is_han(char):
            han += 1
        elif is_latin_letter(char):
            latin += 1
        elif (script := other_script(char)) is not None:
            others[script] += 1
    if others["ja"]:
        return "ja"
    if han and latin:
        return "mixed"
    if han:
        return "zh"
    if others:
        script = others.most_common(1)[0][0]
        if script == "cyrillic":
            return "uk" if any(c in _UKRAINIAN_LETTERS for c in without_braces) else "ru"
        return script
    if latin:
        return _latin_language(without_braces)
    return "unknown"
