"""The shipped model's kind (character n-grams) beside a static-embedding model (wordllama),
measured on the development writer, as the triage issue asks the choice to be made.

    pip install wordllama          # not a dependency of tierlift: only this comparison uses it
    python tests/triage/compare_embedding.py

Both are fitted on the same tickets (every writer but dara, the definitions included) and
read dara's 300 tickets, which neither saw. Three readers: logistic regression over
tierlift's n-gram features (what ships), logistic regression over wordllama's 256-dimension
embeddings (its wheel carries the weights; loaded from the package's own folder with
downloads off), and both features side by side. A ticket counts as read as urgent when its
category scores >= 0.5 (the packs' escalate threshold) and as read in review when its best
urgent score is in 0.3-0.5; the table gives recall per category, the share of near misses
read as urgent, the load time and texts per second on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import DEV, Item, load_writer, writers  # noqa: E402

from tierlift.engine.triage import CATEGORIES  # noqa: E402
from tierlift.triage.fit import fit  # noqa: E402
from tierlift.triage.model import CachedClassifier  # noqa: E402

URGENT = ("outage", "security", "data_loss", "legal", "gdpr_erasure", "refund", "churn", "manager")
Reader = Callable[[Sequence[str]], np.ndarray]  # texts -> probabilities, columns in CATEGORIES order


def ngram_reader(train: Sequence[Item]) -> Reader:
    model = CachedClassifier(fit([i.text for i in train], [i.label for i in train], "ngram"))

    def read(texts: Sequence[str]) -> np.ndarray:
        rows = []
        for t in texts:
            v = model.classify(t)
            rows.append([v.score(c) for c in CATEGORIES])
        return np.array(rows)
    return read


def load_wordllama():  # type: ignore[no-untyped-def]
    import os

    import wordllama
    from wordllama import WordLlama

    return WordLlama.load(cache_dir=os.path.dirname(wordllama.__file__), disable_download=True)


def embedding_reader(train: Sequence[Item], wl, with_ngrams: bool) -> Reader:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    ngram = ngram_reader(train) if with_ngrams else None

    def features(texts: Sequence[str]) -> np.ndarray:
        x = np.asarray(wl.embed(list(texts), norm=True), dtype=np.float64)
        return np.hstack([x, ngram(texts)]) if ngram is not None else x

    labels = [i.label for i in train]
    classes = [c for c in CATEGORIES if c in set(labels)]
    clf = LogisticRegression(C=8.0, max_iter=3000, class_weight="balanced")
    clf.fit(features([i.text for i in train]), [classes.index(label) for label in labels])

    def read(texts: Sequence[str]) -> np.ndarray:
        p = clf.predict_proba(features(texts))
        out = np.zeros((len(texts), len(CATEGORIES)))
        for j, k in enumerate(clf.classes_):
            out[:, CATEGORIES.index(classes[k])] = p[:, j]
        return out
    return read


def score(read: Reader, test: Sequence[Item]) -> dict[str, str]:
    started = time.monotonic()
    probs = read([i.text for i in test])
    rate = len(test) / (time.monotonic() - started)
    row: dict[str, str] = {}
    for cat in URGENT:
        items = [k for k, i in enumerate(test) if i.group == cat]
        hit = sum(probs[k, CATEGORIES.index(cat)] >= 0.5 for k in items)
        row[cat] = f"{hit}/{len(items)}"
    near = [k for k, i in enumerate(test) if i.group == "near_miss"]  # small refunds are refunds by their words
    urgent_cols = [CATEGORIES.index(c) for c in URGENT]
    best = probs[:, urgent_cols].max(axis=1)
    row["near misses read urgent"] = f"{np.mean(best[near] >= 0.5):.1%}"
    row["near misses in review"] = f"{np.mean((best[near] >= 0.3) & (best[near] < 0.5)):.1%}"
    labels = [i.label for i in test]
    row["accuracy"] = f"{np.mean([CATEGORIES[int(np.argmax(p))] == lab for p, lab in zip(probs, labels, strict=True)]):.1%}"
    row["texts/s"] = f"{rate:,.0f}"
    return row


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    try:
        started = time.monotonic()
        wl = load_wordllama()
        wl_load = time.monotonic() - started
    except ImportError:
        print("wordllama is not installed: `pip install wordllama` (only this comparison uses it)", file=sys.stderr)
        return 2
    train = [i for w in writers() if w != DEV for i in load_writer(w)]
    test = load_writer(DEV)
    print(f"fitted on {len(train)} tickets of {', '.join(w for w in writers() if w != DEV)}; "
          f"read {len(test)} tickets of {DEV} (unseen); wordllama loaded in {wl_load * 1000:.0f} ms\n")
    rows = {"n-grams (shipped kind)": score(ngram_reader(train), test),
            "wordllama embeddings": score(embedding_reader(train, wl, False), test),
            "both side by side": score(embedding_reader(train, wl, True), test)}
    columns = list(next(iter(rows.values())))
    print("| reader | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(row[c] for c in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
