"""Fit the model that ships in the wheel (triage/shipped/model.npz) on the whole corpus.

    python tests/triage/build_model.py

The shipped model is fitted on every writer and the category definitions; its honest
figures are those of tests/triage/evaluate.py, where each writer is scored by a model fitted
without it. The header records the corpus digest, so a test can tell a stale model.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import HERE, load_writer, writers  # noqa: E402

from tierlift.triage.fit import DEFAULTS, fit, with_subjects  # noqa: E402
from tierlift.triage.model import SHIPPED, save  # noqa: E402

OUT = Path(__file__).resolve().parents[2] / "triage" / "shipped" / "model.npz"


def corpus_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(HERE.rglob("*.jsonl")):
        h.update(path.relative_to(HERE).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    started = time.monotonic()
    items = [i for w in writers() for i in load_writer(w)]
    languages = sorted({i.language for i in items}, key=lambda lang: (lang != "en", lang))
    figures = {"corpus": corpus_digest(), "tickets": len(items), "writers": writers(), "languages": languages,
               **DEFAULTS}
    texts, labels, repeats = with_subjects((i.subject, i.body, i.label) for i in items)
    figures["subjects_alone"] = sum(repeats)
    model = fit(texts, labels, f"{SHIPPED} {figures['corpus'][:8]}", figures, repeats=repeats)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save(model, OUT)
    print(f"fitted on {len(items)} tickets of {', '.join(writers())} in {time.monotonic() - started:.1f} s: "
          f"{len(model.vocabulary)} features, {OUT.stat().st_size / 1e6:.1f} MB -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
