"""Fitting a LinearModel on labelled text (scikit-learn, imported here only: the daemon that
just reads never loads it).

Multinomial logistic regression on the tf-idf of `features`, with classes weighted by their
frequency so a rare category is not drowned by `none`. The vocabulary keeps features seen
in at least `min_df` texts, so one writer's quirk cannot become a rule; a text that repeats
another's words (a subject fitted alone, `with_subjects`) is fitted on but not counted there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from tierlift.engine.triage import CATEGORIES
from tierlift.triage.features import counts
from tierlift.triage.model import LinearModel

# repeat_weight: a subject fitted alone weighs half a ticket (`with_subjects`). Chosen on the
# terse training writer tess and on the rotation, each read by a model fitted without it
# (2026-12-06): 1.0 read one rotation writer's near misses escalated 3.5% (teamflow), 0.5 kept
# every rotation writer under 2% and gained as much outright (docs/triage.md).
DEFAULTS = {"C": 8.0, "min_df": 2, "repeat_weight": 0.5}


class Training(NamedTuple):
    """Texts to fit on, their labels, and which texts repeat words of another (a subject alone):
    those are fitted on but not counted for the vocabulary or idf, so a feature still needs
    `min_df` tickets, not one ticket's subject twice."""

    texts: list[str]
    labels: list[str]
    repeats: list[bool]


def with_subjects(tickets: Iterable[tuple[str, str, str]]) -> Training:
    """From (subject, body, label): each ticket as it is read (subject and body), and again
    its subject alone under the same label when it has both.

    A subject is what a terse ticket reads like ("Production down", "Account hacked?"): fitted
    on whole tickets only, the model read a text of a few words by its prior, and "Production
    is down, nothing works." as a plain question (none 0.65). docs/triage.md has the figures."""
    out = Training([], [], [])
    for subject, body, label in tickets:
        out.texts.append(f"{subject}\n{body}")
        out.labels.append(label)
        out.repeats.append(False)
        if subject.strip() and body.strip():
            out.texts.append(f"{subject}\n")
            out.labels.append(label)
            out.repeats.append(True)
    return out


def fit(texts: Sequence[str], labels: Sequence[str], name: str, figures: Mapping[str, object] | None = None,
        C: float = DEFAULTS["C"], min_df: int = int(DEFAULTS["min_df"]), repeats: Sequence[bool] = (),
        repeat_weight: float = DEFAULTS["repeat_weight"]) -> LinearModel:
    """`repeats`: per text, whether it repeats another's words (`Training.repeats`; none when
    empty); such texts weigh `repeat_weight` in the fit."""
    from sklearn.linear_model import LogisticRegression

    if len(texts) != len(labels) or not texts:
        raise ValueError("fit needs as many labels as texts, and at least one text")
    repeated = list(repeats) or [False] * len(texts)
    if len(repeated) != len(texts):
        raise ValueError("fit needs a repeat mark per text, or none")
    docs = [counts(t) for t in texts]
    vocab, idf = _vocabulary([d for d, r in zip(docs, repeated, strict=True) if not r], min_df)
    x = _matrix(docs, vocab, idf)
    classes = [c for c in CATEGORIES if c in set(labels)]
    y = np.array([classes.index(label) for label in labels])
    clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
    clf.fit(x, y, sample_weight=np.array([repeat_weight if r else 1.0 for r in repeated]))
    weights = np.zeros((len(classes), len(vocab)))
    bias = np.zeros(len(classes))
    weights[clf.classes_] = clf.coef_
    bias[clf.classes_] = clf.intercept_
    return LinearModel(name, tuple(classes), vocab, idf, weights, bias, dict(figures or {}))


def _vocabulary(docs: Sequence[Mapping[str, int]], min_df: int) -> tuple[dict[str, int], np.ndarray]:
    df: dict[str, int] = {}
    for d in docs:
        for f in d:
            df[f] = df.get(f, 0) + 1
    vocab = {f: i for i, f in enumerate(sorted(f for f, n in df.items() if n >= min_df))}
    n = len(docs)
    return vocab, np.array([math.log((1 + n) / (1 + df[f])) + 1.0 for f in vocab], dtype=np.float64)


def _matrix(docs: Sequence[Mapping[str, int]], vocab: Mapping[str, int], idf: np.ndarray) -> Any:
    """Sublinear tf-idf rows, L2-normalised, as the model reads them (model.LinearModel._vector)."""
    from scipy.sparse import csr_matrix

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, d in enumerate(docs):
        idx = [vocab[f] for f in d if f in vocab]
        w = np.array([1.0 + math.log(d[f]) for f in d if f in vocab]) * idf[idx]
        norm = math.sqrt(float(w @ w)) or 1.0
        rows += [r] * len(idx)
        cols += idx
        vals += list(w / norm)
    return csr_matrix((vals, (rows, cols)), shape=(len(docs), len(vocab)))
