"""`tierlift triage learn | eval | accept`: a classifier refitted on the helpdesk's own history.

learn reads the helpdesk's closed tickets since `--since`, takes each one's label from its own
record (below), fits a head on them, measures it on a time split (fitted on the older 70%,
scored on the newer 30%) beside the shipped model on the same tickets, and saves it, fitted
on all of them, in the state store with its figures. Nothing reads with it until `accept`.

Labels, strongest first: an agent's triage answer (triage_confirm_<category>,
triage_dismissed -> none); a rule tierlift escalated by whose triage conditions name one
category (its note marker says which rule); a p0 tag (a production outage); a refund amount
field over zero (refund); a ticket closed with none of these and no tier above L1 (none).
Anything else (a person's move to a top tier says urgent, not which category) is left out.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from tierlift.engine.conditions import TicketView
from tierlift.engine.marker import parse_markers
from tierlift.engine.model import Ticket
from tierlift.engine.policy import Policy
from tierlift.engine.triage import Classifier
from tierlift.service.daemon.triage import shipped_classifier, shipped_model
from tierlift.triage.fit import fit
from tierlift.triage.model import Blend, CachedClassifier, dumps

SPLIT = 0.7
MIN_TICKETS = 30


@dataclass(frozen=True)
class Example:
    ticket_id: str
    created_at: datetime
    text: str
    label: str


def rule_categories(policy: Policy) -> dict[str, str]:
    """Rule name -> the one category its triage conditions name (rules naming several are left out)."""
    out: dict[str, str] = {}
    for rule in (*policy.rules, *(r for t in policy.tiers.values() for r in t.rules)):
        cats = {s.category for s in (rule.when.triage if rule.when else ()) if s.category != "none" and not s.other}
        if len(cats) == 1:
            out[rule.name] = cats.pop()
    return out


def label_of(ticket: Ticket, policy: Policy, by_rule: dict[str, str]) -> str | None:
    t = policy.triage
    for tag in sorted(ticket.tags):
        if tag.startswith(t.confirm_tag_prefix):
            return tag[len(t.confirm_tag_prefix):]
    if t.dismissed_tag in ticket.tags:
        return "none"
    for move in parse_markers(c.body for c in ticket.comments or () if not c.public):
        if move.rule in by_rule:
            return by_rule[move.rule]
    if "p0" in ticket.tags:
        return "outage"
    if _amount(ticket.custom_fields.get("refund_amount")) > 0:
        return "refund"
    if not (ticket.tags & (policy.tier_tags - {policy.tier_tag(1)})):
        return "none"
    return None


def _amount(value: object) -> float:
    """A refund amount as a number. Zendesk sends a decimal field as text ("29.0"), Jira as a
    number: read only as numbers, Zendesk's refunds were never labelled (12 on Zendesk, 18 on
    Jira from the same history). Anything that is not a finite number counts as none."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return 0.0
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return 0.0


def examples(tickets: Iterable[Ticket], policy: Policy) -> list[Example]:
    by_rule = rule_categories(policy)
    out = []
    for t in tickets:
        label = label_of(t, policy, by_rule)
        if label is not None:
            out.append(Example(t.id, t.created_at, TicketView(t).customer_text, label))
    return sorted(out, key=lambda e: (e.created_at, e.ticket_id))


def head_weight(n: int) -> float:
    """How much the helpdesk's own head counts: more history, more say (never all of it)."""
    return round(min(0.7, n / (n + 400)), 3)


def fit_head(train: Sequence[Example], name: str) -> Blend:
    head = fit([e.text for e in train], [e.label for e in train], name)
    return Blend(shipped_model(), head, head_weight(len(train)))


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def text(self) -> str:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")
        return f"precision {p:.0%} recall {r:.0%}".replace("nan%", "-")


def measure(classifier: Classifier, test: Sequence[Example], threshold: float = 0.5) -> dict[str, Score]:
    """Per category: the ticket counts as that category when it scores >= threshold."""
    scores: dict[str, Score] = {}
    for e in test:
        v = classifier.classify(e.text)
        for cat, p in v.scores.items():
            if cat == "none":
                continue
            s = scores.setdefault(cat, Score())
            hit, truth = p >= threshold, e.label == cat
            s.tp += hit and truth
            s.fp += hit and not truth
            s.fn += truth and not hit
    return scores


def report(out: TextIO, shipped: dict[str, Score], learnt: dict[str, Score], test: Sequence[Example]) -> None:
    counts = {c: sum(e.label == c for e in test) for c in shipped}
    out.write(f"{'category':<14} {'tickets':>7}  {'shipped model':<32} learnt head\n")
    for cat in sorted(shipped):
        out.write(f"{cat:<14} {counts[cat]:>7}  {shipped[cat].text():<32} {learnt.get(cat, Score()).text()}\n")


def learn(helpdesk: str, tickets: Iterable[Ticket], policy: Policy, out: TextIO) -> tuple[str, dict[str, object], bytes]:
    """Fit, measure on a time split, then fit on everything: (model id, figures, model file)."""
    labelled = examples(tickets, policy)
    if len(labelled) < MIN_TICKETS:
        raise ValueError(f"helpdesk {helpdesk}: {len(labelled)} labelled closed tickets, at least {MIN_TICKETS} "
                         "are needed (try a longer --since)")
    cut = int(len(labelled) * SPLIT)
    older, newer = labelled[:cut], labelled[cut:]
    out.write(f"helpdesk {helpdesk}: {len(labelled)} labelled closed tickets "
              f"({', '.join(f'{c} {n}' for c, n in _counts(labelled))}); "
              f"fitted on the older {len(older)}, scored on the newer {len(newer)} "
              f"(from {newer[0].created_at:%Y-%m-%d}):\n")
    trial = CachedClassifier(fit_head(older, f"{helpdesk}-trial"))
    shipped_scores, learnt_scores = measure(shipped_classifier(), newer), measure(trial, newer)
    report(out, shipped_scores, learnt_scores, newer)
    digest = hashlib.sha256("".join(e.ticket_id + e.label for e in labelled).encode()).hexdigest()[:10]
    model_id = f"{helpdesk}-{labelled[-1].created_at:%Y%m%d}-{digest}"
    final = fit_head(labelled, model_id)
    figures: dict[str, object] = {
        "tickets": len(labelled), "weight": final.weight, "split": SPLIT, "labels": dict(_counts(labelled)),
        "shipped": {c: s.text() for c, s in shipped_scores.items()},
        "learnt": {c: s.text() for c, s in learnt_scores.items()},
    }
    return model_id, figures, dumps(final.head)


def _counts(items: Sequence[Example]) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    for e in items:
        seen[e.label] = seen.get(e.label, 0) + 1
    return sorted(seen.items(), key=lambda kv: -kv[1])

