"""Text -> features, the same way when fitting and when reading.

Features are character n-grams inside words (3 to 5 characters, padded with spaces, so
"acess" still shares most of "access") and whole words and word pairs. Text is lower-cased,
accents are folded ("caída" reads as "caida", so a typo without the accent matches too) and
digits become 0 (an HTTP 503 and a 502 look alike; an amount is not a word).

`counts` is what a reading and a fit take; a word's features are worked out once and cached
(words repeat). Explaining a reading walks the same words again (model._Evidence).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

WORD = re.compile(r"[a-z0][a-z0'_-]*")
_SENTENCE = re.compile(r"(?<=[.!?;:\u2026])\s+|\n+")  # an ellipsis character folds to "..."
# A word (the group), or an empty match where _SENTENCE cuts: sentence punctuation before a
# space, a line break. One scan gives the words and pairs of `counts` (model.LinearModel._walk).
WORD_OR_BREAK = re.compile(r"(" + WORD.pattern + r")|[.!?;:\u2026](?=\s)|\n")
_DIGIT = re.compile(r"\d")
CHAR_RANGE = (3, 5)


def fold(text: str) -> str:
    """Lower case, accents folded, digits as 0."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    # Plain ASCII has nothing to fold (most tickets): the walk over every character is skipped.
    plain = decomposed if decomposed.isascii() else "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _DIGIT.sub("0", plain.replace("ß", "ss"))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


@lru_cache(maxsize=100_000)
def word_features(w: str) -> tuple[str, ...]:
    """A word's own features: itself and its character n-grams."""
    lo, hi = CHAR_RANGE
    padded = f" {w} "
    grams = [padded[i:i + n] for n in range(lo, hi + 1) for i in range(max(1, len(padded) - n + 1))]
    return ("w " + w, *grams)


def counts(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    get = out.get
    for sentence in sentences(fold(text)):
        prev = ""
        for w in WORD.findall(sentence):
            for f in word_features(w):
                out[f] = get(f, 0) + 1
            if prev:
                pair = "b " + prev + " " + w
                out[pair] = get(pair, 0) + 1
            prev = w
    return out
