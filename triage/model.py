"""A linear model over `features`: load, score, explain, cache.

The model is data: a vocabulary, the inverse document frequencies, one row of weights per
category and a bias, saved as one compressed `.npz` (numpy arrays and a JSON header, no
pickle: loading runs no code). A reading is multinomial logistic regression on sublinear,
L2-normalised tf-idf. The words that weighed most for a category are the words whose
features pushed its score up the most; the sentence is the one whose features did.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from itertools import repeat
from operator import is_
from pathlib import Path
from typing import NamedTuple, Protocol, cast

import numpy as np

from tierlift.engine.triage import Verdict
from tierlift.triage.features import WORD, WORD_OR_BREAK, fold, sentences, word_features

SHIPPED = "tierlift-triage-en-es-de-fr-pt"
EXPLAIN_FROM = 0.2  # below this a category's words are not worked out (no policy asks that low)
# Fewer words than this and a reading is flattened in proportion (thin evidence): a terse
# ticket asks a person (the review band) rather than pages. Measured on 2026-12-06, before
# subjects were fitted alone (fit.py `with_subjects`; docs/triage.md has the figures after),
# with the terse training writer tess, read by a model fitted without it: 58 of its 105
# urgent tickets escalated outright with 12, 66 with the square root of words / 12, 73 with
# 6 (as many as with no flattening), none of its 69 terse near misses escalated with any.
# 12 stays: with 6, "Weird SSO error / SAML errors." (policies/cases/three-tier.yaml) and
# "Status page down but API fine" page on-call, and "Website down" loses its outage pattern
# (its `none` reading, flattened less, reaches the packs' 0.2 and silences it).
SURE_WORDS = 12
FORMAT = 1
WORD_MEMO = 100_000  # words whose vocabulary columns a model keeps (as features.word_features)


class Reading(NamedTuple):
    """What a model read in one text (the parts of an engine `Verdict`)."""

    scores: dict[str, float]
    words: Mapping[str, tuple[str, ...]]
    sentence: Mapping[str, str]
    thin: dict[str, float]  # a text of a few words: the scores before flattening


def _probabilities(classes: tuple[str, ...], logits: np.ndarray) -> dict[str, float]:
    probs = np.exp(logits) / np.exp(logits).sum()
    return {c: float(p) for c, p in zip(classes, probs, strict=True)}


def sureness(words: int) -> float:
    """How far a reading of `words` words is trusted: 1 from SURE_WORDS on, less below it."""
    return min(1.0, words / SURE_WORDS)


class ModelError(ValueError):
    """A model file that cannot be used (wrong format, damaged)."""


@dataclass(frozen=True)
class LinearModel:
    name: str
    classes: tuple[str, ...]
    vocabulary: Mapping[str, int]
    idf: np.ndarray  # (features,)
    weights: np.ndarray  # (classes, features)
    bias: np.ndarray  # (classes,)
    figures: Mapping[str, object]  # what it was fitted on and how it measured

    def scores(self, text: str) -> Reading:
        """Probabilities per category, and per category the words and sentence that weighed most."""
        index, weight, words = self._vector(text)
        logits = self.bias + (self.weights[:, index] @ weight if len(index) else 0.0)
        logits = logits - logits.max()
        scores = _probabilities(self.classes, logits)
        # A handful of words is thin evidence: the reading of a text shorter than SURE_WORDS
        # is flattened in proportion (see `sureness`) and never acted on alone; what it read
        # before is kept, to ask a person about (the review band, engine.triage.Verdict.thin).
        thin: dict[str, float] = {}
        if (sure := sureness(words)) < 1.0:
            thin, scores = scores, _probabilities(self.classes, logits * sure)
        # Only a reading that could be acted on or asked about is ever explained, and only
        # when something reads the explanation (a note, `simulate --json`): it costs about
        # as much again as the reading itself (0.7 times it per category).
        explain = tuple(c for c in self.classes if c != "none" and max(scores[c], thin.get(c, 0.0)) >= EXPLAIN_FROM)
        if not explain:
            # Most readings: nothing to explain, nothing kept but the scores (plain maps,
            # which the interpreter's full collections do not walk).
            return Reading(scores, {}, {}, thin)
        # A kept reading holds its evidence: the text, not its columns (~13 KB for a 1 KB
        # ticket, worked out again on the rare explanation; issue 25's memory).
        evidence = _Evidence(self, text, explain)
        return Reading(scores, evidence.words(), evidence.sentence(), thin)

    def word_columns(self, prev: str, w: str) -> np.ndarray:
        """The vocabulary columns word `w` gives after word `prev` ("" at a sentence's start):
        its own features' in `word_features` order, then the pair's if the vocabulary has it
        (worked out once per pair and kept, pairs repeat; a word's own columns are kept
        apart, words repeat more; both memos are bounded)."""
        memo: dict[tuple[str, str], np.ndarray] = self.__dict__.setdefault("_word_columns", {})
        found = memo.get((prev, w))
        if found is None:
            if len(memo) >= WORD_MEMO:
                memo.clear()
            own = self._own_columns(w)
            j = self.vocabulary.get("b " + prev + " " + w) if prev else None
            # Most pairs are not in the vocabulary: they share the word's own array.
            found = memo[(prev, w)] = own if j is None else np.concatenate((own, np.array((j,), dtype=np.int32)))
        return found

    def _own_columns(self, w: str) -> np.ndarray:
        memo: dict[str, np.ndarray] = self.__dict__.setdefault("_own_memo", {})
        found = memo.get(w)
        if found is None:
            if len(memo) >= WORD_MEMO:
                memo.clear()
            vget = self.vocabulary.get
            found = memo[w] = np.array([j for f in word_features(w) if (j := vget(f)) is not None], dtype=np.int32)
        return found

    def _walk(self, text: str) -> _Walk:
        """The text's words, each with its vocabulary columns: its own features', then the
        pair it ends (when the vocabulary has it), in the order `counts` meets them.

        One scan of the folded text finds the words and where `sentences` would split (an
        empty token there), so a word after a break starts a sentence: the same words and
        pairs as `counts`, without cutting the text into sentences first (that cut was a
        third of a reading; the evidence, rarely asked, still cuts, to quote a sentence)."""
        found = WORD_OR_BREAK.findall(fold(text))
        pairs = [(p, w) for p, w in zip(["", *found], found, strict=False) if w]  # each with the one before
        memo: dict[tuple[str, str], np.ndarray] = self.__dict__.setdefault("_word_columns", {})
        known = list(map(memo.get, pairs))
        if any(map(is_, known, repeat(None))):
            known = [k if k is not None else self.word_columns(*p) for k, p in zip(known, pairs, strict=True)]
        own = cast(list[np.ndarray], known)
        cols = np.concatenate(own) if own else np.zeros(0, dtype=np.int32)
        return _Walk([w for _p, w in pairs], own, cols)

    def _vector(self, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        # The same term frequencies as `counts(text)` kept to the vocabulary, by column.
        # The last text's vector is kept too: an explanation asked of the reading just made
        # weighs each word by it (_Evidence._reading_of), and worked it out again (issue 25).
        last: tuple[str, np.ndarray, np.ndarray, int] | None = self.__dict__.get("_last_vector")
        if last is not None and last[0] is text:
            return last[1], last[2], last[3]
        index, weight, words = self._work_vector(text)
        self.__dict__["_last_vector"] = (text, index, weight, words)
        return index, weight, words

    def _work_vector(self, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        walk = self._walk(text)
        # The last text's walk is kept: an explanation, when one is asked, is asked of the
        # reading just made (a triage review), and walks the same words.
        self.__dict__["_last_walk"] = (text, walk)
        words = len(walk.tokens)
        if not len(walk.cols):
            return walk.cols, np.zeros(0), words
        index, tf = _column_counts(walk.cols)
        weight = (1.0 + np.log(tf.astype(np.float64))) * self.idf[index]
        weight /= math.sqrt(float(weight @ weight)) or 1.0
        return index, weight, words

    def _evidence(self, text: str) -> _Places:
        """Where each feature of the text stands: one entry per occurrence (sentence, word).
        The sentences are the text's own, to quote; each is folded on its own to count its
        words (a cut is a space, folded or not, so no word spans two). Counting them on the
        folded text's cut instead put a quote out of step with its words wherever folding
        makes a cut ("down… nobody" reads as "down... nobody"), and past the last one."""
        last: tuple[str, _Walk] | None = self.__dict__.get("_last_walk")
        walk = last[1] if last is not None and last[0] is text else self._walk(text)
        words = list(dict.fromkeys(walk.tokens))
        number = {w: i for i, w in enumerate(words)}
        word_of = np.fromiter(map(number.__getitem__, walk.tokens), dtype=np.int64, count=len(walk.tokens))
        quoted = sentences(text)
        per_sentence = [len(WORD.findall(fold(s))) for s in quoted]
        if sum(per_sentence) != len(walk.tokens):  # not seen; a whole text is still a quote
            quoted, per_sentence = [" ".join(text.split())], [len(walk.tokens)]
        sentence_of = np.repeat(np.arange(len(per_sentence), dtype=np.int64), per_sentence)
        per_word = np.fromiter(map(len, walk.own), dtype=np.int64, count=len(walk.own))
        return _Places(walk.cols, np.repeat(sentence_of, per_word), np.repeat(word_of, per_word), words, quoted)


def _column_counts(cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of `cols` (not empty), ascending, and how often each occurs:
    np.unique's with return_counts, without its generality (half its time here)."""
    ordered = np.sort(cols)
    start = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[start], np.diff(np.append(start, len(ordered)))


@dataclass(frozen=True)
class _Walk:
    tokens: list[str]  # the words of the folded text, sentence after sentence
    own: list[np.ndarray]  # the columns each word gave
    cols: np.ndarray  # the columns, word after word


@dataclass(frozen=True)
class _Places:
    cols: np.ndarray  # the vocabulary column of each occurrence
    sentence: np.ndarray  # its sentence
    word: np.ndarray  # its word (an index into `words`)
    words: list[str]
    sentences: list[str]


class _Evidence:
    """The words and sentence that weighed most for a category, worked out on first use and
    for that category only: it costs more than the reading itself. Kept with its reading
    in the classifier's cache (thousands of them): slots, and one lock for all of them
    (explanations are rare and short), so each is few objects."""

    __slots__ = ("_model", "_text", "_cats", "_reading", "_places", "_done")
    _lock = threading.Lock()

    def __init__(self, model: LinearModel, text: str, cats: tuple[str, ...]):
        self._model, self._text, self._cats = model, text, cats
        self._reading: tuple[np.ndarray, np.ndarray] | None = None  # the text's columns and weights, when needed
        self._places: _Places | None = None
        self._done: dict[str, tuple[tuple[str, ...], str]] = {}

    # Made on asking, not kept here: a _Lazy holds its evidence, and evidence holding its
    # _Lazy back would be a cycle, freed only by the interpreter's full collection.
    def words(self) -> Mapping[str, tuple[str, ...]]:
        return _Lazy(self, 0)  # type: ignore[return-value]

    def sentence(self) -> Mapping[str, str]:
        return _Lazy(self, 1)  # type: ignore[return-value]

    def categories(self) -> tuple[str, ...]:
        return self._cats

    def of(self, cat: str) -> tuple[tuple[str, ...], str]:
        with self._lock:
            if cat not in self._done:
                self._done[cat] = self._work_out(cat)
                if len(self._done) == len(self._cats):  # all worked out: the text's columns go
                    self._places = self._reading = None
            return self._done[cat]

    def _work_out(self, cat: str) -> tuple[tuple[str, ...], str]:
        if self._places is None:
            self._places = self._model._evidence(self._text)
        p = self._places
        if not len(p.cols):
            return (), ""
        # Each occurrence carries its feature's push (weight x tf-idf), shared among the
        # feature's occurrences; summed by word and by sentence. The reading's columns are
        # the text's distinct columns, ascending: an occurrence finds its own by bisection.
        index, weight = self._reading_of()
        at = np.searchsorted(index, p.cols)
        n = np.bincount(at, minlength=len(index))
        push = (self._model.weights[self._model.classes.index(cat), index] * weight / n)[at]
        by_word = np.bincount(p.word, weights=np.where(push > 0, push, 0.0), minlength=len(p.words))
        top = _top_words(p.words, by_word)
        by_sentence = np.bincount(p.sentence, weights=push, minlength=len(p.sentences))
        best = p.sentences[int(np.argmax(by_sentence))] if len(p.sentences) else ""
        return tuple(top), best if len(best) <= 160 else best[:157] + "..."

    def _reading_of(self) -> tuple[np.ndarray, np.ndarray]:
        """The reading's distinct columns (ascending) and their tf-idf weights."""
        if self._reading is None:
            index, weight, _ = self._model._vector(self._text)  # the same columns and floats as the reading's
            self._reading = (index, weight)
        return self._reading


def _top_words(words: list[str], by_word: np.ndarray) -> list[str]:
    """The three telling words that pushed most, strongest first."""
    pushed = by_word.tolist()
    top: list[str] = []
    for i in np.argsort(-by_word).tolist():
        if pushed[i] > 0 and _telling(words[i]):
            top.append(words[i])
            if len(top) == 3:
                break
    return top


class _Lazy(Mapping[str, object]):
    __slots__ = ("_evidence", "_part")

    def __init__(self, evidence: _Evidence, part: int):
        self._evidence, self._part = evidence, part

    def __getitem__(self, key: str) -> object:
        if key not in self._evidence.categories():
            raise KeyError(key)
        return self._evidence.of(key)[self._part]

    def __iter__(self) -> Iterator[str]:
        return iter(self._evidence.categories())

    def __len__(self) -> int:
        return len(self._evidence.categories())


# Words too plain to explain anything, though their letters may weigh (English and the four
# other languages the corpus holds).
_PLAIN = frozenset("""the and for with since from that this have has are was were our your you not all any
please can cant could would will just also but into out its per via der die das und ist nicht mit von
los las del que con por para una uno les des est pas pour avec dos das que com nao uma para""".split())


def _telling(w: str) -> bool:
    return len(w) > 2 and w not in _PLAIN and bool(w.strip("0"))


class Scorer(Protocol):
    @property
    def name(self) -> str: ...

    def scores(self, text: str) -> Reading: ...


@dataclass(frozen=True)
class Blend:
    """The shipped model with a helpdesk's own head (`tierlift triage learn`): for the
    categories the head knows, probability mass is shared between the two by `weight`; the
    categories its history never showed keep the shipped reading. Words and sentence come
    from the shipped model (fitted on far more text)."""

    shipped: LinearModel
    head: LinearModel
    weight: float

    @property
    def name(self) -> str:
        return f"{self.shipped.name} + {self.head.name} ({self.weight:.2f})"

    def scores(self, text: str) -> Reading:
        base, own = self.shipped.scores(text), self.head.scores(text)
        thin = self._blend(base.thin, own.thin or own.scores) if base.thin else {}
        return Reading(self._blend(base.scores, own.scores), base.words, base.sentence, thin)

    def _blend(self, base: Mapping[str, float], own: Mapping[str, float]) -> dict[str, float]:
        known = sum(base[c] for c in own if c in base)
        out = dict(base)
        for c, p in own.items():
            if c in out:
                out[c] = (1 - self.weight) * base[c] + self.weight * p * known
        return out


# Readings kept. A kept reading holds its scores and, when it could be acted on or asked
# about, its text to explain it with: ~3.4 KB for the engine benchmark's 1 KB tickets. It
# held the text's columns too (~13 KB), and 20,000 of them took the benchmark's worker with
# 100,000 tickets from 124 MB to 438 MB (tests/bench/run.py, 2026-12-04).
CACHED_READINGS = 20_000


class CachedClassifier:
    """The engine's Classifier: a model plus a cache by content (a ticket version's text is
    read once, however many conditions ask; a wake-up of a recently read ticket reads it
    from here)."""

    def __init__(self, model: Scorer, size: int = CACHED_READINGS):
        self.model = model
        self.name = model.name
        self._cache: OrderedDict[bytes, Verdict] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self.reads = 0  # texts actually classified (for tests and metrics)

    def classify(self, text: str) -> Verdict:
        key = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        scores, words, sentence, thin = self.model.scores(text)
        verdict = Verdict(scores, words, sentence, self.name, thin)
        with self._lock:
            self.reads += 1
            self._cache[key] = verdict
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return verdict


def save(model: LinearModel, path: Path) -> None:
    path.write_bytes(dumps(model))


def dumps(model: LinearModel) -> bytes:
    header = {"format": FORMAT, "name": model.name, "classes": list(model.classes),
              "vocabulary": sorted(model.vocabulary, key=lambda f: model.vocabulary[f]), "figures": model.figures}
    buf = io.BytesIO()
    np.savez_compressed(buf, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                        idf=model.idf.astype(np.float32), weights=model.weights.astype(np.float32),
                        bias=model.bias.astype(np.float32))
    return buf.getvalue()


def loads(data: bytes, source: str) -> LinearModel:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            idf, weights, bias = z["idf"], z["weights"], z["bias"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{source}: not a tierlift triage model ({exc})") from None
    if header.get("format") != FORMAT:
        raise ModelError(f"{source}: model format {header.get('format')!r}, this tierlift reads {FORMAT}")
    vocab = {f: i for i, f in enumerate(header["vocabulary"])}
    if weights.shape != (len(header["classes"]), len(vocab)) or idf.shape != (len(vocab),):
        raise ModelError(f"{source}: the model's arrays do not fit its vocabulary")
    return LinearModel(header["name"], tuple(header["classes"]), vocab, idf, weights, bias, header.get("figures", {}))


def load_shipped() -> LinearModel:
    """The model in the wheel (tierlift/triage/shipped/model.npz); never downloaded."""
    ref = resources.files("tierlift.triage") / "shipped" / "model.npz"
    return loads(ref.read_bytes(), "tierlift.triage/shipped/model.npz")
