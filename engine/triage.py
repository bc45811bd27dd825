"""Reading a ticket's words with a text classifier: the engine's side of triage.

The engine never loads a model. It receives a `Classifier` (the service loads the shipped
one, or a helpdesk's accepted refit, see `tierlift.triage`) the way it receives the clock,
and a policy condition asks it for one category:

    {triage: {category: outage, escalate: 0.85, review: 0.5}}
    {triage: {category: refund, escalate: 0.8, review: 0.5, amount_over: 1000}}

Three outcomes (ARCHITECTURE.md, "Reading a ticket's words"):
- score >= escalate: the condition holds, and the rule fires as any other would;
- review <= score < escalate: the condition does not hold; the evaluation asks a person
  instead (an internal note, a tag `<prefix><category>`, a message to the triage channel),
  and moves nothing;
- below review: nothing.

Invariants: a classifier is a pure function of the text (so results are cached per ticket
version like every content condition); scores are probabilities in [0, 1]; the words that
weighed most come with every verdict, so a note can say why. Amounts are read from the
customer's own words in any common format and compared in US dollars at the fixed rates
below (seed 003 states its threshold in dollars: "Refund requests over $1,000").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

CATEGORIES = ("outage", "security", "data_loss", "legal", "gdpr_erasure", "refund", "churn", "manager", "none")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a classifier read in one text."""

    scores: Mapping[str, float]  # category -> probability
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # category -> words that weighed most
    sentence: Mapping[str, str] = field(default_factory=dict)  # category -> the sentence that weighed most
    model: str = ""  # which model read it (shipped name and version, or a helpdesk's refit)
    # A text of a few words is thin evidence: `scores` are flattened (they never page on so
    # little), and `thin` keeps what the model read before, category -> probability, so a
    # sure reading of "App dead" still asks a person (the review band). Empty: a text long
    # enough to be read as it is.
    thin: Mapping[str, float] = field(default_factory=dict)

    def score(self, category: str) -> float:
        return float(self.scores.get(category, 0.0))

    def asks(self, category: str) -> float:
        """The score that decides whether a person is asked: the reading before flattening
        for a text of a few words, else the score."""
        return max(self.score(category), float(self.thin.get(category, 0.0)))

    def explain(self, category: str) -> str:
        """`outage 0.93 (model m): "nobody can log in since 8" -- words: log, nobody, since`"""
        words = ", ".join(self.words.get(category, ())) or "none"
        sentence = self.sentence.get(category, "")
        quoted = f': "{sentence}"' if sentence else ""
        model = f" ({self.model})" if self.model else ""
        thin = round(float(self.thin.get(category, 0.0)), 2)
        unflat = f" ({thin:.2f} before weighing how few words it read)" if thin > round(self.score(category), 2) else ""
        return f"{category} {self.score(category):.2f}{unflat}{model}{quoted} -- words: {words}"


@dataclass(frozen=True, slots=True)
class TriageRead:
    """The reading a decision was taken on, and which of the ticket's texts it read: "whole
    ticket", "words since the last move down", "words since the dismissal" or "words since the
    last review" (tools show it beside the decision, and never read the ticket again their own
    way)."""

    text: str
    verdict: Verdict


def combine(verdicts: list[Verdict]) -> Verdict:
    """One reading of several messages (the ticket as a whole, then each follow-up on its
    own): a category scores what its strongest message says, `none` what its weakest says,
    so a late "I want to speak to a manager" is not drowned by the question it follows.
    Words and sentence come from the message that gave a category its score."""
    if len(verdicts) == 1:
        return verdicts[0]
    cats = {c for v in verdicts for c in v.scores}
    best = {c: max(verdicts, key=lambda v: v.score(c)) for c in cats if c != "none"}
    scores = {c: v.score(c) for c, v in best.items()}
    if "none" in cats:
        scores["none"] = min(v.score("none") for v in verdicts)
    return Verdict(scores, {c: v.words[c] for c, v in best.items() if c in v.words},
                   {c: v.sentence[c] for c, v in best.items() if c in v.sentence}, verdicts[0].model,
                   _thin(verdicts, scores))


def _thin(verdicts: list[Verdict], scores: Mapping[str, float]) -> dict[str, float]:
    """What the messages of a few words read before flattening, where it is more than the
    combined score: a sure reading of a short follow-up ("Still down!!") asks a person."""
    out: dict[str, float] = {}
    for v in verdicts:
        for c, t in v.thin.items():
            if c != "none" and t > max(scores.get(c, 0.0), out.get(c, 0.0)):
                out[c] = t
    return out


class Classifier(Protocol):
    """A text classifier: pure, deterministic, safe to call from any thread."""

    name: str

    def classify(self, text: str) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class TriageSpec:
    """One triage condition of a policy."""

    category: str
    escalate: float
    review: float | None = None
    amount_over: float | None = None  # US dollars: the text must name a larger amount
    # `{triage: {other_than: [security, data_loss], escalate: 0.5}}`: the model reads the text
    # as something else (another category or none) at >= escalate; `category` is then the
    # excluded ones joined by "/". A pattern is gated with it: words a pattern knows, in a
    # text the model is sure is about something else ("the platform was unavailable last
    # month, our counsel calls it a breach"), are not that category.
    other: tuple[str, ...] = ()

    def score(self, verdict: Verdict) -> float:
        if self.other:
            return max((s for c, s in verdict.scores.items() if c not in self.other), default=0.0)
        return verdict.score(self.category)

    def asks(self, verdict: Verdict) -> float:
        """The reading that decides whether a person is asked (see `Verdict.asks`)."""
        return self.score(verdict) if self.other else verdict.asks(self.category)

    def in_review_band(self, verdict: Verdict) -> bool:
        """Not sure enough to act on, sure enough to ask a person about."""
        return self.review is not None and self.review <= self.asks(verdict) and self.score(verdict) < self.escalate

    def describe(self) -> str:
        if self.other:
            return f"triage model reads something other than {self.category} at >= {self.escalate:.2f}"
        band = f", review band {self.review:.2f}-{self.escalate:.2f}" if self.review is not None else ""
        amount = f", an amount over ${self.amount_over:,.0f} in the text" if self.amount_over is not None else ""
        return f"triage model reads {self.category} at >= {self.escalate:.2f}{amount}{band}"


# --- amounts -----------------------------------------------------------------------------
# Fixed conversion to US dollars, rounded: the threshold is a routing hint, not accounting.
USD_RATES: Mapping[str, float] = {
    "USD": 1.0, "EUR": 1.08, "GBP": 1.27, "CHF": 1.12, "CAD": 0.73, "AUD": 0.66, "NZD": 0.6,
    "JPY": 0.0067, "INR": 0.012, "BRL": 0.2, "MXN": 0.055, "SEK": 0.095, "NOK": 0.094, "DKK": 0.145,
    "PLN": 0.25, "ZAR": 0.055, "SGD": 0.74, "HKD": 0.128, "CNY": 0.14, "CZK": 0.043, "HUF": 0.0027,
    "RON": 0.22, "TRY": 0.03, "ILS": 0.27, "KRW": 0.00073, "AED": 0.27, "SAR": 0.27, "ARS": 0.001, "CLP": 0.001,
    "COP": 0.00025,
}
_SYMBOLS = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "r$": "BRL", "¥": "JPY", "₹": "INR",
            "a$": "AUD", "c$": "CAD", "ca$": "CAD", "au$": "AUD", "nz$": "NZD", "s$": "SGD", "hk$": "HKD"}
_WORDS = {"dollars": "USD", "dollar": "USD", "bucks": "USD", "euros": "EUR", "euro": "EUR", "pounds": "GBP",
          "reais": "BRL", "real": "BRL", "francs": "CHF", "franken": "CHF", "dólares": "USD", "dolares": "USD",
          "libras": "GBP", "kr": "SEK", "usd": "USD", "eur": "EUR", "gbp": "GBP",
          "us dollars": "USD", "us dollar": "USD", "u.s. dollars": "USD", "american dollars": "USD",
          "zł": "PLN", "zl": "PLN", "złotych": "PLN", "zlotych": "PLN", "zlotys": "PLN", "złoty": "PLN",
          "rs": "INR", "rupees": "INR"}
# Written before the number as words are (QA: "Rs 2,00,000", "kr 97 200" were read as no amount).
_PREFIX_WORDS = "rs|kr"
_CODES = "|".join(sorted(USD_RATES, key=len, reverse=True))
_SYMS = "|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True))
_UNITS = "|".join(sorted(_WORDS, key=len, reverse=True))
# Groups of three with any common separator, Indian lakh grouping (2,45,000), or plain digits.
_NUMBER = (r"\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d{1,2})?|\d{1,3}(?:[.,' \u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?"
           r"|\d+(?:[.,]\d{1,2})?")
_SCALE = r"(?:\s?(?P<{n}>k|m|mil|thousand|tausend|mille|million|millones|milhões|millionen)\b)?"
_AMOUNT = re.compile(
    rf"(?:(?P<pre>{_SYMS}|\b(?:{_CODES}|{_PREFIX_WORDS})\b)\.?\s?(?P<n1>{_NUMBER}){_SCALE.format(n='s1')})"
    rf"|(?:\b(?P<n2>{_NUMBER}){_SCALE.format(n='s2')}[\s-]?(?P<post>{_SYMS}|\b(?:{_CODES}|{_UNITS})\b))"
    # "3.2k" with no currency: a thousands suffix is money in a support ticket; read as dollars.
    r"|(?:\b(?P<n3>\d+(?:[.,]\d+)?)(?P<s3>k)\b)",
    re.IGNORECASE,
)
_SCALES = {"k": 1e3, "thousand": 1e3, "tausend": 1e3, "mille": 1e3, "mil": 1e3,
           "m": 1e6, "million": 1e6, "millones": 1e6, "milhões": 1e6, "millionen": 1e6}


def _number(text: str) -> float | None:
    """`14,400` `14.400` `14 400` `1,234.50` `1.234,50` `3.2` `2'000` `2,45,000` -> a float."""
    t = re.sub(r"[ '\u00a0\u202f]", "", text)
    if re.fullmatch(r"\d{1,2}(,\d{2})+,\d{3}(\.\d{1,2})?", t):  # Indian grouping
        return float(t.replace(",", ""))
    if re.fullmatch(r"\d{1,3}([.,])\d{3}(\1\d{3})*", t):  # one kind of separator in groups of 3: thousands
        return float(re.sub(r"[.,]", "", t))
    m = re.fullmatch(r"(\d{1,3}(?:([.,])\d{3})*)(?:([.,])(\d{1,2}))?", t)
    if m and m.group(2) and m.group(3) and m.group(2) != m.group(3):  # 1.234,50 or 1,234.50
        return float(re.sub(r"[.,]", "", m.group(1)) + "." + m.group(4))
    try:
        return float(t.replace(",", "."))
    except ValueError:
        return None


def amounts_usd(text: str) -> list[float]:
    """Every money amount in `text` that names its currency, in US dollars."""
    out = []
    for m in _AMOUNT.finditer(text):
        unit = (m.group("pre") or m.group("post") or "usd").lower()
        code = _SYMBOLS.get(unit) or _WORDS.get(unit) or unit.upper()
        value = _number(m.group("n1") or m.group("n2") or m.group("n3"))
        scale = (m.group("s1") or m.group("s2") or m.group("s3") or "").lower()
        if value is None or code not in USD_RATES:
            continue
        out.append(value * _SCALES.get(scale, 1.0) * USD_RATES[code])
    return out


# Amounts in English words: "twelve hundred dollars", "two and a half thousand euros",
# "eight grand", "four thousand two hundred dollars".
_ONES = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                     "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i > 1}
_NUMBER_WORD = "|".join([*_ONES, *_TENS, "hundred", "thousand", "grand", "million", "half", "a", "and"])
_WORDED = re.compile(rf"\b((?:(?:{_NUMBER_WORD})[\s-]+)*(?:{_NUMBER_WORD}))\b[\s-]*"
                     rf"(?P<unit>{_SYMS}|\b(?:{_CODES}|{_UNITS})\b)?", re.IGNORECASE)


def _worded(words: str) -> float | None:
    total, part, seen = 0.0, 0.0, False
    for w in re.split(r"[\s-]+", words.lower()):
        if w in _ONES or w in _TENS:
            part += _ONES.get(w, 0) + _TENS.get(w, 0)
            seen = True
        elif w == "hundred":
            part = (part or 1) * 100
        elif w == "half":
            part += 0.5
        elif w in ("thousand", "grand", "million"):
            total += (part or 1) * (1e6 if w == "million" else 1e3)
            part = 0.0
    return total + part if seen and total + part >= 100 else None


def worded_amounts_usd(text: str) -> list[float]:
    out = []
    for m in _WORDED.finditer(text):
        words = m.group(1)
        grand = re.search(r"\bgrand\b", words, re.IGNORECASE)
        if not m.group("unit") and not grand:
            continue
        value = _worded(words)
        unit = (m.group("unit") or "usd").lower()
        code = _SYMBOLS.get(unit) or _WORDS.get(unit) or unit.upper()
        if value is not None and code in USD_RATES:
            out.append(value * USD_RATES[code])
    return out


def largest_amount_usd(text: str) -> float | None:
    found = amounts_usd(text) + worded_amounts_usd(text)
    return max(found) if found else None
