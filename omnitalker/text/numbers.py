"""Numbers -> words, so that digits are spoken and counted like the words they stand for.

English context: cardinals ("one hundred twenty-three"), years ("nineteen ninety-nine"), ordinals ("21st"),
decimals ("three point one four"), percent, $/€/£/¥ amounts, clock times ("10:30" -> "ten thirty"),
long or zero-led digit strings read digit by digit. Chinese context: Chinese numerals ("1234" -> 一千二百三十四,
"2024年" -> 二零二四年, "3.5%" -> 百分之三点五, "10:05" -> 十点零五分). The language of a number is the script
of the nearest letter around it (Han or an inline `{pinyin}` group -> Chinese, Latin -> English); numbers next to
other scripts (Cyrillic, kana, ...) are left as digits. Inline pinyin groups `{...}` are never touched.
"""

from __future__ import annotations

import re

from omnitalker.text.chars import is_han, is_latin_letter, other_script

_EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion")
_EN_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
               "nine": "ninth", "twelve": "twelfth"}
_EN_CURRENCY = {"$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("pound", "pounds"),
                "¥": ("yuan", "yuan")}

_ZH_DIGITS = "零一二三四五六七八九"
_ZH_GROUP_UNITS = ("", "万", "亿", "万亿")
_ZH_CURRENCY = {"$": "美元", "€": "欧元", "£": "英镑", "¥": "元"}

_MAX_CARDINAL_DIGITS = 10  # longer plain digit strings (phone numbers, ids) are read digit by digit

_TOKEN = re.compile(
    r"""
    (?P<brace>\{[^{}]*\})
    | (?<![0-9])(?P<hh>[0-9]{1,2}):(?P<mm>[0-9]{2})(?![0-9])
    | (?P<sign>(?<![0-9A-Za-z.])-)?
      (?P<cur>[$€£¥])?
      (?P<int>[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)
      (?:\.(?P<frac>[0-9]+))?
      (?P<suf>%|(?:st|nd|rd|th|s)(?![A-Za-z]))?
    """,
    re.VERBOSE,
)


# ----------------------------------------------------------------------------------------------- English
def english_cardinal(n: int) -> str:
    """Non-negative or negative integer below 10**18 -> American English words without "and"."""
    if n < 0:
        return "minus " + english_cardinal(-n)
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_EN_ONES[hundreds]} hundred" + (f" {english_cardinal(rest)}" if rest else "")
    if n >= 1000 ** len(_EN_SCALES):
        raise ValueError(f"{n} is too large to read as an English cardinal")
    parts: list[str] = []
    for scale in _EN_SCALES:
        n, chunk = divmod(n, 1000)
        if chunk:
            parts.append(english_cardinal(chunk) + (f" {scale}" if scale else ""))
        if n == 0:
            break
    return " ".join(reversed(parts))


def english_year(n: int) -> str:
    """Year-style reading for 1100..2099 ("nineteen oh five", "twenty twenty-four"); 2000..2009 stay cardinal."""
    if not 1100 <= n <= 2099 or 2000 <= n <= 2009:
        return english_cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{english_cardinal(high)} hundred"
    if low < 10:
        return f"{english_cardinal(high)} oh {english_cardinal(low)}"
    return f"{english_cardinal(high)} {english_cardinal(low)}"


def english_ordinal(n: int) -> str:
    """1 -> "first", 22 -> "twenty-second", 100 -> "one hundredth"."""
    words = english_cardinal(n)
    head, sep, last = max((words.rpartition(" "), words.rpartition("-")), key=lambda p: len(p[0]))
    if last in _EN_ORDINAL:
        last = _EN_ORDINAL[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def english_digits(digits: str) -> str:
    return " ".join(_EN_ONES[int(d)] for d in digits)


def _english_plural(words: str) -> str:
    """ "nineteen ninety" -> "nineteen nineties" (for decades written "1990s")."""
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _english_number(m: re.Match[str]) -> str:
    raw_int, frac, suffix, currency = m["int"], m["frac"], m["suf"], m["cur"]
    digits = raw_int.replace(",", "")
    plain = "," not in raw_int
    if plain and frac is None and (len(digits) > _MAX_CARDINAL_DIGITS or (len(digits) > 1 and digits[0] == "0")):
        words = english_digits(digits)
        suffix_words = ""
    else:
        value = int(digits)
        suffix_words = ""
        if suffix in ("st", "nd", "rd", "th") and frac is None:
            words = english_ordinal(value)
        elif suffix == "s" and frac is None and value % 10 == 0:
            words = _english_plural(english_year(value) if plain and len(digits) == 4 else english_cardinal(value))
        else:
            if plain and len(digits) == 4 and frac is None and currency is None and suffix != "%":
                words = english_year(value)
            else:
                words = english_cardinal(value)
            if frac is not None:
                if currency and len(frac) == 2:
                    unit = _EN_CURRENCY[currency][value != 1]
                    cents = int(frac)
                    cent_words = f" and {english_cardinal(cents)} cent{'s' if cents != 1 else ''}" if cents else ""
                    words = f"{words} {unit}{cent_words}"
                    currency = None
                else:
                    words = f"{words} point {english_digits(frac)}"
            if suffix == "%":
                suffix_words = " percent"
            elif suffix is not None:
                suffix_words = " " + suffix  # an "s" or ordinal letters that did not apply stay, as letters
            if currency is not None:
                unit = _EN_CURRENCY[currency][not (value == 1 and frac is None)]
                words = f"{words} {unit}"
    if m["sign"]:
        words = "minus " + words
    return words + suffix_words


def _english_time(hours: int, minutes: int) -> str:
    if minutes == 0:
        return f"{english_cardinal(hours)} o'clock"
    if minutes < 10:
        return f"{english_cardinal(hours)} oh {english_cardinal(minutes)}"
    return f"{english_cardinal(hours)} {english_cardinal(minutes)}"


# ----------------------------------------------------------------------------------------------- Chinese
def _chinese_group(n: int) -> str:
    """1..9999 -> numerals with internal zeros (1005 -> 一千零五)."""
    out = ""
    zero_pending = False
    for digit, unit in ((n // 1000, "千"), (n // 100 % 10, "百"), (n // 10 % 10, "十"), (n % 10, "")):
        if digit == 0:
            zero_pending = bool(out)
            continue
        if zero_pending:
            out += "零"
            zero_pending = False
        out += _ZH_DIGITS[digit] + unit
    return out


def chinese_cardinal(n: int) -> str:
    """Integer below 10**16 -> Chinese numerals (10 -> 十, 2000 -> 两千, 100010 -> 十万零一十)."""
    if n < 0:
        return "负" + chinese_cardinal(-n)
    if n == 0:
        return "零"
    if n >= 10**16:
        raise ValueError(f"{n} is too large to read as a Chinese numeral")
    groups = []  # least significant first, 4 digits each
    while n:
        n, group = divmod(n, 10000)
        groups.append(group)
    out = ""
    zero_pending = False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            zero_pending = bool(out)
            continue
        if out and (zero_pending or group < 1000):
            out += "零"
        out += _chinese_group(group) + _ZH_GROUP_UNITS[index]
        zero_pending = False
    if out.startswith("一十"):
        out = out[1:]
    if out[0] == "二" and len(out) > 1 and out[1] in "千万亿":
        out = "两" + out[1:]
    return out


def chinese_digits(digits: str) -> str:
    return "".join(_ZH_DIGITS[int(d)] for d in digits)


def _chinese_number(m: re.Match[str], next_char: str) -> str:
    raw_int, frac, suffix, currency = m["int"], m["frac"], m["suf"], m["cur"]
    digits = raw_int.replace(",", "")
    plain = "," not in raw_int
    if plain and frac is None and (
        len(digits) > _MAX_CARDINAL_DIGITS or (len(digits) > 1 and digits[0] == "0") or next_char == "年"
    ):
        words = chinese_digits(digits)
    else:
        words = chinese_cardinal(int(digits))
        if frac is not None:
            words += "点" + chinese_digits(frac)
    if suffix == "%":
        words = "百分之" + words
    if currency is not None:
        words += _ZH_CURRENCY[currency]
    if m["sign"]:
        words = "负" + words
    if suffix is not None and suffix != "%":
        words += suffix
    return words


def _chinese_time(hours: int, minutes: int) -> str:
    if minutes == 0:
        return chinese_cardinal(hours) + "点"
    minute_words = ("零" if minutes < 10 else "") + chinese_cardinal(minutes)
    return f"{chinese_cardinal(hours)}点{minute_words}分"


# ----------------------------------------------------------------------------------------------- context
def _letter_scripts(text: str) -> list[str | None]:
    """Per character: "zh" (Han or inside an inline {pinyin} group), "en" (Latin letter), "other", or None."""
    scripts: list[str | None] = []
    depth = 0
    for char in text:
        if char == "{":
            depth += 1
        if depth or is_han(char):
            scripts.append("zh")
        elif is_latin_letter(char):
            scripts.append("en")
        elif char.isalpha() or other_script(char):
            scripts.append("other")
        else:
            scripts.append(None)
        if char == "}":
            depth = max(depth - 1, 0)
    return scripts


def _context_language(scripts: list[str | None], start: int, end: int, default: str) -> str:
    """Script of the nearest letter on either side of text[start:end]; ties go to the left."""
    left = next(((start - i, scripts[i]) for i in range(start - 1, -1, -1) if scripts[i]), None)
    right = next(((i - end + 1, scripts[i]) for i in range(end, len(scripts)) if scripts[i]), None)
    if left is None and right is None:
        return default
    if right is None or (left is not None and left[0] <= right[0]):
        return left[1]  # type: ignore[index]
    return right[1]


def verbalize_numbers(text: str, default_language: str = "en") -> str:
    """Replace every number in `text` by words in the language of its surroundings (see module docstring).

    `default_language` ("en" or "zh") applies when the text has no letters at all, e.g. "2024".
    """
    if default_language not in ("en", "zh"):
        raise ValueError(f"default_language must be 'en' or 'zh', got {default_language!r}")
    if not any("0" <= c <= "9" for c in text):
        return text
    scripts = _letter_scripts(text)

    def replace(m: re.Match[str]) -> str:
        if m["brace"] is not None:
            return m[0]
        language = _context_language(scripts, m.start(), m.end(), default_language)
        if language == "other":
            return m[0]
        if m["hh"] is not None:
            hours, minutes = int(m["hh"]), int(m["mm"])
            if hours > 24 or minutes > 59:  # a ratio like 16:99, read both numbers
                sub = f"{_read_plain(m['hh'], language)}:{_read_plain(m['mm'], language)}"
                return sub if language == "zh" else _pad(text, m, sub)
            words = _chinese_time(hours, minutes) if language == "zh" else _english_time(hours, minutes)
        elif language == "zh":
            return _chinese_number(m, text[m.end()] if m.end() < len(text) else "")
        else:
            words = _english_number(m)
        return words if language == "zh" else _pad(text, m, words)

    return _TOKEN.sub(replace, text)


def _read_plain(digits: str, language: str) -> str:
    return chinese_cardinal(int(digits)) if language == "zh" else english_cardinal(int(digits))


def _pad(text: str, m: re.Match[str], words: str) -> str:
    """Separate English number words from letters glued to the digits ("mp3" -> "mp three", "4K" -> "four K")."""
    before = text[m.start() - 1] if m.start() > 0 else ""
    after = text[m.end()] if m.end() < len(text) else ""
    if before.isalnum():
        words = " " + words
    if after.isalnum():
        words += " "
    return words
