"""The reliability suites' own machinery (running tierlift is tests/kit.py's).

- Sizes: short by default (CI); `TIERLIFT_RELIABILITY=full` selects the sizes
  issue 7 asks for (2,000 due tickets, 30+ kills, 2,000 soak cycles ...).
- A Zendesk sandbox on a frozen clock with a known backlog of due tickets, so
  the set of escalations that must happen is well-defined.
- That set is computed independently of the daemon: the engine's Evaluator on
  the sandbox's own tickets at the sandbox's time, applied until nothing is due.
  Notes are read back with the product's marker parser (engine/marker.py).
- The outcome is read from the sandbox's store (notes, markers, tags, groups,
  customer replies), never from what the daemon says it did.
- The daemon runs as a real subprocess (kit.Daemon), its output in a file per suite;
  `helpdesk()` gives it these suites' retry settings.
- Figures: each suite records what it measured in $TIERLIFT_FIGURES (a folder),
  which `figures.py` turns into the table in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tierlift.connectors.zendesk.mapping import (
    history_from_audits,
    ticket_from_zendesk,
    ticket_with_audits,
)
from tierlift.engine.evaluate import Evaluator, apply_decision
from tierlift.engine.model import InternalNote, PublicReply, Reassign
from tierlift.sandbox import Sandbox
from tierlift.sandbox.store import NOISE, REFUND_FIELD, SEVERITY_FIELD
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.triage import classifier_for

import kit
from kit import parse_markers, run_once

FULL = os.environ.get("TIERLIFT_RELIABILITY", "").strip().lower() == "full"
NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # Monday 14:00 in New York: business hours
# Friday 17:30 in New York: business-hours SLA clocks stand still until Monday.
AFTER_HOURS = datetime(2026, 11, 6, 22, 30, tzinfo=UTC)
POLICY = "three-tier"
Key = tuple[str, int, int, str]  # (ticket, from tier, to tier, rule as the marker writes it)


def size(short: int, full: int) -> int:
    return full if FULL else short


# --- the helpdesk -----------------------------------------------------------------

# Texts of the backlog: most escalate on the L1 SLA; the outage and security ones
# then cascade L2 -> L3 at once (an L2 criterion), the manager one escalates on text.
BACKLOG_TEXTS = [*NOISE,
                 ("Checkout errors", "Since this morning we see an outage of checkout for some of our users."),
                 ("Odd logins", "We suspect unauthorized access to an admin account."),
                 ("Still waiting", "Nobody answered for days. I want to speak to a manager about this.")]


def seeded_sandbox(due: int, *, generated: int = 200, seed: int = 7, now: datetime = NOW, **kw: Any) -> Sandbox:
    """A started Zendesk sandbox, frozen at `now` unless told: `generated` seeded scenario
    tickets (every shape the generator knows) plus an old open backlog of `due` tickets."""
    sb = Sandbox("zendesk", tickets=generated, seed=seed, now=now, **kw).start()
    add_backlog(sb, due, seed)
    return sb


def add_backlog(sb: Sandbox, n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    now = sb.clock.now()
    orgs = [{"id": 9700 + i, "name": f"Backlog Org {i}", "plan": ("basic", "pro", "enterprise")[i % 3],
             "arr": 1000 * (i + 1), "health_score": 50 + i, "primary_contact": f"owner{i}@backlog.example"}
            for i in range(12)]
    ids = []
    for i in range(n):
        subject, description = BACKLOG_TEXTS[i % len(BACKLOG_TEXTS)]
        created = now - timedelta(hours=rng.uniform(30, 110))  # days old: well past 75% of a 4h SLA
        ids.append(sb.store.add_ticket(subject, description, created, org=rng.choice([*orgs, None])))
    return ids


# --- what must happen ----------------------------------------------------------------


@dataclass
class Expected:
    escalations: Counter[Key] = field(default_factory=Counter)
    tags: dict[str, frozenset[str]] = field(default_factory=dict)
    group: dict[str, str | None] = field(default_factory=dict)  # Zendesk group id
    replies: Counter[str] = field(default_factory=Counter)  # customer replies per ticket

    @property
    def due_tickets(self) -> int:
        return len({k[0] for k in self.escalations})


def marked_move(ticket_id: str, note: str) -> tuple[str, Key] | None:
    """(escalation id, move) of the note's marker, read by the product's own parser."""
    moves = parse_markers([note])
    if not moves:
        return None
    return moves[0].escalation_id, (ticket_id, moves[0].from_tier, moves[0].to_tier, moves[0].rule)


def marker_key(ticket_id: str, note: str) -> Key:
    found = marked_move(ticket_id, note)
    assert found, f"note without a marker: {note[-200:]!r}"
    return found[1]


def _count_actions(out: Expected, ticket_id: str, actions: Iterable[Any], groups: dict[str, str],
                   group: str | None) -> str | None:
    """Count a decision's notes and replies into `out`; the ticket's group after it."""
    for a in actions:
        if isinstance(a, InternalNote):
            out.escalations[marker_key(ticket_id, a.body)] += 1
        elif isinstance(a, PublicReply):
            out.replies[ticket_id] += 1
        elif isinstance(a, Reassign):
            group = groups.get(a.team, a.team)
    return group


def exactly_once_reference(sb: Sandbox, now: datetime | None = None, policy: str = POLICY, *,
             skip: set[str] | frozenset[str] = frozenset()) -> Expected:
    """What tierlift's own engine decides on the sandbox's tickets, as they are now, until
    nothing is due: the reference for EXACTLY-ONCE, not for the rules.

    The expectation comes from the engine under test (issue 21.6), so a suite judged
    against it proves that the daemon wrote each of the engine's decisions once, none
    missing and none extra, through faults, crashes, restarts and replicas; it cannot
    show a wrong decision, which the engine would make here too. The rules are judged
    by judges that share no code with the engine: the support floor's oracle
    (tests/floor) and the policy fixtures.

    A decision's actions are applied to the ticket in memory (apply_decision) and
    the ticket is evaluated again at the same instant, which is what a correct
    daemon converges to on a frozen clock, cascades included.
    """
    now = now or sb.clock.now()
    st = sb.store
    pol = load_policy(policy)
    ev = Evaluator(pol, classifier=classifier_for(pol))  # the daemon's reading of the words too
    fields = {REFUND_FIELD: "refund_amount", SEVERITY_FIELD: "severity"}
    groups = {g["name"]: str(g["id"]) for g in st.groups.values()}
    out = Expected()
    with st.lock:
        raws = [(tid, dict(raw)) for tid, raw in st.tickets.items() if str(tid) not in skip]
    for tid, raw in raws:
        ticket = ticket_from_zendesk(raw, organizations=st.orgs, metric_set=st.metrics.get(tid), users=st.users,
                                     field_names=fields)
        group = str(raw["group_id"]) if raw.get("group_id") is not None else None
        for _ in range(10):
            decision = ev.evaluate(ticket, now)
            if decision.needs_comments:
                ticket = _with_audits(sb, ticket, raw)
                decision = ev.evaluate(ticket, now)
            if not decision.has_actions:
                break
            group = _count_actions(out, ticket.id, decision.actions, groups, group)
            ticket = apply_decision(ticket, decision, now)
        out.tags[ticket.id] = frozenset(t.lower() for t in ticket.tags)
        out.group[ticket.id] = group
    return out


def _with_audits(sb: Sandbox, ticket: Any, raw: dict[str, Any]) -> Any:
    """The ticket with its comments and history read from the sandbox's audits, as the
    connector's with_comments reads them (the engine asks for both together)."""
    st = sb.store
    with st.lock:
        audits = list(st.audits.get(int(ticket.id), []))
        names = {str(g["id"]): g["name"] for g in st.groups.values()}
    comments, history = history_from_audits(audits, tid=ticket.id, requester_id=raw.get("requester_id"),
                                            users=st.users, me=str(st.bot_id),
                                            team_of=lambda group, _assignee: names.get(group) if group else None)
    return ticket_with_audits(ticket, comments, history)


def stable_exactly_once_reference(sb: Sandbox, within: timedelta) -> Expected:
    """exactly_once_reference (exactly-once, not the rules), checked to be the same at the
    end of `within` (for a sandbox whose clock runs): no threshold is crossed while the suite runs."""
    now = sb.clock.now()
    exp = exactly_once_reference(sb, now)
    later = exactly_once_reference(sb, now + within)
    assert later.escalations == exp.escalations, (
        f"{len(later.escalations - exp.escalations)} escalations become due within {within}: pick other tickets")
    return exp


# --- what did happen, read from the helpdesk itself -------------------------------------


@dataclass
class Outcome:
    expected: int
    applied: int
    duplicated: int  # extra notes: the same escalation id, or the same move, written again
    missed: int  # expected moves with no note
    unexpected: int  # notes for moves the policy does not call for
    wrong_state: int  # tickets whose tags or group differ from the policy's result
    replies_expected: int
    replies_duplicated: int
    replies_missed: int
    details: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.duplicated or self.missed or self.unexpected or self.wrong_state
                    or self.replies_duplicated or self.replies_missed)

    def figures(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if k != "details"}


@dataclass
class Written:
    """What tierlift's account wrote, read from the helpdesk's store."""

    tickets: dict[str, tuple[list[str], Any]]  # ticket -> (tags, group id) as the helpdesk has them
    ids: Counter[str] = field(default_factory=Counter)  # escalation id -> notes carrying it
    moves: Counter[Key] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)  # public comments without a marker


def written(sb: Sandbox) -> Written:
    st = sb.store
    with st.lock:
        out = Written({str(tid): (list(t["tags"]), t.get("group_id")) for tid, t in st.tickets.items()})
        for tid, comments in st.comments.items():
            for c in comments:
                if c["author_id"] != st.bot_id:
                    continue
                found = marked_move(str(tid), c["body"])
                if found:
                    out.ids[found[0]] += 1
                    out.moves[found[1]] += 1
                elif c["public"]:
                    out.replies[str(tid)] += 1
    return out


def _wrong_state(exp: Expected, tickets: dict[str, tuple[list[str], Any]], only: set[str] | None,
                 details: list[str]) -> int:
    """Tickets whose tags or group differ from the policy's result (described in `details`, up to 40)."""
    wrong = 0
    for tid, tags in exp.tags.items():
        if only is not None and tid not in only or tid not in tickets:
            continue
        got_tags, got_group = tickets[tid]
        want_group = exp.group.get(tid)
        if frozenset(got_tags) != tags or (str(got_group) if got_group is not None else None) != want_group:
            wrong += 1
            if len(details) < 40:
                details.append(f"ticket {tid}: tags {sorted(got_tags)} group {got_group}; "
                               f"expected {sorted(tags)} group {want_group}")
    return wrong


def _compare_moves(exp: Expected, moves: Counter[Key],
                   details: list[str]) -> tuple[Counter[Key], Counter[Key], Counter[Key]]:
    """(missed, written again, unexpected) moves against the expected ones, described in `details`."""
    missed = Counter({k: n - moves[k] for k, n in exp.escalations.items() if n > moves[k]})
    again = Counter({k: n - exp.escalations[k] for k, n in moves.items() if k in exp.escalations
                     and n > exp.escalations[k]})
    unexpected = Counter({k: n for k, n in moves.items() if k not in exp.escalations})
    details += [f"missed {k}" for k in list(missed)[:10]] + [f"unexpected {k}" for k in list(unexpected)[:10]]
    details += [f"written again {k} +{n}" for k, n in again.items()][:10]
    return missed, again, unexpected


def outcome(sb: Sandbox, exp: Expected, *, only: set[str] | None = None) -> Outcome:
    got = written(sb)
    moves, replies = got.moves, got.replies
    if only is not None:
        moves = Counter({k: n for k, n in moves.items() if k[0] in only})
        replies = Counter({k: n for k, n in replies.items() if k in only})
    details: list[str] = []
    dup_ids = sum(n - 1 for n in got.ids.values() if n > 1)
    missed, again, unexpected = _compare_moves(exp, moves, details)
    wrong = _wrong_state(exp, got.tickets, only, details)
    rep_dup = sum(max(0, replies[t] - exp.replies[t]) for t in replies)
    rep_missed = sum(max(0, exp.replies[t] - replies[t]) for t in exp.replies)
    return Outcome(sum(exp.escalations.values()), sum(moves.values()), max(dup_ids, sum(again.values())),
                   sum(missed.values()), sum(unexpected.values()), wrong, sum(exp.replies.values()), rep_dup,
                   rep_missed, details)


def assert_exactly_once(o: Outcome) -> None:
    assert o.exact, (f"expected {o.expected}, applied {o.applied}, duplicated {o.duplicated}, missed {o.missed},"
                     f" unexpected {o.unexpected}, wrong state {o.wrong_state}, replies duplicated"
                     f" {o.replies_duplicated} missed {o.replies_missed}\n" + "\n".join(o.details))


def requests_per_window(sb: Sandbox, window: float = 60.0) -> int:
    """The most requests the helpdesk received in any `window` seconds (its own log)."""
    times = sorted(r["t"] for r in sb.requests_log())
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# --- the daemon -------------------------------------------------------------------------


def helpdesk(sb: Sandbox, name: str = "hd", **extra: Any) -> dict[str, Any]:
    """The reliability suites' helpdesk: three tries up to 5 s apart, so that the faults
    they inject are ridden out by retrying within a cycle."""
    return kit.helpdesk(sb, name, **{"policy": POLICY, "retry_attempts": 3, "max_retry_wait": "5s", **extra})


def settle(config: Path, log: Path, runs: int = 6) -> int:
    """`run --once` until a run writes nothing new; returns how many runs wrote something."""
    wrote = 0
    for _ in range(runs):
        proc = run_once(config)
        with log.open("a") as f:
            f.write(proc.stderr + proc.stdout)
        assert proc.returncode == 0, proc.stderr[-3000:]
        if "escalated helpdesk=" not in proc.stderr and "recovered helpdesk=" not in proc.stderr:
            return wrote
        wrote += 1
    raise AssertionError(f"the daemon kept writing after {runs} clean runs")


# --- figures ------------------------------------------------------------------------------


def record(suite: str, **figures: Any) -> None:
    """Merge figures into $TIERLIFT_FIGURES/<suite>.json (no-op when unset)."""
    folder = os.environ.get("TIERLIFT_FIGURES")
    print(f"figures {suite}: {json.dumps(figures, default=str)}")
    if not folder:
        return
    path = Path(folder) / f"{suite}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(figures)
    path.write_text(json.dumps(data, indent=2, default=str))
