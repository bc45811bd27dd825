"""Text -> features, the same way when fitting and when reading.

Features are character n-grams inside words (3 to 5 characters, padded with spaces, so
"acess" still shares most of "access") and whole words and word pairs. Text is lower-cased,
accents are folded ("caída" reads as "caida", so a typo without the accent matches too) and
digits become 0 (an HTTP 503 and a 502 look alike; an amount is not a word). Each feature
keeps which sentence and word it came from, so a verdict can say what weighed most.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0][a-z0'_-]*")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")
CHAR_RANGE = (3, 5)


def fold(text: str) -> str:
    """Lower case, accents folded, digits as 0."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\d", "0", plain.replace("ß", "ss"))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


@dataclass(frozen=True, slots=True)
class Occurrence:
    feature: str
    sentence: int
    word: str


def occurrences(text: str) -> Iterator[Occurrence]:
    """Every feature of `text`, with the sentence (index) and word it came from."""
    lo, hi = CHAR_RANGE
    for si, sentence in enumerate(sentences(text)):
        words = _WORD.findall(fold(sentence))
        prev = ""
        for w in words:
            yield Occurrence("w " + w, si, w)
            if prev:
                yield Occurrence("b " + prev + " " + w, si, w)
            prev = w
            padded = f" {w} "
            for n in range(lo, hi + 1):
                for i in range(max(1, len(padded) - n + 1)):
                    yield Occurrence(padded[i:i + n], si, w)


def counts(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for occ in occurrences(text):
        out[occ.feature] = out.get(occ.feature, 0) + 1
    return out
