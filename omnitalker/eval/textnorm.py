"""Text normalisation and edit counts for WER/CER, following the Seed-TTS-eval / F5-TTS evaluation rules.

What the field does before scoring (seed-tts-eval ``run_wer.py``, F5-TTS ``eval/utils_eval.py``):
- every ASCII and CJK punctuation mark is deleted (Seed-TTS keeps the apostrophe, F5-TTS deletes it too);
- English is lower-cased and scored over whitespace-separated words (WER);
- Chinese is scored over characters (CER): every non-space character is one unit.
Numbers are NOT normalised by the field ("3" vs "three" is an error). ``spell_numbers=True`` (off by default, so the
numbers stay comparable with published tables) spells digit runs out in English words on both sides.

``normalize`` -> the units to compare; ``edit_counts`` -> substitutions, deletions, insertions of the minimum-cost
(Levenshtein) alignment, ties broken towards substitutions as jiwer does.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

import numpy as np

CHARACTER_LANGUAGES = frozenset({"zh", "ja", "ko", "yue", "cmn"})  # scored per character (CER)
MODES = ("seedtts", "f5tts")
_APOSTROPHES = "'\u2019\u2018\u02bc"  # ' ’ ‘ ʼ -> '


def uses_characters(language: str) -> bool:
    """True when `language` is scored over characters (CER) rather than words (WER)."""
    return language.split("-")[0].lower() in CHARACTER_LANGUAGES


def _is_punctuation(ch: str, keep_apostrophe: bool) -> bool:
    if keep_apostrophe and ch == "'":
        return False
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))


def spell_integer(n: int) -> str:
    """Non-negative integer -> English cardinal words ("1961" -> "one thousand nine hundred sixty one")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for value, word in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return f"{spell_integer(head)} {word}" + ("" if rest == 0 else " " + spell_integer(rest))
    raise AssertionError("unreachable")


def _spell_numbers(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 -> 1000
    return re.sub(r"\d{1,12}", lambda m: f" {spell_integer(int(m.group()))} ", text)


def normalize(text: str, language: str, mode: str = "seedtts", spell_numbers: bool = False) -> list[str]:
    """Raw transcript -> list of scoring units (words, or characters for Chinese and other CJK languages)."""
    if mode not in MODES:
        raise ValueError(f"unknown text normalisation {mode!r}; choose one of {', '.join(MODES)}")
    text = unicodedata.normalize("NFKC", text)  # full-width ASCII -> ASCII, compatibility forms folded
    for apostrophe in _APOSTROPHES[1:]:
        text = text.replace(apostrophe, "'")
    if spell_numbers:
        text = _spell_numbers(text)
    keep = mode == "seedtts"
    text = "".join(" " if ch.isspace() else ch for ch in text if not _is_punctuation(ch, keep))
    if uses_characters(language):
        return [ch for ch in text if not ch.isspace()]
    return text.lower().split()


@dataclass(frozen=True)
class EditCounts:
    substitutions: int
    deletions: int
    insertions: int
    reference_length: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """errors / reference length (NaN for an empty reference with no hypothesis, inf if only insertions)."""
        if self.reference_length == 0:
            return float("nan") if self.errors == 0 else float("inf")
        return self.errors / self.reference_length


def edit_counts(reference: list[str], hypothesis: list[str]) -> EditCounts:
    """Minimum edit distance between token lists, split into substitutions, deletions and insertions."""
    vocab: dict[str, int] = {}
    ref = np.array([vocab.setdefault(t, len(vocab)) for t in reference], dtype=np.int64)  # (R,)
    hyp = np.array([vocab.setdefault(t, len(vocab)) for t in hypothesis], dtype=np.int64)  # (H,)
    n_ref, n_hyp = len(ref), len(hyp)
    # cost[i, j] = distance between ref[:i] and hyp[:j]; rows filled one at a time (vectorised over j except the
    # insertion chain, which is a running minimum along the row).
    cost = np.zeros((n_ref + 1, n_hyp + 1), dtype=np.int64)  # (R+1, H+1)
    cost[0] = np.arange(n_hyp + 1)
    cost[:, 0] = np.arange(n_ref + 1)
    for i in range(1, n_ref + 1):
        diag = cost[i - 1, :-1] + (hyp != ref[i - 1])  # (H,) substitution / match
        up = cost[i - 1, 1:] + 1  # (H,) deletion
        row = np.minimum(diag, up)
        # insertions: cost[i, j] = min(row[j-1], cost[i, j-1] + 1) == min_k<=j (row[k] + j - k)
        with_start = np.concatenate([[cost[i, 0]], row])  # (H+1,)
        offsets = np.arange(n_hyp + 1)
        cost[i] = np.minimum.accumulate(with_start - offsets) + offsets
    # backtrace, preferring match/substitution, then deletion, then insertion
    i, j, subs, dels, ins = n_ref, n_hyp, 0, 0, 0
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            subs += int(ref[i - 1] != hyp[j - 1])
            i, j = i - 1, j - 1
        elif i > 0 and cost[i, j] == cost[i - 1, j] + 1:
            dels, i = dels + 1, i - 1
        else:
            ins, j = ins + 1, j - 1
    return EditCounts(subs, dels, ins, n_ref)
