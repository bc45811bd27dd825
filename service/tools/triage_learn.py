"""`tierlift triage learn | eval | accept`: a classifier refitted on the helpdesk's own history.

learn reads the helpdesk's closed tickets since `--since`, takes each one's label from its own
record (below), fits a head on them, measures it on a time split (fitted on the older 70%,
scored on the newer 30%) beside the shipped model on the same tickets, and saves it, fitted
on all of them, in the state store with its figures. Nothing reads with it until `accept`.

Labels, strongest first: an agent's confirmation (triage_confirm_<category>); an escalation
by a rule with triage conditions that nobody moved back down (its note marker says which
rule; a rule of two categories, teamflow's security-incident or legal-compliance, gives the
one its note read highest, else the model's top one of the two if it reads it at least where
the rule asks); a dismissal (triage_dismissed -> none: it answers the words it was asked
about, not what the customer wrote later and tierlift escalated); a p0 tag (a production
outage); a refund amount field over zero (refund); a ticket closed with none of these and no
tier above L1 (none). Anything else (a person's move to a top tier says urgent, not which
category) is left out, and learn says how many and why.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from tierlift.engine.conditions import TicketView
from tierlift.engine.marker import MARKER_PREFIX, parse_markers
from tierlift.engine.model import Ticket
from tierlift.engine.policy import Policy
from tierlift.engine.triage import Classifier
from tierlift.service.daemon.triage import shipped_classifier, shipped_model
from tierlift.triage.fit import fit, with_subjects
from tierlift.triage.model import Blend, CachedClassifier, dumps

SPLIT = 0.7
MIN_TICKETS = 30
# accept: fewer scored tickets of a category than this and its figures cannot tell a refit
# that escalates it from one that does not ("refund 1 precision 0% recall 0%" was accepted).
MIN_SCORED = 3


@dataclass(frozen=True)
class Example:
    ticket_id: str
    created_at: datetime
    text: str
    label: str
    # The ticket's subject, the first line of `text`: fitted alone too (`with_subjects`).
    subject: str = ""


# Why a closed ticket was left out of the labels (learn prints how many, per reason).
TWO_CATEGORIES = "escalated by a rule of two categories and no reading says which"
NO_CATEGORY = "moved above L1 with no answer, rule or field that says which category"
_READ = re.compile(r"\btriage: ([a-z_]+) (\d+(?:\.\d+)?)")


def rule_categories(policy: Policy) -> dict[str, dict[str, float]]:
    """Rule name -> the categories its triage conditions name, each with the lowest score at
    which it asks (its review band, else its escalation). Rules of two categories (teamflow's
    security-incident: security and data loss) were left out, and so were their tickets."""
    out: dict[str, dict[str, float]] = {}
    for rule in (*policy.rules, *(r for t in policy.tiers.values() for r in t.rules)):
        specs = [s for s in (rule.when.triage if rule.when else ()) if s.category != "none" and not s.other]
        cats: dict[str, float] = {}
        for s in specs:
            low = s.review if s.review is not None else s.escalate
            cats[s.category] = min(cats.get(s.category, low), low)
        if cats:
            out[rule.name] = cats
    return out


def label_of(ticket: Ticket, policy: Policy, by_rule: Mapping[str, Mapping[str, float]],
             classifier: Classifier | None = None) -> str | None:
    return labelled(ticket, policy, by_rule, classifier)[0]


def labelled(ticket: Ticket, policy: Policy, by_rule: Mapping[str, Mapping[str, float]],
             classifier: Classifier | None = None) -> tuple[str | None, str]:
    """(label, "") or (None, why the ticket is left out).

    An escalation tierlift made and nobody moved back down outranks a dismissal: a dismissal
    answers the words it was asked about, and the customer's later words may be urgent (a
    refund of an invoice a review of was dismissed; a legal threat an agent tagged dismissed
    after it reached the CEO were both labelled none)."""
    t = policy.triage
    for tag in sorted(ticket.tags):
        if tag.startswith(t.confirm_tag_prefix):
            return tag[len(t.confirm_tag_prefix):], ""
    escalated = _escalated_by(ticket, by_rule)
    if escalated is not None:
        rule, note = escalated
        cat = _which(ticket, by_rule[rule], note, classifier)
        return (cat, "") if cat is not None else (None, TWO_CATEGORIES)
    if t.dismissed_tag in ticket.tags:
        return "none", ""
    if "p0" in ticket.tags:
        return "outage", ""
    if _amount(ticket.custom_fields.get("refund_amount")) > 0:
        return "refund", ""
    if not (ticket.tags & (policy.tier_tags - {policy.tier_tag(1)})):
        return "none", ""
    return None, NO_CATEGORY


def _escalated_by(ticket: Ticket, by_rule: Mapping[str, object]) -> tuple[str, str] | None:
    """(rule, its note) of the latest move up a triage rule made, unless a move down came after it."""
    notes = [c.body for c in ticket.comments or () if not c.public]
    for move in reversed(parse_markers(notes)):
        if move.to_tier < move.from_tier:
            return None
        if move.rule in by_rule:
            note = next((n for n in notes if f"{MARKER_PREFIX}{move.escalation_id} " in n), "")
            return move.rule, note
    return None


def _which(ticket: Ticket, cats: Mapping[str, float], note: str, classifier: Classifier | None) -> str | None:
    """The category that made the rule fire: its only one; else the one the note read highest;
    else the model's top one among them, when it reads it at least where the rule would ask."""
    if len(cats) == 1:
        return next(iter(cats))
    read = {m[1]: float(m[2]) for m in _READ.finditer(note) if m[1] in cats}
    if read:
        return max(sorted(read), key=lambda c: read[c])
    verdict = (classifier or shipped_classifier()).classify(TicketView(ticket).customer_text)
    top = max(sorted(cats), key=verdict.asks)
    return top if verdict.asks(top) >= cats[top] else None


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


def examples(tickets: Iterable[Ticket], policy: Policy, left_out: dict[str, int] | None = None) -> list[Example]:
    """The labelled tickets, oldest first; `left_out` counts the others by reason."""
    by_rule = rule_categories(policy)
    out = []
    for t in tickets:
        label, why = labelled(t, policy, by_rule)
        if label is not None:
            out.append(Example(t.id, t.created_at, TicketView(t).customer_text, label, t.subject))
        elif left_out is not None:
            left_out[why] = left_out.get(why, 0) + 1
    return sorted(out, key=lambda e: (e.created_at, e.ticket_id))


def head_weight(n: int) -> float:
    """How much the helpdesk's own head counts: more history, more say (never all of it)."""
    return round(min(0.7, n / (n + 400)), 3)


def fit_head(train: Sequence[Example], name: str) -> Blend:
    """Fitted as the shipped model is: each ticket whole, and its subject alone too, so a
    helpdesk's history of long emails still teaches what a ticket of a few words says."""
    training = with_subjects((*_split(e), e.label) for e in train)
    head = fit(training.texts, training.labels, name, repeats=training.repeats)
    return Blend(shipped_model(), head, head_weight(len(train)))


def _split(e: Example) -> tuple[str, str]:
    """(subject, the rest of `text`: the description and follow-ups)."""
    if e.subject and e.text.startswith(f"{e.subject}\n"):
        return e.subject, e.text[len(e.subject) + 1:]
    return "", e.text


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
    left_out: dict[str, int] = {}
    labelled = examples(tickets, policy, left_out)
    if len(labelled) < MIN_TICKETS:
        raise ValueError(f"helpdesk {helpdesk}: {len(labelled)} labelled closed tickets{_left_out(left_out, '; ')}, "
                         f"at least {MIN_TICKETS} are needed (try a longer --since)")
    cut = int(len(labelled) * SPLIT)
    older, newer = labelled[:cut], labelled[cut:]
    out.write(f"helpdesk {helpdesk}: {len(labelled)} labelled closed tickets "
              f"({', '.join(f'{c} {n}' for c, n in _counts(labelled))}); "
              f"fitted on the older {len(older)}, scored on the newer {len(newer)} "
              f"(from {newer[0].created_at:%Y-%m-%d}):\n")
    if left_out:
        out.write(f"  {_left_out(left_out, '')}\n")
    trial = CachedClassifier(fit_head(older, f"{helpdesk}-trial"))
    shipped_scores, learnt_scores = measure(shipped_classifier(), newer), measure(trial, newer)
    report(out, shipped_scores, learnt_scores, newer)
    few = [f"{c} {n}" for c, n in sorted(_scored(newer, policy).items()) if n < MIN_SCORED]
    if few:
        out.write(f"warning: scored on too few tickets to tell ({', '.join(few)}; at least {MIN_SCORED} of each):"
                  " `triage accept` refuses it (try a longer --since)\n")
    digest = hashlib.sha256("".join(e.ticket_id + e.label for e in labelled).encode()).hexdigest()[:10]
    model_id = f"{helpdesk}-{labelled[-1].created_at:%Y%m%d}-{digest}"
    final = fit_head(labelled, model_id)
    figures: dict[str, object] = {
        "tickets": len(labelled), "left_out": dict(left_out), "weight": final.weight, "split": SPLIT, "labels": dict(_counts(labelled)),
        "shipped": {c: s.text() for c, s in shipped_scores.items()},
        "learnt": {c: s.text() for c, s in learnt_scores.items()},
        # The newer tickets, for `accept` to read with the refit and the model in use.
        "recent": [{"id": e.ticket_id, "label": e.label, "text": e.text} for e in newer],
    }
    return model_id, figures, dumps(final.head)


def _scored(newer: Sequence[Example], policy: Policy) -> dict[str, int]:
    """How many scored tickets each category the policy escalates on has."""
    return {c: sum(e.label == c for e in newer) for c in thresholds(policy)}


def _left_out(left_out: Mapping[str, int], lead: str) -> str:
    """ "11 closed tickets left out: 9 escalated by a rule of two categories ...; 2 moved ..." """
    if not left_out:
        return ""
    why = "; ".join(f"{n} {reason}" for reason, n in sorted(left_out.items(), key=lambda kv: -kv[1]))
    total = sum(left_out.values())
    return f"{lead}{total} closed ticket{'s' if total != 1 else ''} left out: {why}"


def _counts(items: Sequence[Example]) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    for e in items:
        seen[e.label] = seen.get(e.label, 0) + 1
    return sorted(seen.items(), key=lambda kv: -kv[1])



@dataclass
class Shift:
    """One category on the recent tickets: how many the model in use and the refit escalate
    outright, of those labelled it, and how many readings of it move across the threshold."""

    labelled: int = 0
    before: int = 0  # labelled this category and escalated outright by the model in use
    after: int = 0  # the same with the refit
    down: int = 0  # any ticket: escalated outright before, review or nothing with the refit
    up: int = 0  # the reverse


def thresholds(policy: Policy) -> dict[str, float]:
    """Category -> the lowest score at which a rule of the policy escalates it outright."""
    out: dict[str, float] = {}
    for rule in (*policy.rules, *(r for t in policy.tiers.values() for r in t.rules)):
        for s in rule.when.triage if rule.when else ():
            if s.category != "none" and not s.other:
                out[s.category] = min(out.get(s.category, s.escalate), s.escalate)
    return out


def urgent_categories(policy: Policy) -> frozenset[str]:
    """The categories of the rules that page at once: severe ones, or those to the top tier."""
    cats: set[str] = set()
    for rule in (*policy.rules, *(r for t in policy.tiers.values() for r in t.rules)):
        if rule.when and (rule.severe or rule.to == policy.top_tier):
            cats |= {s.category for s in rule.when.triage if s.category != "none" and not s.other}
    return frozenset(cats)


def shifts(in_use: Classifier, refit: Classifier, recent: Sequence[Mapping[str, str]],
           policy: Policy) -> dict[str, Shift]:
    """Per category the policy escalates on: what the refit changes on the recent tickets."""
    limits = thresholds(policy)
    out = {c: Shift() for c in limits}
    for ticket in recent:
        old, new = in_use.classify(ticket["text"]), refit.classify(ticket["text"])
        for cat, limit in limits.items():
            was, now = old.score(cat) >= limit, new.score(cat) >= limit
            row = out[cat]
            row.down += was and not now
            row.up += now and not was
            if ticket["label"] == cat:
                row.labelled += 1
                row.before += was
                row.after += now
    return out
