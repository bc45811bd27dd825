"""The state store interface: what the cycle, the daemon and the tools may ask of the state.

Two implementations pass one contract suite (tests/service/test_state.py):
``sqlite.SqliteStore`` (one file, one daemon) and ``postgres.PostgresStore``
(one database, several replicas). The queries live here, in the SQL both
speak (``?`` placeholders, ``ON CONFLICT``, times as fixed-width UTC text);
each implementation owns its connection, transactions, migrations and
housekeeping. No SQL exists outside this package.

Invariants (both stores):
- An intent is durable before the helpdesk write it announces.
- A ``pending`` real intent means "the write may or may not have landed";
  only recovery settles it, and compaction never deletes it.
- ``record_intent`` returns True exactly when the caller now owns the write:
  a new intent, or one re-armed from ``failed``/``dropped`` back to ``pending``.
- Multi-statement changes run in one transaction (``transaction()``); nested
  calls are savepoints inside the outer one.
- The journal holds what was (or may have been) written to a helpdesk, and only
  that: a plan (``record_plan``, a decision planned and not written) goes to a
  table of its own, ``plans``, read by ``plans``; the store has no notion of a
  dry run, only of intents and plans.
- Fencing: with a ``Fence`` set for a helpdesk, every intent record, journal
  mark and cursor move first checks, in its own transaction, that the fence's
  holder still holds that epoch of the lease (and, for an intent, that
  ``write_margin`` seconds of it are left); otherwise ``LeaseLost`` is raised
  and the transaction rolls back. A plan's row announces no helpdesk write
  and is not fenced. SQLite has no leases: the daemon holds the
  file's exclusive lock instead (service/daemon/leases.py).
- Database failures at run time surface as ``StateDatabaseError``, never as
  a helpdesk error.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tierlift.connectors.retry import backoff
from tierlift.engine.errors import TierliftError
from tierlift.engine.marker import parse_markers
from tierlift.engine.model import TierMove

CLOSED = ("solved", "closed")
INTENT_STATUSES = ("pending", "done", "dropped", "failed")


# The tables a private snapshot (plan, dry runs) carries; leases stay with the live store.
SNAPSHOT_TABLES = ("cursors", "tickets", "journal", "notifications", "resolutions", "plans", "quarantine",
                   "helpdesks", "triage_models")


class StateError(TierliftError):
    """The state cannot be used: missing directory, permissions, not ours, too new, damaged, locked."""


class StateDatabaseError(StateError):
    """The database failed at run time (disk full, I/O error, connection lost): not the helpdesk."""


class StateUnreachable(StateError):
    """The state database does not answer yet (down, restarting, too many clients): waited
    for at start, never the exit code of a bad configuration."""


class LeaseLost(TierliftError):
    """This replica no longer holds the helpdesk's lease (or too little of it is left for a write).

    Raised inside the store's own transaction, which then rolls back: nothing
    of the fenced change is committed.
    """


@dataclass(frozen=True)
class Fence:
    """What a store checks before journaling for a helpdesk: this holder, this epoch, time left."""
    helpdesk: str
    holder: str
    epoch: int
    write_margin: float  # seconds of lease an intent (a helpdesk write to come) needs left


@dataclass(frozen=True)
class IndexEntry:
    helpdesk: str
    ticket_id: str
    version: str
    tier: int
    status: str
    wake_up: datetime | None
    snapshot: str  # the ticket as JSON text, opaque here
    created_at: datetime
    updated_at: datetime
    plan: str | None = None
    group: str | None = None
    first_reply_at: datetime | None = None
    solved_at: datetime | None = None


@dataclass(frozen=True)
class Intent:
    helpdesk: str
    escalation_id: str
    ticket_id: str
    kind: str  # escalate / route / de-escalate / reminder / refused / frozen / review
    tier_before: int
    tier_after: int
    rule: str
    team: str
    decision: str  # the decision as JSON text
    status: str = "pending"  # pending | done | dropped | failed
    created_at: datetime | None = None  # decision time; the store's clock if None
    done_at: datetime | None = None  # for a plan: when it was planned
    attempts: int = 0
    detail: str = ""
    planned: bool = False  # a plan (read from `plans`): decided, never written


@dataclass(frozen=True)
class Unsent:
    """A notification not sent yet: journaled, failed so far `attempts` times (the last at
    `updated_at`, with `detail`)."""

    escalation_id: str
    channel: str
    attempts: int
    created_at: datetime
    updated_at: datetime
    detail: str
    ticket_id: str = ""  # the journal's, where it still has the escalation


@dataclass(frozen=True)
class Quarantined:
    helpdesk: str
    ticket_id: str
    error: str
    first_at: datetime
    last_at: datetime
    attempts: int
    next_retry: datetime


# The meta rows that say what a helpdesk's index is decided under (EntryRecords.policy_changed).
RECORDS = ("policy", "model", "since:policy", "since:model")


def _ts(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: the state store takes aware datetimes")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


def _moved_at(decision: dict[str, Any], esc_id: str) -> datetime | None:
    """When a person moved the ticket, as the helpdesk recorded it: the at= of the
    human-move note's marker (the journal's done_at is when tierlift noticed)."""
    actions = decision.get("actions")
    bodies = [a.get("body") for a in actions if isinstance(a, dict)] if isinstance(actions, list) else []
    moves = parse_markers(b for b in bodies if isinstance(b, str))
    return next((m.at for m in moves if m.escalation_id == esc_id), None)


def _at(s: str | None) -> datetime:
    """A time column the schema always fills (NOT NULL, or set with the row's status)."""
    if s is None:
        raise StateError("state database: a required time is missing (a damaged row)")
    return datetime.fromisoformat(s)


_TICKET_COLS = ("helpdesk, ticket_id, version, tier, status, wake_up, snapshot, created_at, updated_at,"
                " plan, group_name, first_reply_at, solved_at")
_INTENT_COLS = ("helpdesk, escalation_id, ticket_id, kind, tier_before, tier_after, rule, team, decision,"
                " status, created_at, done_at, attempts, detail")
_PLAN_COLS = ("helpdesk, escalation_id, ticket_id, kind, tier_before, tier_after, rule, team, decision,"
              " created_at, planned_at, detail")
_QUARANTINE_COLS = "helpdesk, ticket_id, error, first_at, last_at, attempts, next_retry"


def _entry(r: Sequence[Any]) -> IndexEntry:
    return IndexEntry(r[0], r[1], r[2], r[3], r[4], _dt(r[5]), r[6], _at(r[7]), _at(r[8]), r[9], r[10],
                      _dt(r[11]), _dt(r[12]))


def _intent(r: Sequence[Any]) -> Intent:
    return Intent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], _dt(r[10]), _dt(r[11]), r[12], r[13])


def _plan(r: Sequence[Any]) -> Intent:
    return Intent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], "done", _dt(r[9]), _dt(r[10]), 0, r[11],
                  planned=True)


def _quarantined(r: Sequence[Any]) -> Quarantined:
    return Quarantined(r[0], r[1], r[2], _at(r[3]), _at(r[4]), r[5], _at(r[6]))




# Every column but the key, for the index upsert (a full replace, as before).
_UPDATE_TICKET = ", ".join(f"{c} = excluded.{c}" for c in (
    "version", "tier", "status", "wake_up", "snapshot", "created_at", "updated_at", "plan", "group_name",
    "first_reply_at", "solved_at"))


class JournalQueries:
    """The intent journal and its notifications: the part of SqlStore that exactly-once rests on."""

    _integrity_errors: tuple[type[BaseException], ...] = ()
    _fences: dict[str, Fence]
    _now: Callable[[], datetime]
    transaction: Callable[[], AbstractContextManager[None]]
    _x: Callable[..., Any]
    _stream: Callable[..., Iterator[Any]]
    _fenced: Callable[..., None]

    # --- the intent journal ------------------------------------------------------------
    def record_intent(self, intent: Intent) -> bool:
        """Journal an intent before its write. True: the caller owns the write now.

        False when the intent is already pending (recovery settles it) or done.
        A failed or dropped intent is re-armed to pending (attempts + 1) and
        True is returned, so the retried write is journaled like the first.
        """
        if intent.status not in INTENT_STATUSES:
            raise ValueError(f"intent status {intent.status!r}: expected one of {INTENT_STATUSES}")
        if intent.planned:
            raise ValueError(f"{intent.escalation_id!r} is a plan: record_plan journals plans")
        i = intent
        created = _ts(i.created_at or self._now())
        with self.transaction():
            self._fenced(i.helpdesk, self._fences[i.helpdesk].write_margin if i.helpdesk in self._fences else 0)
            cur = self._x(
                f"INSERT INTO journal ({_INTENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (helpdesk, escalation_id) DO NOTHING",
                (i.helpdesk, i.escalation_id, i.ticket_id, i.kind, i.tier_before, i.tier_after, i.rule, i.team,
                 i.decision, i.status, created, _ts(i.done_at), i.attempts, i.detail))
            if cur.rowcount == 1:
                return True
            cur = self._x(
                "UPDATE journal SET status = 'pending', done_at = NULL, attempts = attempts + 1, detail = '',"
                " ticket_id = ?, kind = ?, tier_before = ?, tier_after = ?, rule = ?, team = ?, decision = ?"
                " WHERE helpdesk = ? AND escalation_id = ? AND status IN ('failed', 'dropped')",
                (i.ticket_id, i.kind, i.tier_before, i.tier_after, i.rule, i.team, i.decision,
                 i.helpdesk, i.escalation_id))
            return cur.rowcount == 1

    def mark(self, helpdesk: str, escalation_id: str, status: str, detail: str = "") -> None:
        """Settle an intent: done, dropped or failed (failed counts an attempt)."""
        if status not in ("done", "dropped", "failed"):
            raise ValueError(f"mark status {status!r}: expected done, dropped or failed")
        with self.transaction():
            self._fenced(helpdesk)
            cur = self._x("UPDATE journal SET status = ?, detail = ?, done_at = ?, attempts = attempts + ?"
                          " WHERE helpdesk = ? AND escalation_id = ?",
                          (status, detail, _ts(self._now()), int(status == "failed"), helpdesk, escalation_id))
        if cur.rowcount != 1:
            raise KeyError(f"no intent {escalation_id!r} for helpdesk {helpdesk!r}")

    def record_plan(self, intent: Intent) -> bool:
        """Keep a decision planned and not written (a row of `plans`, never of the journal),
        with the intent's detail. It announces no helpdesk write, so no lease fences it.
        True: new; a plan already kept under its escalation id is kept as it was."""
        i = intent
        with self.transaction():
            cur = self._x(
                f"INSERT INTO plans ({_PLAN_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (helpdesk, escalation_id) DO NOTHING",
                (i.helpdesk, i.escalation_id, i.ticket_id, i.kind, i.tier_before, i.tier_after, i.rule, i.team,
                 i.decision, _ts(i.created_at or self._now()), _ts(self._now()), i.detail))
        return bool(cur.rowcount == 1)

    def unfinished(self, helpdesk: str) -> list[Intent]:
        """Real intents still pending, oldest first: recovery checks each against its ticket."""
        return [_intent(r) for r in self._x(
            f"SELECT {_INTENT_COLS} FROM journal WHERE helpdesk = ? AND status = 'pending'"
            " ORDER BY created_at, escalation_id", (helpdesk,))]

    def intent(self, helpdesk: str, escalation_id: str) -> Intent | None:
        row = self._x(f"SELECT {_INTENT_COLS} FROM journal WHERE helpdesk = ? AND escalation_id = ?",
                      (helpdesk, escalation_id)).fetchone()
        return _intent(row) if row else None

    def intents(self, helpdesk: str | None = None, *, since: datetime | None = None) -> Iterator[Intent]:
        """Intents decided at or after `since`, oldest first, streamed (for reports)."""
        return self._decided("journal", _INTENT_COLS, _intent, helpdesk, since)

    def plans(self, helpdesk: str | None = None, *, since: datetime | None = None) -> Iterator[Intent]:
        """Plans (decisions planned, never written) decided at or after `since`, oldest first,
        streamed; each reads as an Intent with planned=True, done when it was planned."""
        return self._decided("plans", _PLAN_COLS, _plan, helpdesk, since)

    def planned(self, helpdesk: str, ticket_id: str) -> list[Intent]:
        """One ticket's plans, oldest first."""
        return [_plan(r) for r in self._x(f"SELECT {_PLAN_COLS} FROM plans WHERE helpdesk = ? AND ticket_id = ?"
                                          " ORDER BY created_at, escalation_id", (helpdesk, ticket_id))]

    def decisions(self, helpdesk: str | None = None, *, since: datetime | None = None) -> Iterator[Intent]:
        """Intents and plans together, oldest first (history and the report show both)."""
        return heapq.merge(self.intents(helpdesk, since=since), self.plans(helpdesk, since=since),
                           key=lambda i: (i.created_at or datetime.min.replace(tzinfo=UTC), i.escalation_id))

    def _decided(self, table: str, cols: str, row: Callable[[Sequence[Any]], Intent], helpdesk: str | None,
                 since: datetime | None) -> Iterator[Intent]:
        where, params = ["1 = 1"], list[Any]()
        if helpdesk is not None:
            where.append("helpdesk = ?")
            params.append(helpdesk)
        if since is not None:
            where.append("created_at >= ?")
            params.append(_ts(since))
        return self._stream(f"SELECT {cols} FROM {table} WHERE {' AND '.join(where)}"  # noqa: S608 (fixed names)
                            " ORDER BY created_at, escalation_id", params, row)

    def ledger(self, helpdesk: str, ticket_id: str,
               since: datetime | None = None) -> list[tuple[datetime, int, int, str, str]]:
        """The ticket's tier moves that landed: (at, from, to, rule, escalation_id), oldest first."""
        rows = self._x(
            "SELECT done_at, tier_before, tier_after, rule, escalation_id FROM journal"
            " WHERE helpdesk = ? AND ticket_id = ? AND status = 'done'"
            " AND tier_before != tier_after AND done_at >= ? ORDER BY done_at, escalation_id",
            (helpdesk, ticket_id, _ts(since) if since else ""))
        return [(_at(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def journaled(self, helpdesk: str, ticket_id: str) -> bool:
        """Whether the journal holds a finished decision on the ticket, a routing included:
        this state has followed tierlift's moves of it (evaluation.py's with_ledger)."""
        return bool(self._x("SELECT 1 FROM journal WHERE helpdesk = ? AND ticket_id = ?"
                            " AND status = 'done' LIMIT 1", (helpdesk, ticket_id)).fetchall())

    def ledger_moves(self, helpdesk: str, ticket_id: str) -> list[TierMove]:
        """The ledger as the engine reads it, with who moved the ticket: `actor` from the
        journaled decision, `human` for a person's move (kind human-move, or a move rebuilt
        from a note marker that says so). Oldest first; the same rows as `ledger`. The
        decision is parsed here, not with a JSON function, so both stores read it alike."""
        rows = self._x(
            "SELECT done_at, tier_before, tier_after, rule, escalation_id, kind, decision FROM journal"
            " WHERE helpdesk = ? AND ticket_id = ? AND status = 'done'"
            " AND tier_before != tier_after ORDER BY done_at, escalation_id", (helpdesk, ticket_id))
        moves = []
        for r in rows:
            try:
                decision = json.loads(r[6])
            except (TypeError, ValueError):
                decision = {}
            decision = decision if isinstance(decision, dict) else {}
            actor = decision.get("actor")
            human = r[5] == "human-move" or decision.get("human") in (1, True)
            at = (_moved_at(decision, r[4]) if human else None) or _at(r[0])
            moves.append(TierMove(at, r[1], r[2], r[3], r[4], actor=actor if isinstance(actor, str) else None,
                                  human=human))
        return moves

    # --- notifications, journaled like writes -------------------------------------------------
    def record_notification(self, helpdesk: str, escalation_id: str, channel: str) -> bool:
        """Journal a notification before sending it. False if it was journaled before."""
        now = _ts(self._now())
        try:
            cur = self._x("INSERT INTO notifications (helpdesk, escalation_id, channel, status, created_at,"
                          " updated_at) VALUES (?, ?, ?, 'pending', ?, ?)"
                          " ON CONFLICT (helpdesk, escalation_id, channel) DO NOTHING",
                          (helpdesk, escalation_id, channel, now, now))
        except self._integrity_errors as exc:
            raise KeyError(f"no intent {escalation_id!r} for helpdesk {helpdesk!r} to notify about") from exc
        return cur.rowcount == 1

    def mark_notification(self, helpdesk: str, escalation_id: str, channel: str, status: str,
                          detail: str = "", *, attempt: bool = True) -> None:
        """`attempt`: one more try was made (False: only the detail changes, as when given up)."""
        if status not in ("sent", "failed"):
            raise ValueError(f"notification status {status!r}: expected sent or failed")
        cur = self._x("UPDATE notifications SET status = ?, detail = ?, updated_at = ?,"
                      " attempts = attempts + ? WHERE helpdesk = ? AND escalation_id = ? AND channel = ?",
                      (status, detail, _ts(self._now()), int(attempt), helpdesk, escalation_id, channel))
        if cur.rowcount != 1:
            raise KeyError(f"no notification {escalation_id!r}/{channel!r} for helpdesk {helpdesk!r}")

    def unsent_notifications(self, helpdesk: str) -> list[Unsent]:
        """The notifications not sent yet, oldest first, with when they were made and last tried."""
        return [Unsent(e, c, n, _at(created), _at(updated), detail or "", ticket or "")
                for e, c, n, created, updated, detail, ticket in self._x(
                    "SELECT n.escalation_id, n.channel, n.attempts, n.created_at, n.updated_at, n.detail, j.ticket_id"
                    " FROM notifications n LEFT JOIN journal j ON j.helpdesk = n.helpdesk"
                    " AND j.escalation_id = n.escalation_id WHERE n.helpdesk = ? AND n.status != 'sent'"
                    " ORDER BY n.created_at, n.escalation_id, n.channel", (helpdesk,))]

    def clock_now(self) -> datetime:
        """The store's clock (the daemon's): what its timestamps are written with."""
        return self._now()

    def pending_notifications(self, helpdesk: str) -> list[tuple[str, str, int]]:
        """(escalation_id, channel, attempts) of notifications not sent yet, oldest first."""
        return [(n.escalation_id, n.channel, n.attempts) for n in self.unsent_notifications(helpdesk)]



class PageResolutions:
    """The resolutions of pages (PagerDuty incidents) whose ticket was solved, journaled per
    (escalation, channel) before they are sent, as the pages themselves are."""

    _x: Callable[..., Any]
    _now: Callable[[], datetime]

    def open_pages(self, helpdesk: str, tickets: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """Ticket id -> (escalation id, channel) of these tickets' pages sent and not resolved yet
        (asked for the tickets a page or a move down names, not the whole helpdesk's pages)."""
        pages: dict[str, list[tuple[str, str]]] = {}
        if not tickets:
            return pages
        marks = ", ".join("?" for _ in tickets)
        for ticket, esc, channel in self._x(
                "SELECT j.ticket_id, n.escalation_id, n.channel FROM notifications n JOIN journal j"
                " ON j.helpdesk = n.helpdesk AND j.escalation_id = n.escalation_id"
                f" WHERE n.helpdesk = ? AND j.ticket_id IN ({marks}) AND n.status = 'sent' AND NOT EXISTS"
                " (SELECT 1 FROM resolutions r"
                " WHERE r.helpdesk = n.helpdesk AND r.escalation_id = n.escalation_id AND r.channel = n.channel)"
                " ORDER BY n.created_at", (helpdesk, *tickets)):
            pages.setdefault(ticket, []).append((esc, channel))
        return pages

    def record_resolution(self, helpdesk: str, escalation_id: str, channel: str, ticket_id: str) -> bool:
        """Journal a page's resolution before sending it. False if it was journaled before."""
        now = _ts(self._now())
        return bool(self._x("INSERT INTO resolutions (helpdesk, escalation_id, channel, ticket_id, status,"
                            " created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)"
                            " ON CONFLICT (helpdesk, escalation_id, channel) DO NOTHING",
                            (helpdesk, escalation_id, channel, ticket_id, now, now)).rowcount == 1)

    def mark_resolution(self, helpdesk: str, escalation_id: str, channel: str, status: str, detail: str = "", *,
                        attempt: bool = True) -> None:
        if status not in ("sent", "failed"):
            raise ValueError(f"resolution status {status!r}: expected sent or failed")
        self._x("UPDATE resolutions SET status = ?, detail = ?, updated_at = ?, attempts = attempts + ?"
                " WHERE helpdesk = ? AND escalation_id = ? AND channel = ?",
                (status, detail, _ts(self._now()), int(attempt), helpdesk, escalation_id, channel))

    def unsent_resolutions(self, helpdesk: str) -> list[Unsent]:
        """The resolutions not sent yet, oldest first (as unsent_notifications)."""
        return [Unsent(e, c, n, _at(created), _at(updated), detail or "", ticket)
                for e, c, n, created, updated, detail, ticket in self._x(
                    "SELECT escalation_id, channel, attempts, created_at, updated_at, detail, ticket_id"
                    " FROM resolutions WHERE helpdesk = ? AND status != 'sent'"
                    " ORDER BY created_at, escalation_id, channel", (helpdesk,))]


class Erasure:
    """Forgetting tickets before their retention ends (a customer's erasure request): what the
    state keeps of them, overwritten where the store can (SQLite's secure_delete)."""

    _x: Callable[..., Any]
    transaction: Callable[[], AbstractContextManager[None]]
    _erasing: Callable[[], None]

    def tickets_of_requester(self, helpdesk: str, requester: str) -> list[str]:
        """The indexed tickets whose requester is `requester` (an email, any case)."""
        wanted = requester.strip().lower()
        out = []
        for ticket_id, snapshot in self._x("SELECT ticket_id, snapshot FROM tickets WHERE helpdesk = ?", (helpdesk,)):
            try:
                who = json.loads(snapshot).get("requester")
            except (ValueError, AttributeError):
                continue
            if isinstance(who, str) and who.strip().lower() == wanted:
                out.append(str(ticket_id))
        return sorted(out, key=lambda t: (len(t), t))

    def forget_tickets(self, helpdesk: str, ticket_ids: Sequence[str]) -> dict[str, int]:
        """Delete what the state keeps of these tickets: index rows, journal entries with their
        notifications and page resolutions, plans, quarantine rows. Refused (ValueError) while
        one of them has a write in flight: its intent settles it against the ticket first."""
        ids = list(dict.fromkeys(str(t) for t in ticket_ids))
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        with self.transaction():
            busy = [r[0] for r in self._x(f"SELECT ticket_id FROM journal WHERE helpdesk = ? AND status = 'pending'"
                                          f" AND ticket_id IN ({marks})", (helpdesk, *ids))]
            if busy:
                raise ValueError(f"ticket(s) {', '.join(sorted(set(busy)))}: a write is being settled; try again"
                                 " after the daemon's next cycle")
            self._erasing()
            of_journal = (f"SELECT escalation_id FROM journal WHERE helpdesk = ? AND ticket_id IN ({marks})")
            counts = {
                "resolutions": self._x(f"DELETE FROM resolutions WHERE helpdesk = ? AND ticket_id IN ({marks})",
                                       (helpdesk, *ids)).rowcount,
                "notifications": self._x(f"DELETE FROM notifications WHERE helpdesk = ? AND escalation_id IN"
                                         f" ({of_journal})", (helpdesk, helpdesk, *ids)).rowcount,
                "journal": self._x(f"DELETE FROM journal WHERE helpdesk = ? AND ticket_id IN ({marks})",
                                   (helpdesk, *ids)).rowcount,
                "plans": self._x(f"DELETE FROM plans WHERE helpdesk = ? AND ticket_id IN ({marks})",
                                 (helpdesk, *ids)).rowcount,
                "quarantine": self._x(f"DELETE FROM quarantine WHERE helpdesk = ? AND ticket_id IN ({marks})",
                                      (helpdesk, *ids)).rowcount,
                "index": self._x(f"DELETE FROM tickets WHERE helpdesk = ? AND ticket_id IN ({marks})",
                                 (helpdesk, *ids)).rowcount,
            }
        return {k: int(v) for k, v in counts.items()}


class EntryRecords:
    """What the state records about each entry (the meta table): the address its state was
    read from, and the policy its index was decided under."""

    transaction: Callable[[], AbstractContextManager[None]]
    _x: Callable[..., Any]

    def served_url(self, helpdesk: str, url: str) -> str | None:
        """The address this helpdesk's state was read from; the first call records `url`.
        None: the same address (or none recorded before); else the other address."""
        key, url = f"url:{helpdesk}", url.rstrip("/")
        with self.transaction():
            row = self._x("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is None:
                self._x("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, url))
                return None
        return None if row[0] == url else str(row[0])

    def policy_changed(self, helpdesk: str, digest: str, at: datetime, *, what: str = "policy") -> int | None:
        """Record the policy this helpdesk's index is decided under; on a new one, every open
        ticket of the index falls due at `at`, in the same transaction, and their count is
        returned (None: the same policy, or the first one recorded). The index kept the
        wake-ups of the old policy: a threshold lowered from 75% to 50% waited for the 75%
        wake-up of each ticket (QA, a policy author: `status` showed the old times).
        `what="model"`: the text model it reads with, the same way (QA: after `triage accept`
        `history` said "due now: escalate" while status, plan and the daemon did nothing)."""
        key = f"{what}:{helpdesk}"
        with self.transaction():
            row = self._x("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] == digest:
                return None
            upsert = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            self._x(upsert, (key, digest))
            self._x(upsert, (f"since:{key}", _ts(at)))  # decided_since: from when it reads so
            if row is None:
                return None
            cur = self._x("UPDATE tickets SET wake_up = ? WHERE helpdesk = ? AND status NOT IN ('solved', 'closed')"
                          " AND (wake_up IS NULL OR wake_up > ?)", (_ts(at), helpdesk, _ts(at)))
            return int(cur.rowcount)

    def decided_since(self, helpdesk: str) -> datetime | None:
        """Since when this helpdesk is decided under its present policy and model (None: not
        recorded): a shadow's plans from before an edit of its policy are another policy's."""
        rows = self._x("SELECT value FROM meta WHERE key IN (?, ?)",
                       (f"since:policy:{helpdesk}", f"since:model:{helpdesk}")).fetchall()
        return max((at for r in rows if (at := _dt(r[0])) is not None), default=None)

    def forget_url(self, helpdesk: str) -> None:
        self._x("DELETE FROM meta WHERE key = ?", (f"url:{helpdesk}",))


class TriageModels:
    """A helpdesk's refitted triage models (`tierlift triage learn`) and the one in use."""

    _now: Callable[[], datetime]
    transaction: Callable[[], AbstractContextManager[None]]
    _x: Callable[..., Any]

    def save_triage_model(self, helpdesk: str, model_id: str, figures: Mapping[str, Any], model: bytes) -> None:
        """Save a refit; learning the same id again refreshes it, learn time included (the old
        time made `eval` show the first learn and `HELPDESK/latest` pick an older refit). An
        accepted one stays accepted: the same id is the same tickets and labels."""
        with self.transaction():
            self._x("INSERT INTO triage_models (helpdesk, model_id, created_at, accepted_at, figures, model)"
                    " VALUES (?, ?, ?, NULL, ?, ?) ON CONFLICT (helpdesk, model_id) DO UPDATE"
                    " SET created_at = excluded.created_at, figures = excluded.figures, model = excluded.model",
                    (helpdesk, model_id, _ts(self._now()), json.dumps(figures), base64.b64encode(model).decode()))

    def triage_models(self, helpdesk: str) -> list[dict[str, Any]]:
        """The helpdesk's refits, newest first: model_id, created_at, accepted_at, figures."""
        rows = self._x("SELECT model_id, created_at, accepted_at, figures FROM triage_models WHERE helpdesk = ?"
                       " ORDER BY created_at DESC, model_id", (helpdesk,)).fetchall()
        return [{"model_id": r[0], "created_at": _dt(r[1]), "accepted_at": _dt(r[2]), "figures": json.loads(r[3])}
                for r in rows]

    def triage_model(self, helpdesk: str, model_id: str) -> bytes | None:
        row = self._x("SELECT model FROM triage_models WHERE helpdesk = ? AND model_id = ?",
                      (helpdesk, model_id)).fetchone()
        return base64.b64decode(row[0]) if row else None

    def accept_triage_model(self, helpdesk: str, model_id: str | None) -> bool:
        """Take `model_id` into use for the helpdesk (None: back to the shipped model).
        False when no such model was learnt."""
        with self.transaction():
            if model_id is not None and not self._x("SELECT 1 FROM triage_models WHERE helpdesk = ? AND model_id = ?",
                                                    (helpdesk, model_id)).fetchone():
                return False
            self._x("UPDATE triage_models SET accepted_at = NULL WHERE helpdesk = ?", (helpdesk,))
            if model_id is not None:
                self._x("UPDATE triage_models SET accepted_at = ? WHERE helpdesk = ? AND model_id = ?",
                        (_ts(self._now()), helpdesk, model_id))
        return True

    def forget_triage_models(self, helpdesk: str, model_id: str | None) -> int:
        """Delete a saved refit not in use (None: every one not in use); how many. A SQLite file
        overwrites what it deletes (secure_delete), so the words are not left in free pages."""
        with self.transaction():
            self._erasing()
            cur = self._x("DELETE FROM triage_models WHERE helpdesk = ? AND accepted_at IS NULL"
                          + ("" if model_id is None else " AND model_id = ?"),
                          (helpdesk,) if model_id is None else (helpdesk, model_id))
            return int(cur.rowcount)

    def _erasing(self) -> None:
        """Before a delete that must not leave the deleted rows readable in the file."""

    def accepted_triage_model(self, helpdesk: str) -> str | None:
        """The id of the model the helpdesk reads with, or None for the shipped one."""
        row = self._x("SELECT model_id FROM triage_models WHERE helpdesk = ? AND accepted_at IS NOT NULL",
                      (helpdesk,)).fetchone()
        return row[0] if row else None


class PrivateCopies:
    """What a dry run's private copy (`snapshot`) hands back to the live state: its own progress."""

    _x: Callable[..., Any]
    _many: Callable[..., None]
    transaction: Callable[[], AbstractContextManager[None]]
    get: Callable[[str, Sequence[str]], dict[str, IndexEntry]]
    cursor: Callable[[str], str | None]
    set_cursor: Callable[[str, str], None]
    helpdesk_status: Callable[[str], dict[str, Any]]
    quarantined: Callable[..., list[Quarantined]]
    upsert: Callable[[Iterable[IndexEntry]], None]
    remove: Callable[[str, Iterable[str]], None]

    def start_over(self, helpdesk: str) -> None:
        """Forget a private copy's index and cursor of `helpdesk`: its next read is a whole one."""
        with self.transaction():
            self._x("DELETE FROM tickets WHERE helpdesk = ?", (helpdesk,))
            self._x("DELETE FROM cursors WHERE helpdesk = ?", (helpdesk,))

    def follow_changes(self) -> None:
        """From now on, note which index rows change (a private copy from `snapshot`, always
        SQLite: temporary triggers), so that `hand_over` copies those and no others."""
        self._x("CREATE TEMP TABLE IF NOT EXISTS touched (helpdesk TEXT NOT NULL, ticket_id TEXT NOT NULL,"
                " PRIMARY KEY (helpdesk, ticket_id))")
        # Not INSERT OR IGNORE: an upsert's ON CONFLICT overrides a trigger's conflict clause, so
        # a row touched twice in one cycle (woken by an edited policy, then decided) failed with
        # "UNIQUE constraint failed: touched" (a shadow's edited policy, QA).
        for what, row in (("insert", "new"), ("update", "new"), ("delete", "old")):
            self._x(f"CREATE TEMP TRIGGER IF NOT EXISTS touched_{what} AFTER {what.upper()} ON tickets BEGIN"
                    f" INSERT INTO touched SELECT {row}.helpdesk, {row}.ticket_id WHERE NOT EXISTS (SELECT 1 FROM"
                    f" touched WHERE helpdesk = {row}.helpdesk AND ticket_id = {row}.ticket_id); END")

    def hand_over(self, helpdesk: str, into: PrivateCopies, as_name: str, *, everything: bool = False) -> int:
        """Keep a private copy's own progress of `helpdesk` in `into` under `as_name`, in one
        transaction: the cursor, last ok and last error, the quarantine, and the index rows
        (with their wake-ups) changed since the last hand-over (`everything`: all of them,
        and none other under that name). Never a journal row. Returns the index rows kept."""
        if everything:
            ids = [r[0] for r in self._x("SELECT ticket_id FROM tickets WHERE helpdesk = ?", (helpdesk,))]
        else:
            ids = [r[0] for r in self._x("SELECT ticket_id FROM touched WHERE helpdesk = ?", (helpdesk,))]
        rows = self.get(helpdesk, ids)
        cursor, health = self.cursor(helpdesk), self.helpdesk_status(helpdesk)
        held = self.quarantined(helpdesk)
        with into.transaction():
            if everything:
                into._x("DELETE FROM tickets WHERE helpdesk = ?", (as_name,))
                into._x("DELETE FROM cursors WHERE helpdesk = ?", (as_name,))
            into.remove(as_name, [t for t in ids if t not in rows])
            into.upsert([replace(e, helpdesk=as_name) for e in rows.values()])
            if cursor is not None:
                into.set_cursor(as_name, cursor)
            into._x("DELETE FROM helpdesks WHERE helpdesk = ?", (as_name,))
            into._x("INSERT INTO helpdesks VALUES (?, ?, ?, ?)", (as_name, _ts(health["last_ok"]),
                                                                    health["last_error"], _ts(health["error_at"])))
            # What the copy is decided under, and since when: the next copy compares its policy
            # with it (a shadow's edited policy was never decided again: QA, a new adopter).
            for key, value in self._x("SELECT key, value FROM meta WHERE key IN (?, ?, ?, ?)",
                                      tuple(f"{k}:{helpdesk}" for k in RECORDS)).fetchall():
                into._x("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                        " SET value = excluded.value", (key.rsplit(":", 1)[0] + ":" + as_name, value))
            into._x("DELETE FROM quarantine WHERE helpdesk = ?", (as_name,))
            into._many(f"INSERT INTO quarantine ({_QUARANTINE_COLS}) VALUES (?,?,?,?,?,?,?)",
                       [(as_name, q.ticket_id, q.error, _ts(q.first_at), _ts(q.last_at), q.attempts,
                         _ts(q.next_retry)) for q in held])
        self._x("DELETE FROM touched WHERE helpdesk = ?", (helpdesk,))
        return len(rows)


class SqlStore(JournalQueries, PageResolutions, Erasure, TriageModels, PrivateCopies, EntryRecords):
    """The queries of the state, over an implementation's connection. One instance per thread."""

    kind = "abstract"
    # What a failed foreign key raises (a notification for an unknown intent).
    _integrity_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, *, now: Callable[[], datetime], retry_base: timedelta, retry_cap: timedelta):
        self._now = now
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._fences: dict[str, Fence] = {}
        self._schema_version = 0

    # --- what an implementation provides ---------------------------------------------
    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _x(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; returns a cursor (fetchone, fetchall, rowcount, iteration)."""
        raise NotImplementedError

    def step_down(self) -> int:
        """The state back at the previous release's schema (schema.DOWN); the schema it is at now."""
        raise NotImplementedError

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _stream(self, sql: str, params: Sequence[Any], make: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
        raise NotImplementedError

    def _check_fence(self, fence: Fence, need: float) -> None:
        """Raise LeaseLost unless fence.holder holds fence.epoch with `need` seconds left."""
        raise NotImplementedError

    def _housekeep(self) -> None:
        """After compaction's deletes, inside its transaction: hand space back."""

    def _after_compact(self) -> None:
        """After compaction's commit."""

    def _compaction_lock(self) -> bool:
        """Inside compaction's transaction: True when this store may compact now."""
        return True

    def _storage(self) -> dict[str, Any]:
        raise NotImplementedError

    def snapshot(self) -> SqlStore:
        """A private in-memory copy: dry runs and `tierlift plan` work on it, so they see the
        live cursor, ledger and index but never write them (issue 13). Rows are copied by
        column name, so it works from either store (their shared tables match)."""
        from tierlift.service.daemon.store.sqlite import SqliteStore

        copy = SqliteStore(":memory:", now=self._now, retry_base=self._retry_base, retry_cap=self._retry_cap)
        for table in SNAPSHOT_TABLES:
            cur = self._x(f"SELECT * FROM {table}")  # noqa: S608 (a fixed table name)
            cols = [d[0] for d in cur.description]
            rows = [tuple(r) for r in cur.fetchall()]
            if rows:
                copy._many(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
        # The policy and model each index was decided under: a plan of an edited policy decides
        # the open tickets again, as the live entry will (EntryRecords.policy_changed).
        # The pattern is a parameter: a literal % in the text is a placeholder to psycopg (QA:
        # plan and run --once --dry-run failed on every PostgreSQL state).
        kept = [tuple(r) for r in self._x("SELECT key, value FROM meta WHERE key LIKE ? OR key LIKE ? OR key LIKE ?",
                                          ("policy:%", "model:%", "since:%")).fetchall()]
        if kept:
            copy._many("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       kept)
        return copy

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._schema_version

    # --- fencing ---------------------------------------------------------------------------
    def set_fence(self, fence: Fence | None, helpdesk: str | None = None) -> None:
        """Fence the helpdesk's journal and cursor writes with a lease (None: unfenced)."""
        if fence is None:
            self._fences.pop(helpdesk or "", None)
        else:
            self._fences[fence.helpdesk] = fence

    def _fenced(self, helpdesk: str, need: float = 0.0) -> None:
        fence = self._fences.get(helpdesk)
        if fence is not None:
            self._check_fence(fence, need)

    # --- leases (the replicas' share of the helpdesks; PostgreSQL only) --------------------
    def leases(self) -> list[dict[str, Any]]:
        """Each helpdesk's lease: helpdesk, holder, host, pid, epoch, expires_at, live. [] without leases."""
        return []

    # --- cursors ---------------------------------------------------------------------
    def cursor(self, helpdesk: str) -> str | None:
        row = self._x("SELECT cursor FROM cursors WHERE helpdesk = ?", (helpdesk,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, helpdesk: str, cursor: str) -> None:
        with self.transaction():
            self._fenced(helpdesk)
            self._x("INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT (helpdesk) DO UPDATE"
                    " SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                    (helpdesk, cursor, _ts(self._now())))

    # --- the ticket index ------------------------------------------------------------------
    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        """Insert or replace index rows. Solved/closed tickets belong here too (wake_up None):
        reports read their SLA data until compaction."""
        rows = [(e.helpdesk, e.ticket_id, e.version, e.tier, e.status, _ts(e.wake_up), e.snapshot,
                 _ts(e.created_at), _ts(e.updated_at), e.plan, e.group, _ts(e.first_reply_at),
                 _ts(e.solved_at)) for e in entries]
        if not rows:
            return
        with self.transaction():
            self._many(f"INSERT INTO tickets ({_TICKET_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
                       " ON CONFLICT (helpdesk, ticket_id) DO UPDATE SET " + _UPDATE_TICKET, rows)

    def remove(self, helpdesk: str, ticket_ids: Iterable[str]) -> None:
        """Forget tickets that no longer exist in the helpdesk (deleted, merged away)."""
        rows = [(helpdesk, t) for t in ticket_ids]
        if rows:
            with self.transaction():
                self._many("DELETE FROM tickets WHERE helpdesk = ? AND ticket_id = ?", rows)

    def get(self, helpdesk: str, ticket_ids: Sequence[str]) -> dict[str, IndexEntry]:
        out: dict[str, IndexEntry] = {}
        ids = list(ticket_ids)
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self._x(f"SELECT {_TICKET_COLS} FROM tickets WHERE helpdesk = ? AND ticket_id IN ({marks})",
                             (helpdesk, *chunk)):
                out[r[1]] = _entry(r)
        return out

    def due(self, helpdesk: str, now: datetime, limit: int = 10_000) -> list[IndexEntry]:
        """Tickets whose wake-up has passed, earliest first."""
        return [_entry(r) for r in self._x(
            f"SELECT {_TICKET_COLS} FROM tickets WHERE helpdesk = ? AND wake_up IS NOT NULL AND wake_up <= ?"
            " ORDER BY wake_up LIMIT ?", (helpdesk, _ts(now), limit))]

    def set_wake_up(self, helpdesk: str, ticket_id: str, wake_up: datetime | None) -> None:
        self._x("UPDATE tickets SET wake_up = ? WHERE helpdesk = ? AND ticket_id = ?",
                (_ts(wake_up), helpdesk, ticket_id))

    def next_wake_up(self, helpdesk: str) -> datetime | None:
        row = self._x("SELECT MIN(wake_up) FROM tickets WHERE helpdesk = ? AND wake_up IS NOT NULL",
                      (helpdesk,)).fetchone()
        return _dt(row[0])

    def index_size(self, helpdesk: str | None = None) -> int:
        """Open tickets (not solved or closed)."""
        sql = "SELECT COUNT(*) FROM tickets WHERE status NOT IN ('solved', 'closed')"
        if helpdesk is None:
            return self._x(sql).fetchone()[0]
        return self._x(sql + " AND helpdesk = ?", (helpdesk,)).fetchone()[0]

    def entries(self, helpdesk: str | None = None) -> Iterator[IndexEntry]:
        """Every indexed ticket, open or kept-closed, streamed."""
        where, params = ("WHERE helpdesk = ?", (helpdesk,)) if helpdesk is not None else ("", ())
        return self._stream(f"SELECT {_TICKET_COLS} FROM tickets {where} ORDER BY helpdesk, ticket_id",
                            params, _entry)

    # --- quarantine -----------------------------------------------------------------------
    def quarantine(self, helpdesk: str, ticket_id: str, error: str, now: datetime) -> Quarantined:
        """Record one more failure; the next retry waits base * 2**(attempts-1), at most cap."""
        with self.transaction():
            row = self._x("SELECT first_at, attempts FROM quarantine WHERE helpdesk = ? AND ticket_id = ?",
                          (helpdesk, ticket_id)).fetchone()
            first_at, attempts = (_at(row[0]), row[1] + 1) if row else (now, 1)
            delay = timedelta(seconds=backoff(attempts, base=self._retry_base.total_seconds(),
                                              cap=self._retry_cap.total_seconds()))
            q = Quarantined(helpdesk, ticket_id, error, first_at, now, attempts, now + delay)
            self._x(f"INSERT INTO quarantine ({_QUARANTINE_COLS}) VALUES (?,?,?,?,?,?,?)"
                    " ON CONFLICT (helpdesk, ticket_id) DO UPDATE SET error = excluded.error,"
                    " last_at = excluded.last_at, attempts = excluded.attempts, next_retry = excluded.next_retry",
                    (helpdesk, ticket_id, error, _ts(first_at), _ts(now), attempts, _ts(q.next_retry)))
        return q

    def release(self, helpdesk: str, ticket_id: str) -> None:
        self._x("DELETE FROM quarantine WHERE helpdesk = ? AND ticket_id = ?", (helpdesk, ticket_id))

    def quarantined(self, helpdesk: str | None = None) -> list[Quarantined]:
        where, params = ("WHERE helpdesk = ?", (helpdesk,)) if helpdesk is not None else ("", ())
        return [_quarantined(r) for r in self._x(
            f"SELECT {_QUARANTINE_COLS} FROM quarantine {where} ORDER BY helpdesk, first_at, ticket_id", params)]

    def retry_due(self, helpdesk: str, now: datetime) -> list[Quarantined]:
        return [_quarantined(r) for r in self._x(
            f"SELECT {_QUARANTINE_COLS} FROM quarantine WHERE helpdesk = ? AND next_retry <= ?"
            " ORDER BY next_retry, ticket_id", (helpdesk, _ts(now)))]

    # --- health and housekeeping -----------------------------------------------------------
    def helpdesk_status(self, helpdesk: str) -> dict[str, Any]:
        """{"last_ok", "last_error", "error_at"}: None where never set."""
        row = self._x("SELECT last_ok, last_error, error_at FROM helpdesks WHERE helpdesk = ?",
                      (helpdesk,)).fetchone() or (None, None, None)
        return {"last_ok": _dt(row[0]), "last_error": row[1], "error_at": _dt(row[2])}

    def set_helpdesk_status(self, helpdesk: str, *, last_ok: datetime | None = None,
                            last_error: str | None = None, error_at: datetime | None = None) -> dict[str, Any]:
        """Update the given fields only; last_error="" clears the error. Returns the new status."""
        if last_error and error_at is None:
            error_at = self._now()
        with self.transaction():
            self._x("INSERT INTO helpdesks (helpdesk) VALUES (?) ON CONFLICT DO NOTHING", (helpdesk,))
            if last_ok is not None:
                self._x("UPDATE helpdesks SET last_ok = ? WHERE helpdesk = ?", (_ts(last_ok), helpdesk))
            if last_error == "":
                self._x("UPDATE helpdesks SET last_error = NULL, error_at = NULL WHERE helpdesk = ?", (helpdesk,))
            elif last_error is not None:
                self._x("UPDATE helpdesks SET last_error = ?, error_at = ? WHERE helpdesk = ?",
                        (last_error, _ts(error_at), helpdesk))
            return self.helpdesk_status(helpdesk)

    # --- webhooks waiting for their lease holder (replicas; store/postgres.py has the table) ----
    # SQLite's one daemon takes its webhooks directly: nothing ever waits here.
    def nudges_forward(self, rows: Sequence[tuple[str, str, str]], replica: str) -> list[bool]:
        raise StateError("webhooks are forwarded between replicas through PostgreSQL only")

    def nudges_waiting(self, helpdesk: str, limit: int = 10_000) -> list[tuple[str, str]]:
        return []

    def nudges_done(self, helpdesk: str, deliveries: Sequence[str]) -> int:
        return 0

    def nudges_prune(self, older_than: float) -> int:
        return 0

    def compact(self, *, older_than: datetime) -> int:
        """Delete what reports no longer need; return the number of rows deleted.

        Intents settled (done, dropped, failed) before the cutoff, with their
        notifications; sent notifications older than it; solved/closed index
        rows last updated before it. Pending intents are never deleted: only
        recovery may settle them.
        """
        cut = _ts(older_than)
        with self.transaction():
            if not self._compaction_lock():
                return 0  # another replica compacts now
            # Counted here rather than left to ON DELETE CASCADE, which reports no rows.
            n = self._x("DELETE FROM resolutions WHERE EXISTS (SELECT 1 FROM notifications n"
                        " WHERE n.helpdesk = resolutions.helpdesk AND n.escalation_id = resolutions.escalation_id"
                        " AND n.channel = resolutions.channel AND ((n.status = 'sent' AND n.updated_at < ?) OR EXISTS ("
                        " SELECT 1 FROM journal j WHERE j.helpdesk = n.helpdesk AND j.escalation_id = n.escalation_id"
                        " AND j.status != 'pending' AND COALESCE(j.done_at, j.created_at) < ?)))",
                        (cut, cut)).rowcount
            n += self._x("DELETE FROM notifications WHERE (status = 'sent' AND updated_at < ?) OR EXISTS ("
                        " SELECT 1 FROM journal j WHERE j.helpdesk = notifications.helpdesk"
                        " AND j.escalation_id = notifications.escalation_id"
                        " AND j.status != 'pending' AND COALESCE(j.done_at, j.created_at) < ?)",
                        (cut, cut)).rowcount
            n += self._x("DELETE FROM journal WHERE status != 'pending' AND COALESCE(done_at, created_at) < ?",
                         (cut,)).rowcount
            n += self._x("DELETE FROM plans WHERE planned_at < ?", (cut,)).rowcount
            n += self._x("DELETE FROM tickets WHERE status IN ('solved', 'closed') AND updated_at < ?",
                         (cut,)).rowcount
            self._housekeep()
        self._after_compact()
        return n

    def stats(self) -> dict[str, Any]:
        """Counts for `tierlift status` and the metrics endpoint."""
        now = _ts(self._now())

        def by_helpdesk(sql: str, params: Sequence[Any] = ()) -> dict[str, int]:
            return {hd: n for hd, n in self._x(sql + " GROUP BY helpdesk ORDER BY helpdesk", params)}

        return {
            "schema_version": self._schema_version,
            "open_tickets": by_helpdesk("SELECT helpdesk, COUNT(*) FROM tickets"
                                        " WHERE status NOT IN ('solved', 'closed')"),
            "closed_kept": by_helpdesk("SELECT helpdesk, COUNT(*) FROM tickets WHERE status IN ('solved', 'closed')"),
            "due_now": by_helpdesk("SELECT helpdesk, COUNT(*) FROM tickets WHERE wake_up IS NOT NULL"
                                   " AND wake_up <= ?", (now,)),
            "quarantined": by_helpdesk("SELECT helpdesk, COUNT(*) FROM quarantine"),
            "pending_intents": by_helpdesk("SELECT helpdesk, COUNT(*) FROM journal"
                                           " WHERE status = 'pending'"),
            "journal_rows": self._x("SELECT COUNT(*) FROM journal").fetchone()[0],
            "pending_notifications": by_helpdesk("SELECT helpdesk, COUNT(*) FROM notifications"
                                                 " WHERE status != 'sent'"),
            **self._storage(),
        }


