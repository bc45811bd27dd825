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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from tierlift.engine.triage import Verdict
from tierlift.triage.features import occurrences, sentences

SHIPPED = "tierlift-triage-en-es-de-fr-pt"
EXPLAIN_FROM = 0.15  # below this a category's words are not worked out (no policy asks that low)
FORMAT = 1


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

    def scores(self, text: str) -> tuple[dict[str, float], dict[str, tuple[str, ...]], dict[str, str]]:
        """Probabilities per category, and per category the words and sentence that weighed most."""
        index, weight, where = self._vector(text)
        logits = self.bias + (self.weights[:, index] @ weight if len(index) else 0.0)
        logits = logits - logits.max()
        probs = np.exp(logits) / np.exp(logits).sum()
        words: dict[str, tuple[str, ...]] = {}
        best_sentence: dict[str, str] = {}
        parts = sentences(text)
        for ci, cat in enumerate(self.classes):
            # Only a reading that could be acted on or asked about is ever explained.
            if cat == "none" or not len(index) or probs[ci] < EXPLAIN_FROM:
                continue
            push = self.weights[ci, index] * weight
            words[cat] = _top_words(push, where, 3)
            best_sentence[cat] = _top_sentence(push, where, parts)
        return {c: float(p) for c, p in zip(self.classes, probs, strict=True)}, words, best_sentence

    def _vector(self, text: str) -> tuple[np.ndarray, np.ndarray, list[list[tuple[int, str]]]]:
        tf: dict[int, int] = {}
        where: dict[int, list[tuple[int, str]]] = {}
        for occ in occurrences(text):
            j = self.vocabulary.get(occ.feature)
            if j is not None:
                tf[j] = tf.get(j, 0) + 1
                where.setdefault(j, []).append((occ.sentence, occ.word))
        index = np.fromiter(tf, dtype=np.int64, count=len(tf))
        if not len(index):
            return index, np.zeros(0), []
        weight = (1.0 + np.log(np.fromiter(tf.values(), dtype=np.float64, count=len(tf)))) * self.idf[index]
        weight /= math.sqrt(float(weight @ weight)) or 1.0
        return index, weight, [where[j] for j in tf]


# Words too plain to explain anything, though their letters may weigh (English and the four
# other languages the corpus holds).
_PLAIN = frozenset("""the and for with since from that this have has are was were our your you not all any
please can cant could would will just also but into out its per via der die das und ist nicht mit von
los las del que con por para una uno les des est pas pour avec dos das que com nao uma para""".split())


def _top_words(push: np.ndarray, where: Sequence[list[tuple[int, str]]], k: int) -> tuple[str, ...]:
    by_word: dict[str, float] = {}
    for p, places in zip(push, where, strict=True):
        if p > 0:
            for _s, w in places:
                if len(w) > 2 and w not in _PLAIN and w.strip("0") and not w.isdigit():
                    by_word[w] = by_word.get(w, 0.0) + float(p) / len(places)
    return tuple(w for w, _ in sorted(by_word.items(), key=lambda x: -x[1])[:k])


def _top_sentence(push: np.ndarray, where: Sequence[list[tuple[int, str]]], parts: list[str]) -> str:
    by_sentence: dict[int, float] = {}
    for p, places in zip(push, where, strict=True):
        for s, _w in places:
            by_sentence[s] = by_sentence.get(s, 0.0) + float(p) / len(places)
    if not by_sentence:
        return ""
    best = max(by_sentence, key=lambda s: by_sentence[s])
    text = parts[best] if best < len(parts) else ""
    return text if len(text) <= 160 else text[:157] + "..."


class Scorer(Protocol):
    name: str

    def scores(self, text: str) -> tuple[dict[str, float], dict[str, tuple[str, ...]], dict[str, str]]: ...


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

    def scores(self, text: str) -> tuple[dict[str, float], dict[str, tuple[str, ...]], dict[str, str]]:
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
