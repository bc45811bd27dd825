"""A simulated support floor: customers and agents working tickets through the REST API.

    python -m tierlift.sandbox --flavor zendesk --floor --seed 7 --floor-pack three-tier \
        --floor-tickets 200 --floor-days 5 --clock-speed 900

What happens (deterministic by seed: arrivals, kinds, wordings, customers and
each ticket's choices are drawn from per-ticket generators; only the moments
at which people notice tierlift's moves depend on the daemon):
- customers of organisations (basic, pro, enterprise plans, ARR, health score)
  open tickets of every kind the seeds name (floor_catalog.py) in several
  wordings, plus near misses; they follow up, reopen pending or solved
  tickets by replying, and sometimes ask for a manager;
- a trigger files each new ticket (three-tier: the L1 group) and sends an
  automated acknowledgement, which is never a first response;
- agents of each tier's team notice a ticket in their tier, reply publicly
  after a delay drawn around the tier's SLA target (some before 75% of it,
  some after, some never), add internal notes, triage severities (p0..p3
  tags), set pending / on-hold, solve, move tickets to another tier's team
  (human moves), apply the manual `escalate` tag with or without the context
  the policy requires, and de-escalate with `fix_deployed`.

Every action is an HTTP request with the acting person's own credentials
(users.py), so the helpdesk's record names who did what. The floor observes
tickets through the store (what an agent sees in the UI) and never reads
tierlift's state. `intent` keeps each ticket's kind for the oracle.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, cast

import requests
import yaml

from tierlift.engine.calendar import BusinessCalendar
from tierlift.sandbox import floor_catalog as cat
from tierlift.sandbox.floor_acts import Acts
from tierlift.sandbox.floor_lead import TriageLead
from tierlift.sandbox.users import Person

START = datetime(2026, 11, 2, 13, 30, tzinfo=UTC)  # Monday 08:30 in New York
TEAM_FIELD = "customfield_10056"
MIX = [("noise", 30), ("near", 14), ("security", 5), ("outage", 5), ("data_loss", 4), ("legal", 3), ("gdpr", 3),
       ("refund_big", 4), ("churn", 3), ("p0", 3), ("p1", 4), ("p2", 5), ("p3", 4)]


def duration(text: Any) -> timedelta:
    s = str(text).strip()
    unit = {"m": 60, "h": 3600, "d": 86400, "s": 1}[s[-1]]
    return timedelta(seconds=float(s[:-1]) * unit)


@dataclass
class Pack:
    """What the floor needs of a policy pack: tiers, their teams and first-response targets, the calendar."""

    name: str
    teams: dict[int, list[str]]
    targets: dict[int, Any]  # level -> timedelta or {plan: timedelta}
    calendar: BusinessCalendar

    @classmethod
    def load(cls, name: str) -> Pack:
        text = resources.files("tierlift.policies").joinpath(f"{name}.yaml").read_text()
        esc = yaml.safe_load(text)["escalation"]
        teams, targets = {}, {}
        for tier in esc["tiers"]:
            lvl = int(tier["level"])
            teams[lvl] = [tier["team"]] if "team" in tier else [t["team"] for t in tier["teams"]]
            fr = tier["sla"]["first_response"]
            targets[lvl] = {k: duration(v) for k, v in fr.items()} if isinstance(fr, dict) else duration(fr)
        cal_name = esc.get("calendar")
        spec = (esc.get("calendars") or {}).get(cal_name) if cal_name else None
        calendar = BusinessCalendar.from_spec(cal_name, spec) if spec else BusinessCalendar.always_open()
        return cls(name, teams, targets, calendar)

    def target(self, level: int, plan: str | None) -> timedelta:
        t = self.targets[level]
        # The shipped packs' per-plan tables carry a default; cast: yaml gives the table untyped.
        return cast(timedelta, t.get(plan or "default", t.get("default")) if isinstance(t, dict) else t)

    def tier_of(self, team: str | None) -> int | None:
        return next((lvl for lvl, names in self.teams.items() if team in names), None)

    @property
    def top(self) -> int:
        return max(self.teams)


@dataclass(order=True)
class Due:
    at: datetime
    seq: int
    key: Any = field(compare=False)
    act: str = field(compare=False)
    arg: Any = field(compare=False, default=None)


@dataclass
class Case:
    key: Any
    n: int
    kind: str
    near: bool
    customer: Person
    rng: random.Random
    tier: int = 1
    team: str | None = None
    entered: datetime | None = None
    closed: bool = False
    asked_manager: bool = False  # the customer asked for a manager (not a near miss)
    fixed: bool = False  # an agent said a fix was deployed


class Floor:
    """Run with run(stop) in a thread, or step(now) by hand; `stats` counts what people did."""

    def __init__(self, sb: Any, pack: str = "three-tier", seed: int = 7, *, tickets: int = 200, days: float = 5,
                 start: datetime | None = None, team_field: str = TEAM_FIELD, agents_per_team: int = 2,
                 specials: list[tuple[datetime, str]] | None = None, end: datetime | None = None,
                 lead: bool = True):
        self.sb, self.seed = sb, seed
        self.pack = Pack.load(pack)
        self.n_tickets, self.days = tickets, days
        self.start = start or sb.clock.now()
        self.end = end or self._end()  # an explicit end: a window that closes in the evening
        self.team_field = team_field
        self.rng = random.Random(f"floor-{seed}")
        self.agents: dict[str, list[Person]] = {}
        self.customers: list[Person] = []
        self.cases: dict[Any, Case] = {}
        self.intent: dict[Any, dict[str, Any]] = {}
        self.stats: dict[str, int] = {}
        self.errors: list[str] = []
        self._queue: list[Due] = []
        self._seq = 0
        self._pause_request: tuple[datetime, timedelta] | None = None
        # Situations placed by hand, beside the drawn arrivals: (when, kind), e.g. a P0 on a
        # Friday evening or on a holiday, when only the on-call tier is at work (issue 26).
        self.specials = list(specials or [])
        # Nobody acts before this instant (skip() sets it: the clock jumped a night or a weekend).
        self.hold_until: datetime | None = None
        self._skip_request: tuple[datetime, datetime] | None = None
        self._forced: dict[int, str] = {}
        self.acts = Acts(sb, requests.Session(), team_field)
        self._setup(agents_per_team)
        self.lead = TriageLead(self, seed, enabled=lead)  # answers tierlift's triage reviews

    # --- setup ----------------------------------------------------------------------------
    def _end(self) -> datetime:
        """`days` business days of the pack's calendar (or of weekdays 9-17 New York for 24x7 packs)."""
        cal = self.pack.calendar if self.pack.calendar.name != "24x7" else Pack.load("three-tier").calendar
        return cal.add(cal.next_open(self.start), timedelta(hours=8 * self.days)) + timedelta(minutes=30)

    def _setup(self, per_team: int) -> None:
        self.agents, self.customers = _people(self.sb, self.pack, self.rng, self.seed, per_team, self.n_tickets)
        self._schedule_arrivals()

    def _schedule_arrivals(self) -> None:
        cal = Pack.load("three-tier").calendar  # customers write in New York business hours
        first = cal.next_open(self.start)
        span = cal.elapsed(first, self.end - timedelta(minutes=45))
        offsets = sorted(self.rng.uniform(0, span.total_seconds()) for _ in range(self.n_tickets))
        for n, off in enumerate(offsets):
            self._at(cal.add(first, timedelta(seconds=off)), None, "arrive", n)
        for i, (at, kind) in enumerate(self.specials):
            self._forced[self.n_tickets + i] = kind
            self._at(at, None, "arrive", self.n_tickets + i)

    def _at(self, at: datetime, key: Any, act: str, arg: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._queue, Due(at, self._seq, key, act, arg))

    def _count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    # --- the loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event, scan_every: timedelta = timedelta(minutes=2)) -> None:
        next_scan = self.start
        while not stop.is_set():
            now = self.sb.clock.now()
            if now >= self.end:
                return
            self.step(now)
            if now >= next_scan:
                self.scan(now)
                next_scan = now + scan_every
            time.sleep(0.01)

    def skip(self, frm: datetime, to: datetime) -> None:
        """The clock jumps from `frm` to (just before) `to`, nobody working (called from the runner's thread):
        what was due between is done as much later after `to`, in order, by the floor's loop at its next step."""
        self.hold_until = to
        self._skip_request = (frm, to)

    def step(self, now: datetime) -> int:
        done = 0
        skip, self._skip_request = self._skip_request, None
        if skip is not None:
            _defer(self._queue, *skip)
        if self.hold_until is not None and now < self.hold_until:
            return done
        request, self._pause_request = self._pause_request, None
        if request is not None:
            self._pause_now(*request)
        while self._queue and self._queue[0].at <= now:
            due = heapq.heappop(self._queue)
            try:
                getattr(self, f"_do_{due.act}")(due, now)
                done += 1
            except Exception as exc:  # a floor that stops on one failed request judges nothing
                self.errors.append(f"{due.act} {due.key}: {exc.__class__.__name__}: {exc}"[:300])
        return done

    def scan(self, now: datetime) -> None:
        """Agents notice tickets that entered their tier (moved by tierlift or by a colleague)."""
        for case in self.cases.values():
            if case.closed:
                continue
            team, status = self.acts.observe(case.key)
            if status in ("solved", "closed"):
                continue
            self.lead.notice(case.key, now)
            tier = self.pack.tier_of(team) or case.tier
            if tier != case.tier or team != case.team:
                case.team = team
                if tier != case.tier:
                    case.tier, case.entered = tier, now
                    self._plan_tier(case, now)

    # --- what people do -----------------------------------------------------------------------
    def _do_arrive(self, due: Due, now: datetime) -> None:
        n = due.arg
        rng = random.Random(f"floor-{self.seed}-{n}")
        kind, near, (subject, body) = _pick_kind(rng)
        if n in self._forced:
            kind, near = self._forced[n], False
            subject, body = rng.choice(cat.WORDINGS[kind])
        customer = rng.choice(self.customers)
        key = self.acts.create(customer, subject, body)
        case = Case(key, n, kind, near, customer, rng, tier=1, entered=now)
        self.cases[key] = case
        self.intent[key] = {"kind": kind, "near": near, "subject": subject, "n": n,
                            "plan": customer.extra["org"]["plan"]}  # type: ignore[index]
        self._count("tickets")
        first = self.pack.teams[1][0] if len(self.pack.teams[1]) == 1 else None
        self.acts.trigger(key, first, "Thanks for contacting us: we received your request and will answer soon.")
        if kind in ("p0", "p1", "p2", "p3"):
            self._at(now + timedelta(minutes=rng.uniform(2, 15)), key, "triage", kind)
        if rng.random() < 0.25:
            self._at(now + timedelta(hours=rng.uniform(0.5, 6)), key, "customer", rng.choice(cat.FOLLOW_UPS))
        r = rng.random()
        if r < 0.07:
            self._at(now + timedelta(hours=rng.uniform(0.3, 6)), key, "manager", rng.choice(cat.MANAGER_ASKS))
        elif r < 0.10:
            self._at(now + timedelta(hours=rng.uniform(0.3, 6)), key, "customer", rng.choice(cat.MANAGER_NEAR_MISS))
        self._plan_tier(case, now)

    def _plan_tier(self, case: Case, now: datetime) -> None:
        """A tier's agents answer before 75% of the target, after it, or not at all (then the SLA decides)."""
        rng = case.rng
        target = self.pack.target(case.tier, case.customer.extra["org"]["plan"])  # type: ignore[index]
        r = rng.random()
        if r < 0.45:
            share = rng.uniform(0.05, 0.6)
        elif r < 0.8:
            share = rng.uniform(0.85, 1.6)
        else:
            return
        at = self.pack.calendar.add(now, target * share)
        self._at(at, case.key, "reply", case.tier)

    def _agent(self, case: Case, tier: int | None = None) -> Person:
        team = case.team if case.team in self.agents and tier is None else None
        names = [team] if team else self.pack.teams[tier or case.tier]
        return case.rng.choice(self.agents[case.rng.choice(names)])

    def _live(self, case: Case, tier: int | None = None) -> bool:
        team, status = self.acts.observe(case.key)
        if status in ("solved", "closed"):
            return False
        return tier is None or (self.pack.tier_of(team) or 1) == tier

    def _do_triage(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        if self._live(case):
            self.acts.agent_update(self._agent(case, 1), case.key, add_tags=[due.arg],
                                   note=f"Triage: severity {due.arg.upper()}.")
            self._count("triaged")

    def _do_reply(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        if not self._live(case, due.arg):
            return
        rng = case.rng
        self.acts.agent_update(self._agent(case), case.key, reply="Thanks for the details, we are working on it.")
        self._count("agent replies")
        later = [("note", 0.3, (0.2, 2)), ("move", 0.08, (0.3, 3)), ("escalate", 0.06, (0.3, 3)),
                 ("escalate_bare", 0.04, (0.3, 3)), ("pending", 0.3, (0.1, 2)), ("solve", 0.35, (2, 20))]
        if case.tier >= 2:
            later.append(("fix", 0.3 if case.tier >= self.pack.top - 1 else 0.1, (2.2, 8)))
        for act, p, (lo, hi) in later:
            if rng.random() < p:
                self._at(now + timedelta(hours=rng.uniform(lo, hi)), case.key, act, case.tier)

    def _do_note(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        if self._live(case):
            self.acts.agent_update(self._agent(case), case.key, note="Checked the logs; nothing unusual yet.")
            self._count("internal notes")

    def _do_pending(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        if not self._live(case, due.arg):
            return
        status = "hold" if case.rng.random() < 0.2 else "pending"
        self.acts.agent_update(self._agent(case), case.key, status=status)
        self._count(f"set {status}")
        if case.rng.random() < 0.7:
            self._at(now + timedelta(hours=case.rng.uniform(0.5, 10)), case.key, "customer", case.rng.choice(cat.FOLLOW_UPS))

    def _do_solve(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        if not self._live(case, due.arg):
            return
        self.acts.agent_update(self._agent(case), case.key, status="solved", reply="This should be resolved now.")
        self._count("solved")
        if case.rng.random() < 0.12:
            self._at(now + timedelta(hours=case.rng.uniform(1, 12)), case.key, "customer", "Sorry, it broke again.")

    def _do_customer(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        self.acts.customer_comment(case.customer, case.key, due.arg)
        self._count("customer follow-ups")

    def _do_manager(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        if self._live(case):
            self.acts.customer_comment(case.customer, case.key, due.arg)
            case.asked_manager |= due.arg in cat.MANAGER_ASKS
            self._count("manager requests")

    def _do_move(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        if not self._live(case, due.arg):
            return
        levels = [lvl for lvl in self.pack.teams if lvl != case.tier]
        up = [lvl for lvl in levels if lvl > case.tier]
        to = case.rng.choice(up) if up and case.rng.random() < 0.6 else case.rng.choice(levels)
        team = case.rng.choice(self.pack.teams[to])
        taker = case.rng.choice(self.agents[team])
        # The everyday hand-off (issue 26): "I'll take this and answer" -- the receiving agent
        # moves it and replies in the same update, or a minute later; hand-downs too.
        how = case.rng.random()
        mover = taker if how < 0.5 else self._agent(case)
        self.acts.agent_update(mover, case.key, team=team, note=f"Moving this to {team}.", assignee=taker,
                               reply=cat.TAKE_REPLY if how < 0.3 else None)
        if how < 0.3:
            self._count("moves with a reply in the same update")
        elif how < 0.5:
            self._at(now + timedelta(seconds=case.rng.uniform(10, 60)), case.key, "take_reply", (to, taker))
        case.team, case.tier, case.entered = team, to, now
        self._count("human moves")
        if to < due.arg:
            self._count("human moves down")
        self._plan_tier(case, now)

    def pause_some(self, now: datetime, span: timedelta) -> None:
        """While tierlift is stopped (called from the runner's thread): agents set a few open tickets pending or
        on hold and back to open before it returns, pauses it never saw (done by the floor's loop, next step)."""
        self._pause_request = (now, span)

    def _pause_now(self, now: datetime, span: timedelta, count: int = 6) -> None:
        live = [c for c in sorted(self.cases.values(), key=lambda c: c.n) if not c.closed and self._live(c)]
        for case in live[-count:]:
            status = "hold" if case.rng.random() < 0.4 else "pending"
            self.acts.agent_update(self._agent(case), case.key, status=status)
            self._count(f"set {status} while tierlift was stopped")
            back = now + span * case.rng.uniform(0.3, 0.8)
            self._at(back, case.key, "resume", status)

    def _do_resume(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        if self._live(case):
            self.acts.agent_update(self._agent(case), case.key, status="open")
            self._count("resumed")

    def _do_take_reply(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        tier, taker = due.arg
        if self._live(case, tier):
            self.acts.agent_update(taker, case.key, reply=cat.TAKE_REPLY)
            self._count("moves with a reply a minute later")

    def _do_escalate(self, due: Due, now: datetime, bare: bool = False) -> None:
        case = self.cases[due.key]
        if self._live(case, due.arg) and case.tier < self.pack.top:
            self.acts.agent_update(self._agent(case), case.key, add_tags=["escalate"],
                                   note=cat.BARE_NOTE if bare else cat.CONTEXT_NOTE)
            self._count(f"manual escalations with{'out' if bare else ''} context")

    def _do_escalate_bare(self, due: Due, now: datetime) -> None:
        self._do_escalate(due, now, bare=True)

    def _do_review(self, due: Due, now: datetime) -> None:
        self.lead.answer(self.cases[due.key], due.arg)

    def _do_fix(self, due: Due, now: datetime) -> None:
        case = self.cases[due.key]
        if self._live(case, due.arg):
            self.acts.agent_update(self._agent(case), case.key, add_tags=["fix_deployed"], reply=cat.FIX_TEXT)
            case.fixed = True
            self._count("fix deployed")


def _people(sb: Any, pack: Pack, rng: random.Random, seed: int, per_team: int,
            tickets: int) -> tuple[dict[str, list[Person]], list[Person]]:
    """The floor's agents (per_team for each team of the pack) and customers (of
    organisations on basic, pro and enterprise plans), registered with the helpdesk."""
    agents: dict[str, list[Person]] = {}
    customers: list[Person] = []
    uid = 2000
    for names in pack.teams.values():
        for team in names:
            agents[team] = []
            for i in range(per_team):
                uid += 1
                slug = team.lower().replace(" ", "-")
                p = Person(uid, f"{team} agent {i + 1}", f"{slug}-{i + 1}@floor.example", "agent",
                           token=f"tok-{slug}-{i + 1}-{seed}", team=team)
                sb.data.add_person(p)
                agents[team].append(p)
    for i in range(max(4, tickets // 3)):
        uid += 1
        plan = rng.choices(["basic", "pro", "enterprise"], [5, 3, 2])[0]
        arr = {"basic": rng.randrange(500, 9000), "pro": rng.randrange(5000, 60000),
               "enterprise": rng.randrange(40000, 250000)}[plan]
        org = {"id": 9000 + i, "name": f"Customer Org {i}", "plan": plan, "arr": arr,
               "health_score": rng.randrange(20, 100), "primary_contact": f"owner{i}@org{i}.example"}
        p = Person(uid, f"Customer {i}", f"c{i}@org{i}.example", "end-user", token=f"tok-c{i}-{seed}",
                   extra={"org": org, "organization_id": org["id"]})
        sb.data.add_person(p)
        customers.append(p)
    return agents, customers


def _defer(queue: list[Due], frm: datetime, to: datetime) -> None:
    """What was due in [frm, to) is due as much later after `to` (a heap, kept one)."""
    for due in queue:
        if frm <= due.at < to:
            due.at = to + (due.at - frm)
    heapq.heapify(queue)


def _pick_kind(rng: random.Random) -> tuple[str, bool, tuple[str, str]]:
    kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
    if kind == "near":
        kind = rng.choice(sorted(cat.NEAR_MISSES))
        return kind, True, rng.choice(cat.NEAR_MISSES[kind])
    return kind, False, rng.choice(cat.WORDINGS[kind])
