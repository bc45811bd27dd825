"""The oracle: what the seeds require of each ticket, judged from the helpdesk's own record.

It reads only the record (record.py: comments with authors and times, audits or
changelog, tags, teams, statuses), the floor's intent per ticket (what the
customer's words mean, which no phrase list can decide), and the policy pack's
targets, hours and holidays from its YAML. It imports nothing of tierlift's but
the floor's record reader (record.py, which also carries the floor's catalogue of
what customers' follow-ups mean); business-hours arithmetic is the tests' own
minute-by-minute clock (tests/refhours.py), never engine/calendar.py.

The rules (issue 13, section 2):
- SLA: a ticket is escalated by "SLA at 75% elapsed" only if no agent (any
  account but tierlift's own; automations never count) replied publicly since
  it entered its tier, once 75% of the tier's first-response target has
  elapsed in business time, pauses (pending, hold) excluded; within `tol`.
  Where the pack's `sla_clocks` name the resolution clock (three-tier: seed
  000 gives every tier a resolution target), a ticket not solved once 75% of
  the tier's resolution target has elapsed since it entered its tier
  (business time, pauses excluded; replies do not stop it) is owed one tier
  up too.
- Severity: outage, security incident, data loss, P0 and P1 reach L3 from any
  tier within `tol`, frozen or not. Pack rules (teamflow: legal and GDPR
  erasure to L4, refunds over $1,000, enterprise and >$50k accounts, churn
  signals to L2, a request for a manager to L3; three-tier: P2 to L2, a
  request for a manager L1 -> L2) are required the same way; near misses
  require nothing.
- Manual: the `escalate` tag with context (an internal note with "Steps
  taken:" and "Customer impact:") moves one tier up; without context it moves
  nothing until the context is written (then it moves, if the tag was applied
  at the tier the ticket is at). The note's escalated_by names the agent who applied the tag.
- Human moves set the tier and start its clock; tierlift never reverts one.
  A public reply by a person at the move (the same update) or after it is the
  new tier's first response.
- De-escalation (fix_deployed) returns to the routing tier (teamflow: an
  enterprise or over-$50k account L2, else L1); the facts that escalated
  before do not escalate again, and a customer already answered when it
  came down is not awaiting a first response in that stint (a later
  follow-up awaits a next reply, which no first-response target measures);
  a person's move or a later escalation starts a new stint and its clock.
- Teamflow's L1 criteria: a customer saying it is still not working, or a
  ticket unresolved 24 hours after creation (or after its last
  de-escalation or person's move), moves L1 -> L2.
- Update duty (teamflow): an outage (P0 included) or a security or data
  incident with no public
  update by a person for two update periods (15 / 30 minutes since the
  creation or the last update, or since it entered its tier if later) moves
  one tier up, once per silence, until a de-escalation or a person's move
  settles the incident. Time pending, on hold or solved is no silence, and a
  move owed when the ticket went to such a status is owed when it resumes
  (unless a person's public update came meanwhile).
- Promise (teamflow): the first escalation's customer notice promises the
  category's initial response (security and outage 15 minutes, a P0 once
  tagged too; legal and GDPR 30 minutes, an enterprise customer 1 hour),
  else the new level's time.
- One note per escalation; no more moves than the ping-pong guard allows
  (a ticket it froze after that many moves owes only severity until a person
  removes the tag); nothing escalated once solved or closed.

A move tierlift makes is "right" when a requirement due at that moment (`early`
of clock skew allowed) asks for at least that tier, "late" when it lands
after due + tol; else "false". A requirement never met by the end of the run
(its deadline passed, the ticket still open, no person overruled it) is
"missed". `tol` is the daemon's poll interval + 1 s in helpdesk time, plus the
helpdesk's visibility lag (the Zendesk export withholds the last minute).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from record import FAILED_AGAIN, MANAGER_ASKS, Ev, Record
from refhours import RefHours

SEVERE = {"security", "outage", "data_loss", "p0", "p1"}
# teamflow (seed 003): outages need a public status update every 15 minutes, security incidents every 30;
# the pack escalates one tier on the second missed update (a reminder note comes first).
# Seed 003 files "data loss or corruption affecting customer data" under Security & Data
# Incidents (updates every 30 minutes), and a P0 is a production outage (seed 000), whose
# status updates come every 15 minutes.
UPDATE_DUTY = {"outage": timedelta(minutes=15), "p0": timedelta(minutes=15), "security": timedelta(minutes=30),
               "data_loss": timedelta(minutes=30)}
UPDATE_MISSES = 2
UNRESOLVED = timedelta(hours=24)
EARLY = timedelta(seconds=2)  # clock rounding; judge() widens it for a fast rehearsal clock
MARKER = re.compile(r"\[tierlift escalation=([0-9a-f]+) from=(\d) to=(\d) rule=(\S+) at=")
BY = re.compile(r"escalated_by:\s*\"?([^\"\n]*)")
PROMISE = re.compile(r"by (\w+ \d{1,2} \w+ \d{4}, \d{2}:\d{2}) ([A-Z]{3,5})\b")
POLICIES = Path(__file__).resolve().parents[2] / "policies"  # read as files, not through tierlift.policies
# teamflow (seed 003): the first response a customer is promised, by category, before the level's own time.
# three-tier's names for the rules that take the incidents in words straight to L3 (seed 000:
# "Production outages, security incidents, and data loss go directly to Tier 3").
INCIDENT_RULE = {"outage": "production-outage", "security": "security-incident", "data_loss": "data-loss"}
CATEGORY_TIME = {"security": timedelta(minutes=15), "outage": timedelta(minutes=15), "data_loss": timedelta(minutes=15),
                 "legal": timedelta(minutes=30), "gdpr": timedelta(minutes=30)}


def _dur(text: Any) -> timedelta:
    s = str(text).strip()
    return timedelta(seconds=float(s[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[s[-1]])


@dataclass
class Policy:
    """The pack's targets, read from its YAML (not through the engine's loader)."""

    name: str
    team_tier: dict[str, int]
    targets: dict[int, Any]
    calendar: RefHours
    paused: set[str]
    max_moves: int
    window: timedelta
    min_stay: timedelta
    frozen_tag: str = "escalation_frozen"
    resolution: dict[int, timedelta] = field(default_factory=dict)  # levels whose resolution clock escalates
    # three-tier (seed 000, L3 "engineering on call", 30 minutes for P0/P1 incidents): (level,
    # severities, calendar, first response, rules) a tier keeps for those severities, and for
    # the tickets those rules moved there, instead of its own.
    on_call: list[tuple[int, frozenset[str], RefHours, timedelta, frozenset[str]]] = field(default_factory=list)

    @classmethod
    def load(cls, name: str) -> Policy:
        esc = yaml.safe_load((POLICIES / f"{name}.yaml").read_text(encoding="utf-8"))["escalation"]
        team_tier, targets, resolution = _tiers(esc)
        cal = esc.get("calendar")
        spec = (esc.get("calendars") or {}).get(cal) if cal else None
        pp = esc.get("ping_pong") or {}
        de = (esc.get("de_escalation") or [{}])[0]
        on_call = [(int(oc["level"]), frozenset(str(s).upper() for s in oc.get("severity") or []),
                    RefHours.of_pack(name, oc.get("calendar")), _dur(oc["first_response"]),
                    frozenset(str(r) for r in oc.get("rules") or []))
                   for oc in esc.get("on_call") or []]
        return cls(name, team_tier, targets, RefHours.from_spec(spec) if spec else RefHours.always_open(),
                   set(esc.get("pause_statuses") or []), int(pp.get("max_moves", 3)), _dur(pp.get("window", "24h")),
                   _dur(de.get("min_stay", "0s")), str(pp.get("tag", "escalation_frozen")), resolution, on_call)

    @property
    def top(self) -> int:
        return max(self.targets)

    def target(self, level: int, plan: str | None) -> timedelta:
        t = self.targets[level]
        return t.get(plan or "default", t.get("default")) if isinstance(t, dict) else t

    def routing_tier(self, rec: Record) -> int:
        """The tier the customer's own routing calls for: teamflow's by-customer requirements
        (an enterprise plan, an account over $50k a year; content() requires both from creation)."""
        by_customer = rec.plan == "enterprise" or (rec.arr or 0) > 50000
        return 2 if self.name == "teamflow" and by_customer else 1

    def content(self, rec: Record) -> list[tuple[str, int]]:
        """(rule, tier) the ticket's own facts require from its creation."""
        kind, near = rec.intent["kind"], rec.intent["near"]
        out = [("severity", 3)] if kind in SEVERE and not near else []
        return out + _teamflow_content(rec) if self.name == "teamflow" else out


def _tiers(esc: dict[str, Any]) -> tuple[dict[str, int], dict[int, Any], dict[int, timedelta]]:
    """(team -> level, level -> first-response target or {plan: target}, level -> resolution
    target of the levels whose resolution clock escalates)."""
    team_tier, targets, resolution = {}, {}, {}
    clocks = esc.get("sla_clocks") or ["first_response", "resolution"]
    for tier in esc["tiers"]:
        lvl = int(tier["level"])
        for t in [tier["team"]] if "team" in tier else [x["team"] for x in tier["teams"]]:
            team_tier[t] = lvl
        fr = tier["sla"]["first_response"]
        targets[lvl] = {k: _dur(v) for k, v in fr.items()} if isinstance(fr, dict) else _dur(fr)
        res = tier["sla"].get("resolution_target", tier["sla"].get("resolution"))
        if res and "resolution" in clocks and "SLA at 75% elapsed without resolution path" in \
                tier.get("escalation_criteria", []):
            resolution[lvl] = _dur(res)
    return team_tier, targets, resolution


def _teamflow_content(rec: Record) -> list[tuple[str, int]]:
    """teamflow's requirements from the ticket's words and its customer (seed 003)."""
    kind, near, arr = rec.intent["kind"], rec.intent["near"], rec.arr or 0
    out = []
    if not near and kind in ("legal", "gdpr"):
        out.append(("legal-compliance", 4))
    if not near and kind == "refund_big":
        out.append(("refund-over-1000", 2))
    if not near and kind == "churn" and (arr >= 10000 or rec.plan in ("pro", "enterprise") or (rec.health or 100) < 50):
        out.append(("churn-signal", 2))
    if rec.plan == "enterprise":
        out.append(("enterprise-customer", 2))
    if arr > 50000:
        out.append(("high-value-account", 2))
    return out


Gaps = tuple[datetime, datetime] | list[tuple[datetime, datetime]] | None


def _gaps(down: Gaps) -> list[tuple[datetime, datetime]]:
    if down is None:
        return []
    return [down] if isinstance(down, tuple) else sorted(down)


@dataclass
class Req:
    rule: str
    tier: int
    due: datetime
    agent: str = ""  # manual escalations: who applied the tag


@dataclass
class Verdicts:
    right: int = 0
    false: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    bounced: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    note_wrong: list[str] = field(default_factory=list)
    promise_wrong: list[str] = field(default_factory=list)
    deescalations: int = 0
    human_moves: int = 0
    agent_replies: int = 0

    def merge(self, other: Verdicts) -> None:
        for k, v in vars(other).items():
            setattr(self, k, getattr(self, k) + v)


class Clocks:
    """A ticket's clocks as the seeds count them, advanced to an instant: the tier's first
    response and resolution (business time of the pack's calendar, pauses excluded), the
    update duty and the 24 hours unresolved; each requirement is born when its clock runs
    out. The state is the Judge's (the events below move it)."""

    pol: Policy
    rec: Record
    reqs: list[Req]
    tier: int
    status: str

    def _sla_active(self) -> bool:
        return (not self.replied and not self.sla_off and self.tier < self.pol.top
                and not any(r.rule == "sla" for r in self.reqs) and self.status not in ("solved", "closed"))

    def _advance(self, t: datetime) -> None:
        self._advance_duty(t)
        self._advance_sla(t)
        # teamflow L1: "Unresolved technical problems after 24 hours", counted from the creation or
        # from the last de-escalation or person's move (the age before it is a settled fact, as the
        # text is); a ticket reopened after the 24 hours owes it from the reopening.
        # The time it waited on someone else (pending, on hold) or spent solved is not time
        # unresolved: counted from the judge's own record of its pauses (QA, a CX lead: a ticket
        # pending on its customer for a day was escalated, the customer told "we escalated").
        start = max(self.rec.created, self.settled or self.rec.created)
        waited = sum((b - max(a, start) for a, b in self.duty_pauses if b > start), timedelta(0))
        due = start + UNRESOLVED + waited
        if self.pol.name == "teamflow" and self.tier == 1 and due <= t and self.unresolved_done != start \
                and not self._duty_paused():
            self.unresolved_done = start
            self.reqs.append(Req("unresolved-24h", 2, max(due, self.reopened or due)))

    def _advance_duty(self, t: datetime) -> None:
        if self.duty is None or self.duty_done == self.anchor or self.tier >= self.pol.top \
                or self._duty_paused() or self._fix_stands() or any(r.rule == "update-duty" for r in self.reqs):
            return
        # Owed from the last public update, or from when the ticket entered its tier (a tier
        # owes updates from when it got the ticket, not from an old creation on a backlog);
        # the wall-clock time it spent pending, on hold or solved since is nobody's silence.
        base = max(self.anchor, self.entered)
        quiet = sum((b - max(a, base) for a, b in self.duty_pauses if b > base), timedelta(0))
        due = base + quiet + self.duty * UPDATE_MISSES
        if due <= t:
            self.reqs.append(Req("update-duty", self.tier + 1, due))

    def _duty_paused(self) -> bool:
        return self.status in self.pol.paused or self.status in ("solved", "closed")

    def _fix_stands(self) -> bool:
        """A fix deployed at this tier and not undone by a reopening: the incident owes no more
        updates while it waits for its minimum stay to go down (seed 000 pitfall 3)."""
        return (self.fixed_at is not None and "fix_deployed" in self.tags and self.fixed_at >= self.entered
                and (self.reopened is None or self.reopened <= self.fixed_at))

    def _advance_resolution(self, t: datetime) -> None:
        """The tier's resolution clock to `t` (the first-response clock's mark is the same instant)."""
        target = self.pol.resolution.get(self.tier)
        if target is None or self.tier >= self.pol.top or self.status in self.pol.paused \
                or self.status in ("solved", "closed") or any(r.rule == "sla-resolution" for r in self.reqs):
            return
        need = target * 0.75 - self.res_spent
        due = self.pol.calendar.add(self.mark, need)
        if due <= t:
            self.reqs.append(Req("sla-resolution", self.tier + 1, due))
            self.res_spent += need
        else:
            self.res_spent += self.pol.calendar.elapsed(self.mark, t)

    def _advance_sla(self, t: datetime) -> None:
        """Move the SLA clocks to `t`; a requirement is born at the instant 75% of the target is spent."""
        if self.mark < t:
            self._advance_resolution(t)
        if not self._sla_active() or self.status in self.pol.paused:
            self.mark = max(self.mark, t)
            return
        need = self.pol.target(self.tier, self.rec.plan) * 0.75 - self.spent
        due = self.pol.calendar.add(self.mark, need)
        if due <= t:
            self.reqs.append(Req("sla", self.tier + 1, due))
            self.spent += need
        else:
            self.spent += self.pol.calendar.elapsed(self.mark, t)
        self.mark = t

    def _sla_due(self) -> datetime | None:
        """When the SLA requirement would be born if nothing else happened (for messages)."""
        if not self._sla_active() or self.status in self.pol.paused:
            return None
        return self.pol.calendar.add(self.mark, self.pol.target(self.tier, self.rec.plan) * 0.75 - self.spent)

    def _enter(self, tier: int, at: datetime) -> None:
        self.tier, self.entered, self.replied, self.sla_off, self.raced = tier, at, False, False, []
        self.held_duty = []  # a tier owes updates from when it got the ticket
        self.spent, self.res_spent, self.mark = timedelta(0), timedelta(0), at


class Judge(Clocks):
    """Replays one ticket's record in order, keeping what the seeds require at each instant."""

    def __init__(self, pol: Policy, rec: Record, tol: timedelta, end: datetime, early: timedelta = EARLY,
                 down: Gaps = None):
        self.pol, self.rec, self.tol, self.end, self.early = pol, rec, tol, end, early
        self.gaps = _gaps(down)  # [(from, to)]: tierlift could not act then (stopped, or the clock jumped)
        self.v = Verdicts()
        self.tier, self.entered = 1, rec.created
        self.status, self.replied, self.answered = "new", False, False
        self.tags: set[str] = set()
        self.context_at: datetime | None = None
        self.tagged: tuple[datetime, str] | None = None  # (when, who): the `escalate` tag a person applied
        self.reqs: list[Req] = []
        self.sla_off = False  # after a de-escalation of an answered customer
        self.spent, self.mark = timedelta(0), rec.created
        self.res_spent = timedelta(0)  # the tier's resolution clock, from the tier start (mark as above)
        self.moves: list[datetime] = []
        self.before_human: int | None = None
        self.deescalated = False
        self.duty = UPDATE_DUTY.get(rec.intent["kind"]) if pol.name == "teamflow" and not rec.intent["near"] else None
        self.anchor, self.duty_done = rec.created, None
        self.duty_pauses: list[tuple[datetime, datetime]] = []  # (from, to): pending, on hold or solved
        self.paused_at: datetime | None = None
        self.held_duty: list[Req] = []  # update-duty requirements owed when the pause ends
        self.fixed_at: datetime | None = None  # a person's last fix_deployed tag
        self.first_up: tuple[datetime, int] | None = None  # (when, to) of tierlift's first escalation
        self.promised = False
        self.promise: Ev | None = None  # tierlift's first customer notice after its first escalation
        self.manual: list[tuple[datetime, int, str, str]] = []  # (when, to, agent, where) to check against notes
        self.unresolved_done: datetime | None = None  # the start of the 24 hours already required
        self.notes: list[Ev] = []
        self.waiting = False  # the customer wrote after the last public reply by a person
        self.settled: datetime | None = None  # the last de-escalation or person's move: older facts are settled
        self.reopened: datetime | None = None
        self.first_tags: set[str] = set()  # the tags when tierlift first escalated (its promise's facts)
        self.frozen = False  # the ping-pong guard froze it, rightly: only severity moves it now
        self.raced: list[Req] = []  # due before a person's reply that answered them (see _on_comment)

    def run(self) -> Verdicts:
        for rule, tier in self.pol.content(self.rec):
            self.reqs.append(Req(rule, tier, self.rec.created))
        for ev in self.rec.events:
            self._advance(ev.at)
            getattr(self, f"_on_{ev.kind}")(ev)
            self._thaw_or_drop()
        self._advance(self.end)
        self._thaw_or_drop()
        self._finish()
        return self.v

    def _settle(self, at: datetime) -> None:
        """A de-escalation or a person's move: the facts known before it are settled. The update
        duty of the incident that escalated it ends with it (seed 000 pitfall 3: once the fix is
        deployed, follow-up returns to a lower tier; a person's move is never reverted)."""
        self.settled, self.duty = at, None

    # --- events -------------------------------------------------------------------------------------
    def _on_comment(self, ev: Ev) -> None:
        if ev.who == "bot":
            self._bot_comment(ev)
        elif ev.who == "customer":
            self._customer_says(ev)
        elif ev.who == "agent" and ev.public:
            self._agent_reply(ev)
        elif ev.who == "agent" and "Steps taken:" in ev.body and "Customer impact:" in ev.body:
            self._context_given(ev)

    def _bot_comment(self, ev: Ev) -> None:
        m = MARKER.search(ev.body) if not ev.public else None
        # An escalation's note: refusals and reminders move nothing, and a human-move note
        # records a person's move (tierlift moved nothing), so neither is an escalation note.
        if m and m.group(2) != m.group(3) and m.group(4) != "human-move":
            self.notes.append(ev)
        if ev.public and self.first_up and not self.promised:
            self.promised = True
            self.promise = ev

    def _customer_says(self, ev: Ev) -> None:
        # A customer who writes after being answered awaits a next reply, not a first
        # response: the stint a de-escalation began stays exempt (as the engine reads it;
        # Zendesk's first reply time is measured once, and "any news?" starts no clock).
        self.waiting = self.waiting or ev.public
        if ev.body in FAILED_AGAIN and self.pol.name == "teamflow" and self.tier == 1:
            self.reqs.append(Req("failed-attempts", 2, ev.at))  # teamflow L1: "Multiple failed resolution attempts"
        if ev.body in MANAGER_ASKS and self.status not in ("solved", "closed"):
            target = 3 if self.pol.name == "teamflow" else 2
            if self.tier < target and (self.pol.name == "teamflow" or self.tier == 1):
                self.reqs.append(Req("manager", target, ev.at))

    def _agent_reply(self, ev: Ev) -> None:
        self.v.agent_replies += 1
        self.replied = self.answered = True
        self.waiting = False
        self.anchor = ev.at
        self.held_duty = []  # the update it was missing is given
        answered = [r for r in self.reqs if r.rule in ("sla", "update-duty") and ev.at <= self._deadline(r.due)]
        # A reply that came after the instant races the daemon: a move within tol of it stays right.
        self.raced = [r for r in answered if r.due <= ev.at]
        self._drop(lambda r: r in answered)

    def _context_given(self, ev: Ev) -> None:
        """An internal note with the context a manual escalation asks for."""
        self.context_at = ev.at
        # Refused for want of context, then given it: the tag still asks (issue 26: seed 11's
        # SUP-312 and 356 were this, judged false) -- if applied at the tier it is at now.
        if self.tagged is not None and "escalate" in self.tags and self.tier < self.pol.top \
                and self.tagged[0] >= self.entered:
            self.reqs.append(Req("manual", self.tier + 1, ev.at, agent=self.tagged[1]))

    def _on_status(self, ev: Ev) -> None:
        if self.status in ("solved", "closed") and ev.after not in ("solved", "closed"):
            self.reopened = ev.at
        was = self._duty_paused()
        self.status = ev.after
        if not was and self._duty_paused():
            self.paused_at = ev.at
            # A missed update still owed (not yet late) when the ticket went pending, on hold or
            # solved is owed when it resumes, unless a person's public update answers it first: a
            # ticket waiting on its customer is not escalated (QA, a CX lead). Floor, seed 31:
            # 835 and 838's updates fell due while the daemon was stopped, an agent set them
            # pending, and the move was owed at the reopening, not while they were pending.
            held = [r for r in self.reqs if r.rule == "update-duty" and ev.at <= self._deadline(r.due)]
            self.held_duty += held
            self._drop(lambda r: r in held)
        elif was and not self._duty_paused() and self.paused_at is not None:
            self.duty_pauses.append((self.paused_at, ev.at))
            self.reqs += [Req(r.rule, r.tier, ev.at) for r in self.held_duty if r.tier > self.tier]
            self.held_duty = []
        if ev.after in ("solved", "closed"):
            self._drop(lambda r: ev.at <= self._deadline(r.due) or r.rule.startswith("de-"))

    def _on_tags(self, ev: Ev) -> None:
        self.tags = (self.tags | ev.added) - ev.removed
        frozen = self.pol.frozen_tag
        if frozen in ev.added and ev.who == "bot":
            # The guard (seed 000, no ping-pong): a ticket tierlift moved max_moves times within the
            # window is frozen, not moved; what it owed then waits for a person, severity excepted.
            # A freeze with fewer moves is not the guard's: its requirements stay owed.
            self.frozen = len([m for m in self.moves if ev.at - m < self.pol.window]) >= self.pol.max_moves
        if frozen in ev.removed:
            self.frozen = False
        if ev.who == "agent":
            self._agent_tags(ev)

    def _agent_tags(self, ev: Ev) -> None:
        if ev.added & {"p0", "p1"} and self.tier < 3:
            self.reqs.append(Req("severity", 3, ev.at))
        if "p2" in ev.added and self.pol.name == "three-tier" and self.tier < 2:
            self.reqs.append(Req("severity-p2", 2, ev.at))
        if "escalate" in ev.added:
            self.tagged = (ev.at, ev.name)
        if "escalate" in ev.added and self.tier < self.pol.top and self.context_at is not None \
                and self.context_at <= ev.at:
            self.reqs.append(Req("manual", self.tier + 1, ev.at, agent=ev.name))
        if "fix_deployed" in ev.added and self.tier > self.pol.routing_tier(self.rec):
            self.reqs.append(Req("de-escalation", self.pol.routing_tier(self.rec),
                                 max(ev.at, self.entered + self.pol.min_stay)))
            self.fixed_at = ev.at
            self.held_duty = []
            # The fix ends the incident's updates: a missed update not yet past its deadline
            # is no longer owed (as a solve drops it).
            self._drop(lambda r: r.rule == "update-duty" and ev.at <= self._deadline(r.due))

    def _on_team(self, ev: Ev) -> None:
        to = self.pol.team_tier.get(ev.after) if ev.after else None
        if to is None or to == self.tier:
            return
        if ev.who == "bot":
            self._tierlift_move(ev, to)
        else:
            self.v.human_moves += 1
            self.before_human = self.tier
            self._drop(lambda r: True)  # the person decided: earlier facts are settled
            self._enter(to, ev.at)
            self._settle(ev.at)
            # A public reply in the same update as the move ("I'll take this and answer") is the
            # new tier's first response, whichever order the update lists them in (issue 26).
            if any(e.at == ev.at and e.who == "agent" and e.kind == "comment" and e.public for e in self.rec.events):
                self.replied = self.answered = True
                self.waiting = False

    # --- judging tierlift's moves ---------------------------------------------------------------------
    def _tierlift_move(self, ev: Ev, to: int) -> None:
        where = _where(self.rec)
        moved = f"L{self.tier}->L{to} at {ev.at:%a %H:%M:%S}"
        self.moves = [m for m in self.moves if ev.at - m < self.pol.window] + [ev.at]
        down = to < self.tier and self._move_down(ev, to, where, moved)
        if to > self.tier:
            self._move_up(ev, to, where, moved)
        self._enter(to, ev.at)
        if down:  # a customer answered and not waiting since is not awaiting a first response
            self.sla_off = self.answered and not self.waiting
            self._settle(ev.at)

    def _move_up(self, ev: Ev, to: int, where: str, moved: str) -> None:
        live = [r for r in self.reqs if r.tier >= to and r.due <= ev.at + self.early and not r.rule.startswith("de-")]
        live += [r for r in self.raced if r.tier >= to and ev.at <= self._deadline(r.due)]
        if self.status in ("solved", "closed"):
            self.v.false.append(f"{where}: {moved} while {self.status}")
        elif not live:
            self._false_up(to, where, moved)
        else:
            self._owed_up(ev, to, live, where, moved)
        if len(self.moves) > self.pol.max_moves and not any(r.rule == "severity" for r in live):
            self.v.bounced.append(f"{where}: {moved} is move {len(self.moves)} within {self.pol.window}")
        self._drop(lambda r: r.tier <= to and not r.rule.startswith("de-"))

    def _false_up(self, to: int, where: str, moved: str) -> None:
        """A move up that nothing due asked for; a bounce too when it undoes a person or a fix."""
        sla = self._sla_due()
        why = f"sla not due until {sla:%a %H:%M:%S}" if sla and to == self.tier + 1 else "nothing required it"
        self.v.false.append(f"{where}: {moved}, {why}")
        if self.before_human is not None and to == self.before_human:
            self.v.bounced.append(f"{where}: {moved} reverts a person's move")
        elif self.deescalated:
            self.v.bounced.append(f"{where}: {moved} climbs back after its de-escalation")

    def _owed_up(self, ev: Ev, to: int, live: list[Req], where: str, moved: str) -> None:
        """A move up that requirements asked for: right, or late after the earliest of them."""
        if self.first_up is None:
            self.first_up, self.first_tags = (ev.at, to), set(self.tags)
        first = min(live, key=lambda r: r.due)
        if ev.at > self._deadline(first.due, business=first.rule.startswith("sla")):
            self.v.late.append(f"{where}: {moved} for {first.rule} due {first.due:%a %H:%M:%S} "
                               f"({(ev.at - first.due).total_seconds():.0f} s after)")
        else:
            self.v.right += 1
        if any(r.rule == "update-duty" for r in live):
            self.duty_done = self.anchor
        manual = next((r for r in live if r.rule == "manual"), None)
        if manual is not None:  # checked at the end: Jira writes the note after the edit
            self.manual.append((ev.at, to, manual.agent, where))

    def _move_down(self, ev: Ev, to: int, where: str, moved: str) -> bool:
        de = [r for r in self.reqs if r.rule == "de-escalation" and r.due <= ev.at + self.early]
        if not de or to != self.pol.routing_tier(self.rec):
            self.v.bounced.append(f"{where}: {moved} down without a due de-escalation to that tier")
            return False
        self.v.deescalations += 1
        if ev.at > self._deadline(de[0].due):
            self.v.late.append(f"{where}: de-escalation {moved} due {de[0].due:%a %H:%M:%S}")
        self.reqs = []  # the facts that escalated it are settled; they do not climb back
        self.deescalated = True
        return True

    def _deadline(self, due: datetime, business: bool = False) -> datetime:
        """When a move due at `due` is late: `tol` after it; for one due while tierlift could not
        act (stopped, or the helpdesk's clock jumped a night or a weekend), or within `tol` before
        that, or `2 tol` after it resumed, `2 tol` after the later of the due instant and the
        resumption: the daemon first works through what came due meanwhile, most urgent first.
        A person's reply by then answers. A later gap that begins before that deadline (the
        daemon stopped while it was working through what a jump left) extends it the same way.
        A business-hours clock (`business`) is read to the second in the record and to the
        millisecond by tierlift: a due instant within `early` of the calendar's close may
        truly fall at the next opening, so the deadline is `tol` after the latest due instant
        the record allows (seed 5, jira three-tier, SUP-1071: L2 from 20:30:00, due at the
        17:00 close by the record's seconds, moved at the next morning's opening)."""
        deadline = due + self.tol
        if business:
            deadline = max(deadline, self.pol.calendar.add(due, self.early) + self.tol)
        for stopped, back in self.gaps:
            if stopped < deadline and due <= back + 2 * self.tol:
                deadline = max(deadline, max(due, back) + 2 * self.tol)
        return deadline

    def _thaw_or_drop(self) -> None:
        if self.frozen:  # frozen: what it owes now waits for the person who unfreezes it
            self._drop(lambda r: r.rule != "severity")

    def _drop(self, pred) -> None:
        self.reqs = [r for r in self.reqs if not pred(r)]

    def _finish(self) -> None:
        _check_escalated_by(self)
        _check_promise(self)
        self._check_missed()
        _check_notes(self)

    def _check_missed(self) -> None:
        if self.status in ("solved", "closed"):
            return
        owed = [r for r in self.reqs if self._deadline(r.due) < self.end
                and (r.tier < self.tier if r.rule == "de-escalation" else r.tier > self.tier)]
        if owed:  # one per ticket: the requirements it was left owing
            self.v.missed.append(f"{_where(self.rec)}: still at L{self.tier}, owed " + ", ".join(
                f"{r.rule} to L{r.tier} due {r.due:%a %H:%M:%S}" for r in owed))


# --- what is checked once the record is read: tierlift's notes and its promise --------------------
def _where(rec: Record) -> str:
    return f"{rec.key} ({rec.intent['kind']}{' near miss' if rec.intent['near'] else ''})"


def _note_for(j: Judge, at: datetime, to: int) -> Ev | None:
    """tierlift's note for its move to `to` at `at` (written with it, or just after)."""
    near = [n for n in j.notes if -j.early <= n.at - at <= j.tol
            and (m := MARKER.search(n.body)) and int(m.group(3)) == to]
    return min(near, key=lambda n: abs(n.at - at)) if near else None


def _check_promise(j: Judge) -> None:
    """The first escalation's customer notice promises the time the seeds give (see _promised)."""
    if j.promise is None or j.first_up is None:
        return
    at, to = j.first_up
    m = PROMISE.search(j.promise.body)
    note = _note_for(j, at, to)
    # the marker may go on after at= (" by=" names a manual escalation's agent)
    decided = re.search(r" at=(\S+?)[\s\]]", note.body) if note else None
    if not m or j.promise.at - at > j.tol:
        return
    try:  # the marker's `at=` is when tierlift decided, which its promise is counted from
        base = datetime.fromisoformat(decided.group(1).replace("Z", "+00:00")) if decided else at
    except ValueError:
        base = at
    # The promise is shown to the minute: counted from the decision's second or from its
    # minute, both are honest; they differ by a night only when the target ends within that
    # minute of a closing time (seed 13: "Wednesday 17:00" or "Friday 09:00" after Thanksgiving).
    expected, of_minute = _promised(j, to, base), _promised(j, to, base.replace(second=0, microsecond=0))
    # shown in the customer's time zone: UTC, or the pack's calendar's (EST, EDT)
    zone = ZoneInfo("UTC" if m.group(2) == "UTC" else j.pol.calendar.timezone)
    promised = datetime.strptime(m.group(1), "%A %d %B %Y, %H:%M").replace(tzinfo=zone)
    if min(abs((promised - e).total_seconds()) for e in (expected, of_minute)) > 90:  # and a second's rounding
        j.v.promise_wrong.append(f"{_where(j.rec)}, {j.rec.plan}: escalated to L{to} at {base:%a %H:%M} UTC, "
                                 f"promised {m.group(1)} {m.group(2)}, expected {expected:%a %H:%M} UTC")


def _promised(j: Judge, to: int, base: datetime) -> datetime:
    """When the customer is promised an answer, the escalation decided at `base`.
    teamflow (seed 003): the category's initial response (security, outage, data loss 15 min;
    legal, GDPR 30 min; an enterprise customer 1 h), else the new level's time, 24x7. A P0 is
    a production outage (seed 000), once someone has said so: a P0 escalated before triage
    was, when promised, a P1 by its text (no category).
    three-tier (seed 000): the new tier's first-response target in business hours, but a
    P0/P1 incident at L3 is engineering on call, 30 minutes round the clock. Its severity is
    its tag, or the customer's own words for a production degradation (the floor's p0 and
    p1 wordings; three-tier reads those as P1). An outage, security incident or data loss
    told in words is on call too when the pack's on-call entry names its rule."""
    kind = j.rec.intent["kind"] if not j.rec.intent["near"] else "noise"
    if j.pol.name == "teamflow":
        category = "outage" if kind == "p0" and "p0" in j.first_tags else kind
        wait = CATEGORY_TIME.get(category) or (timedelta(hours=1) if j.rec.plan == "enterprise" else None) \
            or j.pol.target(to, j.rec.plan)
        return base + wait
    on_call = _on_call(j, kind, to)
    if on_call is not None:
        return on_call[2].add(base, on_call[3])
    return j.pol.calendar.add(base, j.pol.target(to, j.rec.plan))


def _on_call(j: Judge, kind: str, to: int) -> tuple[int, frozenset[str], RefHours, timedelta, frozenset[str]] | None:
    """three-tier's on-call entry for the level, when the ticket's severity or the rule that
    takes its incident there (an incident read from the words) is one it names."""
    severity = "P0" if "p0" in j.first_tags else "P1" if "p1" in j.first_tags or kind in ("p0", "p1") else None
    rule = INCIDENT_RULE.get(kind)
    return next((oc for oc in j.pol.on_call if oc[0] == to and (severity in oc[1] or rule in oc[4])), None)


def _check_escalated_by(j: Judge) -> None:
    for at, to, agent, where in j.manual:
        note = _note_for(j, at, to)
        by = m.group(1) if note and (m := BY.search(note.body)) else None
        if not (agent and by and agent in by):
            j.v.note_wrong.append(f"{where}: manual escalation by {agent!r}, note says escalated_by {by!r}")


def _check_notes(j: Judge) -> None:
    """One note per escalation, each beside a move of tierlift's."""
    seen: dict[str, int] = {}
    for n in j.notes:
        m = MARKER.search(n.body)
        if m:
            seen[m.group(1)] = seen.get(m.group(1), 0) + 1
    moves = [e.at for e in j.rec.events if e.kind == "team" and e.who == "bot"]
    twice = [k for k, c in seen.items() if c > 1]
    alone = [n for n in j.notes if not any(-j.early <= n.at - at <= j.tol for at in moves)]
    if twice or alone:
        j.v.duplicated.append(f"{j.rec.key}: {len(j.notes)} escalation notes for {len(moves)} moves"
                              + (f"; escalation {twice[0]} noted {seen[twice[0]]} times" if twice else "")
                              + (f"; a note at {alone[0].at:%a %H:%M:%S} with no move of tierlift's"
                                 if alone else ""))


def judge(pack: str, records: list[Record], tol: timedelta, end: datetime, early: timedelta = EARLY,
          down: Gaps = None) -> Verdicts:
    """`early`: how far before a due instant a move still counts (the daemon's clock follows the
    sandbox's from its own start, so at 600x a few milliseconds of skew are a few helpdesk seconds).
    `down`: (stopped, back), or a list of them: when tierlift could not act (not running, or the
    helpdesk's clock jumped over a night or a weekend)."""
    pol = Policy.load(pack)
    out = Verdicts()
    for rec in records:
        out.merge(Judge(pol, rec, tol, end, early, down).run())
    return out
