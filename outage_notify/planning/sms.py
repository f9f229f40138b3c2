"""SMS length: which encoding a text needs and how many segments it costs. Pure.

GSM 03.38 (GSM-7) packs 160 characters into one segment, 153 per part once concatenated;
characters of its extension table take two septets. Anything else forces UCS-2: 70 UTF-16 code
units in one segment, 67 per part. Finnish and Swedish ä ö å Ä Ö Å are GSM-7; a typographic quote
or a non-breaking space is not, and would triple the cost of a message, so such characters are
replaced by their GSM-7 look-alikes ("smart encoding") when that saves segments.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Look-alikes that keep the meaning; letters with accents outside GSM-7 fall back to their base.
SMART_REPLACEMENTS = {
    "\u00a0": " ",  # no-break space
    "\u202f": " ",  # narrow no-break space (Babel puts these in some time formats)
    "\u2009": " ",
    "\u2007": " ",
    "\u200b": "",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\u00b7": "-",
    "\t": " ",
    "ç": "Ç",
}


@dataclass(frozen=True)
class SmsText:
    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int


GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION


def is_gsm7(text: str) -> bool:
    return set(text) <= GSM7_ALL


def segments(text: str) -> int:
    """Segments this text costs, as sent without change."""
    # Most texts fit one segment: count them with set and str operations, in C, and walk
    # character by character only when the text has to be split.
    chars = set(text)
    if chars <= GSM7_ALL:
        extended = sum(text.count(ch) for ch in chars & GSM7_EXTENSION)
        if len(text) + extended <= GSM7_SINGLE:
            return 1
        units = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return _count_parts(units, GSM7_SINGLE, GSM7_PART)
    astral = sum(1 for ch in chars if ord(ch) > 0xFFFF)
    if astral == 0 and len(text) <= UCS2_SINGLE:
        return 1
    units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # surrogate pairs stay together
    return _count_parts(units, UCS2_SINGLE, UCS2_PART)


def _count_parts(units: list[int], single: int, per_part: int) -> int:
    total = sum(units)
    if total <= single:
        return 1
    # A two-unit character (escape + char, or a surrogate pair) is never split across parts.
    parts, used = 1, 0
    for size in units:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


def to_gsm7(text: str) -> str:
    """Best GSM-7 rendering: look-alikes for punctuation, base letters for foreign accents.
    Characters with no rendering are kept, so the result may still need UCS-2."""
    if is_gsm7(text):
        return text
    return "".join(_gsm_char(ch) for ch in text)


def _gsm_char(ch: str) -> str:
    if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
        return ch
    if ch in SMART_REPLACEMENTS:
        return SMART_REPLACEMENTS[ch]
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return base if base and is_gsm7(base) else ch


def fit(text: str) -> SmsText:
    """The cheapest faithful form of a text: unchanged if smart encoding saves nothing."""
    original = _measure(text)
    if original.encoding == "GSM-7":
        return original
    smart = _measure(to_gsm7(text))
    return smart if smart.segments < original.segments else original


def cheapest(*candidates: str) -> SmsText:
    """Of several wordings of one message (full first), the one with the fewest segments;
    ties go to the earlier, fuller wording."""
    fitted = [fit(c) for c in candidates]
    return min(fitted, key=lambda s: s.segments)


def _measure(text: str) -> SmsText:
    return SmsText(text, "GSM-7" if is_gsm7(text) else "UCS-2", segments(text))
