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
from collections import Counter, OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from tierlift.engine.triage import Verdict
from tierlift.triage.features import WORD, fold, sentences, word_features

SHIPPED = "tierlift-triage-en-es-de-fr-pt"
EXPLAIN_FROM = 0.2
SURE_WORDS = 12  # fewer words than this and a reading is flattened (thin evidence)  # below this a category's words are not worked out (no policy asks that low)
FORMAT = 1
WORD_MEMO = 100_000  # words whose vocabulary columns a model keeps (as features.word_features)


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

    def scores(self, text: str) -> tuple[dict[str, float], Mapping[str, tuple[str, ...]], Mapping[str, str]]:
        """Probabilities per category, and per category the words and sentence that weighed most."""
        index, weight, words = self._vector(text)
        logits = self.bias + (self.weights[:, index] @ weight if len(index) else 0.0)
        # A handful of words is thin evidence: the reading of a text shorter than SURE_WORDS
        # is flattened in proportion, so "SAML errors." asks a person rather than pages.
        logits = (logits - logits.max()) * min(1.0, words / SURE_WORDS)
        probs = np.exp(logits) / np.exp(logits).sum()
        scores = {c: float(p) for c, p in zip(self.classes, probs, strict=True)}
        # Only a reading that could be acted on or asked about is ever explained, and only
        # when something reads the explanation (a note, `simulate --json`): it costs ten
        # times the reading itself.
        explain = [c for c in self.classes if c != "none" and scores[c] >= EXPLAIN_FROM]
        evidence = _Evidence(self, text, explain, index, weight)
        return scores, evidence.words, evidence.sentence

    def word_columns(self, w: str) -> tuple[int, ...]:
        """The vocabulary columns of a word's own features, in `word_features` order
        (worked out once per word and kept, words repeat; the memo is bounded)."""
        memo: dict[str, tuple[int, ...]] = self.__dict__.setdefault("_word_columns", {})
        found = memo.get(w)
        if found is None:
            if len(memo) >= WORD_MEMO:
                memo.clear()
            vget = self.vocabulary.get
            found = memo[w] = tuple(j for f in word_features(w) if (j := vget(f)) is not None)
        return found

    def _columns(self, text: str) -> tuple[list[int], list[int], list[int], list[int], dict[str, int]]:
        """Each occurrence's vocabulary column in the order `counts` meets the features (a
        word's own, then the pair it ends); per word of the text, how many columns it gave,
        its sentence and which distinct word it is (`words`, in order of appearance)."""
        cols: list[int] = []
        per_word: list[int] = []
        sentence_of: list[int] = []
        word_of: list[int] = []
        words: dict[str, int] = {}
        vget = self.vocabulary.get
        memo: dict[str, tuple[int, ...]] = self.__dict__.get("_word_columns") or {}
        for si, sentence in enumerate(sentences(fold(text))):
            prev = ""
            before = len(cols)
            for w in WORD.findall(sentence):
                found = memo.get(w)
                if found is None:
                    found = self.word_columns(w)
                    memo = self.__dict__["_word_columns"]
                cols += found
                if prev and (j := vget("b " + prev + " " + w)) is not None:
                    cols.append(j)
                per_word.append(len(cols) - before)
                before = len(cols)
                word_of.append(words.setdefault(w, len(words)))
                prev = w
            sentence_of += [si] * (len(per_word) - len(sentence_of))
        return cols, per_word, sentence_of, word_of, words

    def _vector(self, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        # The same term frequencies as `counts(text)` kept to the vocabulary, in the same
        # order (first occurrence: the sums below add in that order, to the same floats).
        cols, per_word, _s, _w, _words = self._columns(text)
        words = len(per_word)
        tf = Counter(cols)
        index = np.fromiter(tf, dtype=np.int64, count=len(tf))
        if not len(index):
            return index, np.zeros(0), words
        weight = (1.0 + np.log(np.fromiter(tf.values(), dtype=np.float64, count=len(tf)))) * self.idf[index]
        weight /= math.sqrt(float(weight @ weight)) or 1.0
        return index, weight, words

    def _evidence(self, text: str) -> _Places:
        """Where each feature of the text stands: one entry per occurrence (sentence, word)."""
        cols, per_word, sentence_of, word_of, words = self._columns(text)
        return _Places(np.array(cols, dtype=np.int64), np.repeat(np.array(sentence_of, dtype=np.int64), per_word),
                       np.repeat(np.array(word_of, dtype=np.int64), per_word), list(words), sentences(text))


@dataclass(frozen=True)
class _Places:
    cols: np.ndarray  # the vocabulary column of each occurrence
    sentence: np.ndarray  # its sentence
    word: np.ndarray  # its word (an index into `words`)
    words: list[str]
    sentences: list[str]


class _Evidence:
    """The words and sentence that weighed most for a category, worked out on first use and
    for that category only: it costs more than the reading itself."""

    def __init__(self, model: LinearModel, text: str, cats: list[str], index: np.ndarray, weight: np.ndarray):
        self._model, self._text, self._cats = model, text, cats
        self._index, self._weight = index, weight
        self._places: _Places | None = None
        self._done: dict[str, tuple[tuple[str, ...], str]] = {}
        self._lock = threading.Lock()
        self.words: Mapping[str, tuple[str, ...]] = _Lazy(self, 0)  # type: ignore[assignment]
        self.sentence: Mapping[str, str] = _Lazy(self, 1)  # type: ignore[assignment]

    def categories(self) -> list[str]:
        return self._cats

    def of(self, cat: str) -> tuple[tuple[str, ...], str]:
        with self._lock:
            if cat not in self._done:
                self._done[cat] = self._work_out(cat)
            return self._done[cat]

    def _work_out(self, cat: str) -> tuple[tuple[str, ...], str]:
        if self._places is None:
            self._places = self._model._evidence(self._text)
        p = self._places
        if not len(p.cols):
            return (), ""
        # Each occurrence carries its feature's push (weight x tf-idf), shared among the
        # feature's occurrences; summed by word and by sentence.
        uniq, inverse, n = np.unique(p.cols, return_inverse=True, return_counts=True)
        push = (self._model.weights[self._model.classes.index(cat), uniq] * self._tfidf(uniq) / n)[inverse]
        by_word = np.bincount(p.word, weights=np.where(push > 0, push, 0.0), minlength=len(p.words))
        top = _top_words(p.words, by_word)
        by_sentence = np.bincount(p.sentence, weights=push, minlength=len(p.sentences))
        best = p.sentences[int(np.argmax(by_sentence))] if len(p.sentences) else ""
        return tuple(top), best if len(best) <= 160 else best[:157] + "..."


    def _tfidf(self, cols: np.ndarray) -> np.ndarray:
        """The reading's weight of each column in `cols` (sorted), 0 for a column it lacks."""
        index, weight = self._index, self._weight
        if not len(index):
            return np.zeros(len(cols))
        order = np.argsort(index, kind="stable")
        pos = np.minimum(np.searchsorted(index[order], cols), len(index) - 1)
        at = order[pos]
        return np.where(index[at] == cols, weight[at], 0.0)


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

    def scores(self, text: str) -> tuple[dict[str, float], Mapping[str, tuple[str, ...]], Mapping[str, str]]: ...


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

    def scores(self, text: str) -> tuple[dict[str, float], Mapping[str, tuple[str, ...]], Mapping[str, str]]:
        base, words, sentence = self.shipped.scores(text)
        own, _w, _s = self.head.scores(text)
        known = sum(base[c] for c in own if c in base)
        out = dict(base)
        for c, p in own.items():
            if c in out:
                out[c] = (1 - self.weight) * base[c] + self.weight * p * known
        return out, words, sentence


class CachedClassifier:
    """The engine's Classifier: a model plus a cache by content (a ticket version's text is
    read once, however many conditions and cycles ask)."""

    def __init__(self, model: Scorer, size: int = 20_000):
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
        scores, words, sentence = self.model.scores(text)
        verdict = Verdict(scores, words, sentence, self.name)
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
