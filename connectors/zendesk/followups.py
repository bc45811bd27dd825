"""A customer's follow-up without a read per ticket (issue 25): the audits of the tickets
the connector has read, kept current by the incremental ticket events export.

`with_comments` needs a ticket's whole story (every comment, who moved it when). The
first time, that is the ticket's audits (`/api/v2/tickets/{id}/audits.json`): they are
kept here, reduced to what `mapping.history_from_audits` reads, compressed, for up to
`size` tickets (least recently used out first). After that, one read of the stream
(`GET /api/v2/incremental/ticket_events.json?start_time=...&include=comment_events`,
time based, 1,000 events a page, admins only) brings every ticket's new audits at once;
each event is an audit (updater_id is its author_id, child_events its events) and is
added to the kept audits of its ticket, once (by audit id).

When the kept audits may be used: when they hold the audit of the ticket's last update
(the newest kept audit is at or after the ticket's updated_at, which Zendesk moves with
every update: it is the ticket's version, the stamp safe updates carry). Then they are
every audit up to that update: the first read gave all of them up to its time, and the
stream gives every later one in time order, from a position never later than the
read of any kept ticket (it starts at the first read's time, by the helpdesk's clock:
the Date of the answer before that read, less MARGIN; then it moves to the end of what it
served). A read is dated by the answer before it, never by its own: the helpdesk dates an
answer when it sends it, after reading, and an audit made in between is not in it. A ticket
whose last update they do not hold is read from its audits as before (and kept
anew): one changed within the minute the export withholds, one not read before, one
evicted, or any when the account may not read the stream (403: not an admin; said
once in the log). A page full of one second's events cannot be followed past (pages
start at a second): the tickets read by then are forgotten (read again), the stream
goes on from the next second; a stream more than MAX_PAGES behind starts over.

The stream is read only when a kept ticket asks for comments it has not got, and not
for a change more than WITHHELD before the latest update a read was made for (that
read was made after it, and the export withholds only the last minute, so it would
have brought it): once per cycle in practice, never on an idle cycle.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from tierlift.connectors.base import is_id
from tierlift.connectors.errors import AuthError, RetriableError, TicketError

log = logging.getLogger("tierlift.zendesk")

EVENTS = "/api/v2/incremental/ticket_events.json"
MARGIN = 60  # seconds: the stream starts this long before the first audits read (created_at and
# updated_at may differ by a second or so: zendesk-recordings, mapping.CLOCK_SKEW)
MAX_PAGES = 10  # a catch-up reads at most this many pages; a stream further behind starts over
MAX_BYTES = 256 * 1024  # a ticket whose kept audits weigh more (compressed) is read each time instead
MAX_TOTAL = 128 * 1024 * 1024  # all kept audits (compressed): the least recently used go first past it
DEFAULT_SIZE = 20_000  # tickets kept
WITHHELD = 60  # seconds: the incremental exports never return the last minute
# The fields history_from_audits reads from Create and Change events.
FIELDS = ("status", "tags", "group_id", "assignee_id")

Read = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


def _seconds(value: Any) -> int | None:
    """An API time (ISO 8601) as Unix seconds, None when it is none."""
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _by_rule(via: Any) -> bool:
    """The audit was a trigger's or an automation's (mapping._by_rule's test): an audit's via
    object, or an event's via name ("Rule")."""
    if isinstance(via, str):
        return via.strip().lower() == "rule"
    if not isinstance(via, Mapping):
        return False
    source = via.get("source")
    rel = source.get("rel") if isinstance(source, Mapping) else None
    return via.get("channel") == "rule" or str(rel) in ("trigger", "automation")


def _slim_event(e: Mapping[str, Any]) -> dict[str, Any] | None:
    """An audit event as history_from_audits reads it (None: an event it ignores)."""
    kind = e.get("type")
    if kind == "Comment":
        out = {"type": "Comment", "author_id": e.get("author_id"), "public": bool(e.get("public", True)),
               "body": e.get("body") or e.get("plain_body") or ""}
        if e.get("created_at") is not None:
            out["created_at"] = e["created_at"]
        return out
    if kind in ("Create", "Change") and e.get("field_name") in FIELDS:
        out = {"type": kind, "field_name": e["field_name"], "value": e.get("value")}
        if kind == "Change":
            out["previous_value"] = e.get("previous_value")
        return out
    return None


def slim(audit: Mapping[str, Any]) -> dict[str, Any]:
    """An audit reduced to what history_from_audits reads: the same comments and changes
    come out of it (tests/connectors/test_followups.py checks it on recorded audits)."""
    events = [s for e in audit.get("events") or [] if isinstance(e, Mapping) and (s := _slim_event(e))]
    return {"id": audit.get("id"), "created_at": audit.get("created_at"), "author_id": audit.get("author_id"),
            "via": {"channel": "rule"} if _by_rule(audit.get("via")) else {}, "events": events}


def _child_field(child: Mapping[str, Any]) -> str | None:
    """Which field a Create or Change child event sets: its key named after the field."""
    if child.get("field_name") in FIELDS:
        return str(child["field_name"])
    return next((f for f in FIELDS if f in child), None)


def _child(child: Mapping[str, Any]) -> dict[str, Any] | None:
    """A child event of the stream as an audit event (None: one history_from_audits ignores)."""
    kind = child.get("event_type") or child.get("type")
    if kind == "Comment":
        return {**child, "type": "Comment"}
    field = _child_field(child) if kind in ("Create", "Change") else None
    if field is None:
        return None
    event = {"type": kind, "field_name": field, "value": child.get(field)}
    if kind == "Change":
        event["previous_value"] = child.get("previous_value")
        if "previous_value" not in child and field == "tags" and isinstance(child.get(field), list):
            # The tags before, from the ones the change added and removed.
            added, removed = set(child.get("added_tags") or []), set(child.get("removed_tags") or [])
            event["previous_value"] = sorted((set(child[field]) - added) | removed)
    return event


def audit_of_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """An incremental ticket event as the audit it is (then slimmed): updater_id is the
    author, child_events the events, via the audit's."""
    at = event.get("created_at")
    if at is None and isinstance(event.get("timestamp"), int):
        at = datetime.fromtimestamp(event["timestamp"], tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    children = [c for c in event.get("child_events") or [] if isinstance(c, Mapping)]
    return slim({"id": event.get("id"), "created_at": at, "author_id": event.get("updater_id"),
                 "via": event.get("via"), "events": [e for c in children if (e := _child(c)) is not None]})


class _Kept:
    """One ticket's slim audits, compressed; the time of the newest, and a time the read
    that gave them came after (Unix seconds): they are every audit up to it."""

    __slots__ = ("blob", "newest", "read_at")

    def __init__(self, audits: Sequence[Mapping[str, Any]], read_at: int) -> None:
        times = [s for a in audits if (s := _seconds(a.get("created_at"))) is not None]
        self.newest = max(times, default=-1)
        self.read_at = read_at
        self.blob = zlib.compress(json.dumps(list(audits), separators=(",", ":")).encode())

    def audits(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = json.loads(zlib.decompress(self.blob))
        return out


class AuditCache:
    """Slim audits by ticket id, at most `size` tickets and MAX_TOTAL bytes, least recently
    used out first."""

    def __init__(self, size: int, max_total: int = MAX_TOTAL) -> None:
        self.size, self.max_total = size, max_total
        self.kept: OrderedDict[str, _Kept] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.kept)

    def __contains__(self, tid: object) -> bool:
        return tid in self.kept

    def get(self, tid: str) -> _Kept | None:
        kept = self.kept.get(tid)
        if kept is not None:
            self.kept.move_to_end(tid)
        return kept

    def put(self, tid: str, audits: Sequence[Mapping[str, Any]], read_at: int) -> None:
        kept = _Kept(audits, read_at)
        self.drop(tid)
        if self.size <= 0 or len(kept.blob) > MAX_BYTES or any(not is_id(a.get("id")) for a in audits):
            return  # an audit without an id could not be told from the stream's copy
        self.kept[tid] = kept
        self.bytes += len(kept.blob)
        while self.kept and (len(self.kept) > self.size or self.bytes > self.max_total):
            self.drop(next(iter(self.kept)))

    def drop(self, tid: str) -> None:
        gone = self.kept.pop(tid, None)
        if gone is not None:
            self.bytes -= len(gone.blob)

    def add(self, tid: str, audits: Sequence[Mapping[str, Any]]) -> None:
        """The stream's audits of a kept ticket, each once (by audit id); not a use (no LRU move)."""
        kept = self.kept.get(tid)
        if kept is None:
            return
        if any(not is_id(a.get("id")) for a in audits):
            self.drop(tid)  # cannot be deduplicated: read the ticket again
            return
        have = kept.audits()
        ids = {a.get("id") for a in have}
        new = [a for a in audits if a.get("id") not in ids]
        if new:
            merged = _Kept([*have, *new], kept.read_at)
            if len(merged.blob) > MAX_BYTES:
                self.drop(tid)
            else:
                self.bytes += len(merged.blob) - len(kept.blob)
                self.kept[tid] = merged  # in place: its LRU rank stays

    def drop_read_by(self, second: int) -> None:
        """Forget the tickets read no later than `second`: their audits of it may be missing."""
        for tid in [tid for tid, kept in self.kept.items() if kept.read_at <= second]:
            self.drop(tid)

    def clear(self) -> None:
        self.kept.clear()
        self.bytes = 0


class Followups:
    """The kept audits and the stream's position: `audits(ticket)` before a read, `remember`
    after one, `saw` for every answer's Date."""

    def __init__(self, read: Read, size: int = DEFAULT_SIZE, *, name: str = "zendesk") -> None:
        self.read, self.name = read, name
        self.cache = AuditCache(size)
        self.position: int | None = None  # start_time of the next stream read (Unix seconds)
        self.asked = -1  # the latest updated_at a stream read was made for
        self.refused = False  # the stream answered 403: the account is not an admin
        self.complete = -1  # every event up to this second has been read from the stream
        self.server_time: int | None = None  # the helpdesk's clock at its last answer (its Date)

    def saw(self, date: str | None) -> None:
        """An answer's Date header: the helpdesk's clock when it answered."""
        try:
            self.server_time = int(parsedate_to_datetime(date).timestamp()) if date else None
        except (TypeError, ValueError, IndexError):
            self.server_time = None

    def audits(self, tid: str, updated_at: datetime) -> list[dict[str, Any]] | None:
        """The ticket's kept audits when they hold its last update (reading the stream
        forward first if they do not), else None: read them."""
        kept = self.cache.get(tid)
        if kept is None:
            return None
        version = int(updated_at.timestamp())
        if not self._holds(kept, version):
            self._catch_up(version)
            kept = self.cache.get(tid)
            if kept is None or not self._holds(kept, version):
                return None
        return kept.audits()

    def _holds(self, kept: _Kept, version: int) -> bool:
        """The kept audits are all of the ticket's up to `version`: the audit of that update
        is there, and that second is over for them (in the read that gave them or in the
        stream: a ticket may have two audits in one second, zendesk-recordings ticket 1)."""
        return kept.newest >= version and version <= max(kept.read_at, self.complete)

    def remember(self, tid: str, updated_at: datetime, audits: Sequence[Mapping[str, Any]], *,
                 asked_after: int | None) -> Sequence[Mapping[str, Any]]:
        """A ticket's audits as just read (returned): kept, and the stream starts (once) at
        this read's time less MARGIN. `asked_after`: the helpdesk's clock at the answer
        before the read (`server_time` then), None when none came."""
        if self.cache.size <= 0:
            return audits
        slimmed = [slim(a) for a in audits if isinstance(a, Mapping)]
        newest = max((s for a in slimmed if (s := _seconds(a.get("created_at"))) is not None), default=None)
        version = int(updated_at.timestamp())
        # The read holds every audit made before the answer that came ahead of it (a
        # later answer's Date may be seconds after the read's own moment: the helpdesk
        # dates an answer when it sends it, and audits of that moment's second may come
        # after the read). Without one: the ticket's own times, which the read came after
        # (an old ticket's are long before it: the stream reads more).
        read_at = asked_after - 1 if asked_after is not None else min(version, newest or version) - 1
        self.cache.put(tid, slimmed, read_at)
        if self.position is None and tid in self.cache:
            self.position = read_at - MARGIN
        return audits

    def _catch_up(self, version: int) -> None:
        """Read the stream forward from its position to its end (MAX_PAGES at most)."""
        if self.refused or self.position is None or version <= self.asked - WITHHELD:
            return
        self.asked = max(self.asked, version)
        start = self.position
        for _ in range(MAX_PAGES):
            asked_after = self.server_time  # the helpdesk's clock is past this when it reads the page
            try:
                body = self.read(EVENTS, {"start_time": start, "include": "comment_events"})
            except RetriableError as exc:  # retried already: this cycle reads the audits
                log.info("%s: the ticket events stream failed (%s); follow-ups read their audits", self.name, exc)
                return
            except (AuthError, TicketError) as exc:
                if isinstance(exc, AuthError) and exc.status != 403:
                    raise  # the credentials: every read fails alike
                self._refuse(exc)
                return
            following = self._take(body, start, asked_after)
            if following is None:
                return
            start = self.position = following
        self._start_over()

    def _take(self, body: Mapping[str, Any], start: int, asked_after: int | None) -> int | None:
        """One page of the stream: its events added; where the next page starts (None: the end).
        `asked_after`: the helpdesk's clock at the answer before this page was asked for."""
        events = [e for e in body.get("ticket_events") or [] if isinstance(e, Mapping)]
        self._add(events)
        end = body.get("end_time")
        end = end if isinstance(end, int) and not isinstance(end, bool) else start
        # Every second before the page's last is read; at the stream's end, every one up
        # to the minute the export withholds, counted from a moment the helpdesk had
        # reached before it read the page: the Date of the answer before. Not this answer's
        # Date: the helpdesk dates an answer when it sends it, and the seconds between
        # reading the page and sending it (several at the sandbox's 600x) were not read.
        self.complete = max(self.complete, end - 1)
        if body.get("end_of_stream") or not events:
            if asked_after is not None:
                self.complete = max(self.complete, asked_after - WITHHELD - 1)
            self.position = max(start, end)
            return None
        if end <= start:
            # A full page inside one second: the rest of that second cannot be read (a
            # time-based page starts at a second). Tickets read by then may miss some of
            # it; the ones read later have it all.
            self.cache.drop_read_by(start)
            return start + 1
        return end

    def _add(self, events: Sequence[Mapping[str, Any]]) -> None:
        by_ticket: dict[str, list[dict[str, Any]]] = {}
        for e in events:
            tid = e.get("ticket_id")
            if is_id(tid) and str(tid) in self.cache:
                by_ticket.setdefault(str(tid), []).append(audit_of_event(e))
        for tid, audits in by_ticket.items():
            self.cache.add(tid, audits)

    def _refuse(self, exc: Exception) -> None:
        self.refused = True
        log.warning("%s: the incremental ticket events export is refused (%s; a 403: the account is not an"
                    " admin); a customer's follow-up is read from the ticket's audits, one read per ticket",
                    self.name, exc)

    def _start_over(self) -> None:
        """Too far behind to catch up: nothing kept is known to be current any more; the
        next audits read starts the stream again."""
        log.info("%s: the ticket events stream is more than %d pages behind; the kept audits start over",
                 self.name, MAX_PAGES)
        self.cache.clear()
        self.position = None
