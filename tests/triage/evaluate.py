"""How well tierlift reads tickets, measured on writers the model never saw.

    python tests/triage/evaluate.py            # the whole table: every rotation, both packs
    python tests/triage/evaluate.py --test chloe --json out.json
    python tests/triage/evaluate.py --fresh    # the shipped model, as it ships, on the fresh writers

For each rotation writer W: a model is fitted on the other rotation writers, the development
writer and the category definitions (corpus/definitions), never on W; then every ticket of
W is put through the real engine with each pack, at L1, as a new ticket of a `pro` account,
once with the rules alone and once with the rules and the model. A ticket counts as
escalated when the pack moved it up, and as sent to review when it asked a person instead.
Thresholds live in the packs and were chosen on the development writers only.

`--fresh` scores the shipped model and the packs as they ship on the fresh writers
(tests/triage/fresh/): briefed after the thresholds were fixed, never fitted on, never used
to choose anything, so their figures are the clean measure the rotation (looked at while
thresholds were chosen) cannot be.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import DEVS, EXTRA, FRESH, FRESH_HERE, HERE, ROTATION, URGENT, Item, load_writer  # noqa: E402

from tierlift.engine.evaluate import Evaluator  # noqa: E402
from tierlift.engine.model import Organization, Ticket  # noqa: E402
from tierlift.engine.policy import (
    Policy,  # noqa: E402
    load_policy_text,  # noqa: E402
)
from tierlift.service.daemon.policies import load_policy, policy_source  # noqa: E402
from tierlift.service.daemon.triage import shipped_classifier  # noqa: E402
from tierlift.triage.fit import fit, with_subjects  # noqa: E402
from tierlift.triage.model import CachedClassifier  # noqa: E402

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday afternoon: business hours everywhere
ORG = Organization("org-1", "Corpus Customer", plan="pro", arr=20_000.0, health_score=80.0)
# What each pack escalates on (three-tier's seed names no legal, refund or churn criterion).
PACKS = {
    "three-tier": ("outage", "security", "data_loss", "manager"),
    "teamflow": ("outage", "security", "data_loss", "legal", "gdpr_erasure", "refund", "churn", "manager"),
}
TARGETS = {"urgent_any": 0.95, "urgent_escalated": 0.85, "refund": 0.95, "manager": 0.90, "churn": 0.85,
           "near_escalated": 0.02, "near_review": 0.10}


@dataclass
class Tally:
    n: int = 0
    rules: int = 0  # escalated by the rules alone
    escalated: int = 0  # escalated with the model
    review: int = 0  # sent to review with the model
    by_language: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)

    def share(self, k: int) -> float:
        return k / self.n if self.n else 0.0


def training_set(test: str, extra: Iterable[str] = ()) -> list[Item]:
    if test in DEVS:  # choosing thresholds: fitted without it, scored on a development writer
        names = [*ROTATION, *(w for w in DEVS if w != test), *EXTRA, *extra]
    else:
        names = [w for w in ROTATION if w != test] + [*DEVS, *EXTRA, *extra]
    return [item for w in names if (HERE / w).is_dir() for item in load_writer(w)]


def fitted(items: Sequence[Item], name: str) -> CachedClassifier:
    texts, labels, repeats = with_subjects((i.subject, i.body, i.label) for i in items)
    return CachedClassifier(fit(texts, labels, name, repeats=repeats))


def as_ticket(item: Item) -> Ticket:
    created = NOW - timedelta(minutes=5)
    return Ticket(item.id, item.subject, item.body, "new", created, created, version="1",
                  tags=frozenset({"tier_l1"}), organization=ORG, comments=(), history=())


def outcome(ev: Evaluator, item: Item) -> str:
    d = ev.evaluate(as_ticket(item), NOW)
    if d.tier_after > d.tier_before:
        return "escalated"
    return "review" if d.kind == "triage-review" else "none"


def score(policy: Policy, pack: str, classifier: CachedClassifier, items: Sequence[Item]) -> dict[str, Tally]:
    with_model, rules_only = Evaluator(policy, classifier=classifier), Evaluator(policy)
    wanted = PACKS[pack]
    tallies: dict[str, Tally] = defaultdict(Tally)
    for item in items:
        group = item.group
        if group in ("near_miss", "refund_small", "none") or group in wanted:
            t = tallies[group]
            t.n += 1
            got = outcome(with_model, item)
            t.rules += outcome(rules_only, item) == "escalated"
            t.escalated += got == "escalated"
            t.review += got == "review"
            if group in wanted and got == "none" or group in ("near_miss", "refund_small") and got == "escalated":
                t.misses.append(f"{item.id} [{item.language}] {item.subject[:70]}")
            if item.language != "en" and group in wanted:
                t.by_language[item.language + (":hit" if got != "none" else ":miss")] += 1
    return tallies


def merge(into: dict[str, Tally], more: dict[str, Tally]) -> None:
    for k, t in more.items():
        m = into.setdefault(k, Tally())
        m.n += t.n
        m.rules += t.rules
        m.escalated += t.escalated
        m.review += t.review
        m.by_language.update(t.by_language)
        m.misses += t.misses


def print_table(pack: str, tallies: dict[str, Tally], title: str) -> None:
    print(f"\n### {pack}: {title}\n")
    print("| group | tickets | rules alone escalated | rules + model escalated | sent to review | escalated or review |")
    print("|---|---|---|---|---|---|")
    order = [*PACKS[pack], "near_miss", "refund_small", "none"]
    for g in order:
        t = tallies.get(g)
        if t and t.n:
            print(f"| {g} | {t.n} | {t.share(t.rules):.0%} | {t.share(t.escalated):.0%} | {t.share(t.review):.0%} "
                  f"| {t.share(t.escalated + t.review):.0%} |")
    langs = Counter[str]()
    for g in PACKS[pack]:
        if g in tallies:
            langs.update(tallies[g].by_language)
    if langs:
        per = sorted({k.split(":")[0] for k in langs})
        print("\nNon-English urgent tickets caught (escalated or review): " + ", ".join(
            f"{lang} {langs[lang + ':hit']}/{langs[lang + ':hit'] + langs[lang + ':miss']}" for lang in per))


def verdicts(tallies: dict[str, Tally], pack: str) -> list[str]:
    """The issue's targets, each with the measured figure and whether it holds."""
    out = []
    urgent = [tallies[g] for g in URGENT if g in PACKS[pack] and g in tallies]
    n = sum(t.n for t in urgent)
    if n:
        anyhit = sum(t.escalated + t.review for t in urgent) / n
        esc = sum(t.escalated for t in urgent) / n
        out.append(_check("urgent escalated or review", anyhit, TARGETS["urgent_any"], ">="))
        out.append(_check("urgent escalated", esc, TARGETS["urgent_escalated"], ">="))
    for g in ("refund", "manager", "churn"):
        if g in PACKS[pack] and g in tallies:
            t = tallies[g]
            out.append(_check(f"{g} escalated or review", t.share(t.escalated + t.review), TARGETS[g], ">="))
    near = [tallies[g] for g in ("near_miss", "refund_small") if g in tallies]
    nn = sum(t.n for t in near)
    if nn:
        out.append(_check("near misses escalated", sum(t.escalated for t in near) / nn, TARGETS["near_escalated"], "<="))
        out.append(_check("near misses sent to review", sum(t.review for t in near) / nn, TARGETS["near_review"], "<="))
    return out


def _check(what: str, got: float, target: float, op: str) -> str:
    ok = got >= target if op == ">=" else got <= target
    return f"{'met ' if ok else 'MISS'} {what}: {got:.1%} (target {op} {target:.0%})"


def pack_policy(pack: str, thresholds: tuple[float, float] | None) -> Policy:
    """The pack as shipped, or with other category thresholds (for choosing them on the dev writer)."""
    if thresholds is None:
        return load_policy(pack)
    text, source = policy_source(pack)
    text = re.sub(r"escalate: [0-9.]+, review: [0-9.]+", f"escalate: {thresholds[0]}, review: {thresholds[1]}", text)
    if len(thresholds) > 2:
        text = re.sub(r"category: none, escalate: [0-9.]+", f"category: none, escalate: {thresholds[2]}", text)
    return load_policy_text(text, source, name=pack)


def writer_and_model(test: str) -> tuple[list[Item], CachedClassifier]:
    """The writer's tickets and the model that never saw them: the shipped one for a fresh
    writer, else one fitted without the writer."""
    if test in FRESH:
        items = load_writer(test, FRESH_HERE)
        print(f"\n## Fresh writer: {test} ({len(items)} tickets; the shipped model and packs as they ship)")
        return items, shipped_classifier()
    started = time.monotonic()
    train = training_set(test)
    clf = fitted(train, f"eval-without-{test}")
    items = load_writer(test)
    print(f"\n## Unseen writer: {test} ({len(items)} tickets; fitted on {len(train)} tickets of "
          f"{', '.join(sorted({i.writer for i in train}))} in {time.monotonic() - started:.1f} s)")
    return items, clf


def run(tests: Sequence[str], packs: Sequence[str], show_misses: int,
        thresholds: tuple[float, float] | None = None) -> dict[str, dict[str, Tally]]:
    totals: dict[str, dict[str, Tally]] = {p: {} for p in packs}
    for test in tests:
        items, clf = writer_and_model(test)
        for pack in packs:
            tallies = score(pack_policy(pack, thresholds), pack, clf, items)
            print_table(pack, tallies, f"writer {test}")
            for line in verdicts(tallies, pack):
                print("- " + line)
            if show_misses:
                for g, t in tallies.items():
                    for m in t.misses[:show_misses]:
                        print(f"  miss {g}: {m}")
            merge(totals[pack], tallies)
    return totals


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--test", action="append", choices=ROTATION, help="unseen writer(s) (default: every rotation writer)")
    ap.add_argument("--dev", action="store_true", help="score the development writers instead (for choosing thresholds)")
    ap.add_argument("--fresh", action="store_true", help="score the fresh writers with the shipped model as it ships")
    ap.add_argument("--pack", action="append", choices=sorted(PACKS), help="pack(s) (default: both)")
    ap.add_argument("--misses", type=int, default=0, help="list up to N misses per group")
    ap.add_argument("--json", type=Path, help="write the totals as JSON")
    ap.add_argument("--thresholds", help="ESCALATE,REVIEW[,PLAIN] for every category instead of the packs' "
                    "(PLAIN: the reading of `none` that silences the patterns; with --dev)")
    args = ap.parse_args(argv)
    if args.fresh and (args.dev or args.test or args.thresholds):
        ap.error("--fresh scores the shipped model and packs as they ship: no --dev, --test or --thresholds")
    tests = ([w for w in DEVS if (HERE / w).is_dir()] if args.dev else list(FRESH) if args.fresh
             else args.test or list(ROTATION))
    packs = args.pack or list(PACKS)
    thresholds = tuple(float(x) for x in args.thresholds.split(",")) if args.thresholds else None
    if thresholds and not args.dev:
        ap.error("--thresholds chooses thresholds on the development writer only: add --dev")
    totals = run(tests, packs, args.misses, thresholds)  # type: ignore[arg-type]
    if len(tests) > 1:
        print("\n## All development writers together" if args.dev else "\n## All fresh writers together"
              if args.fresh else "\n## All rotations together")
        for pack in packs:
            print_table(pack, totals[pack], "every unseen writer")
            for line in verdicts(totals[pack], pack):
                print("- " + line)
    if args.json:
        args.json.write_text(json.dumps({p: {g: vars(t) | {"by_language": dict(t.by_language)} for g, t in ts.items()}
                                         for p, ts in totals.items()}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
