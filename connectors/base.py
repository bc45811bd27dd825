"""What the service needs from a helpdesk, and nothing more.

A connector turns one helpdesk's API into engine tickets and applies engine
actions back, with one retry layer of its own and the error taxonomy of
`errors.py`. It never decides anything (that is the engine's job) and never
knows about dry-run (the service simply does not call `apply`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from tierlift.engine.model import Action, Ticket


class Secret:
    """A credential whose value never shows in a repr, a log line or an exception."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str = "inline"):
        self._value = value
        self.source = source  # e.g. "env:ZENDESK_TOKEN" or "file:/run/credentials/x"

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(<redacted from {self.source}>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class TeamTarget:
    """Where a policy team lands in the helpdesk: a group, a user, or both."""

    group: str | None = None  # group id (Zendesk) or team field value (Jira)
    group_name: str | None = None  # looked up to an id at start-up when no id is given
    assignee: str | None = None  # user id (Zendesk) or accountId (Jira)


class Fetched(dict[str, Ticket]):
    """Tickets read again by id; `poison`: those still there that cannot be read, with the
    reason (a deleted ticket is in neither). A poison ticket was taken for a deleted one: its
    quarantine was released on the retry and the ticket forgotten, never escalated (QA)."""

    def __init__(self) -> None:
        super().__init__()
        self.poison: list[tuple[str, str]] = []


@dataclass
class Page:
    """One page of changes. The cursor is where to resume after this page."""

    tickets: list[Ticket]
    cursor: str
    # Items that could not be mapped to a Ticket: (ticket id or "?", reason).
    poison: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ApplyResult:
    writes: int  # write requests actually sent
    new_version: str | None = None
    # The write met a conflict and its escalation was found already on the ticket: another
    # writer's (a second daemon on the helpdesk) or our own timed-out attempt landing late.
    # The caller's copy of the ticket is stale: read it again before deciding anything more.
    raced: bool = False


class RequestObserver(Protocol):
    """Counts what a connector does on the wire (metrics live in the service)."""

    def request(self, method: str, status: str) -> None: ...

    def rate_limit_wait(self, seconds: float) -> None: ...


class NullObserver:
    def request(self, method: str, status: str) -> None:
        pass

    def rate_limit_wait(self, seconds: float) -> None:
        pass


class Connector(Protocol):
    name: str
    # What check_teams could not prove, though it found no problem (a free-text Jira team
    # field takes any value): `check` says it and does not fail on it.
    team_caveats: list[str]

    @property
    def site_notes(self) -> list[str]:
        """What `check` tells about how the site is read (Jira: the account's time zone, in which
        the site reads JQL dates), after open(); a note starting "problem:" fails the check."""

    def open(self) -> None:
        """Authenticate and resolve team names (one look-up at start). Raises AuthError."""

    def changes(self, cursor: str | None) -> Iterator[Page]:
        """Tickets changed since `cursor` (None: from the configured start), page by page."""

    def fetch(self, ids: Sequence[str]) -> Fetched:
        """Re-read tickets in batches; a deleted ticket is absent from the result, and one that
        cannot be read is in its `poison`."""

    def with_comments(self, ticket: Ticket) -> Ticket:
        """The same ticket with `comments` loaded (one read where the API needs it)."""

    def find_marker(self, ticket_id: str, escalation_id: str) -> bool:
        """Whether the note of this escalation already landed on the ticket."""

    def find_reply(self, ticket_id: str, body: str) -> bool:
        """Whether a public comment with this text is already on the ticket.

        A customer reply carries no machine marker (the customer reads it), so
        its text is the check: it names the ticket and a concrete time.
        """

    def apply(self, ticket: Ticket, actions: Sequence[Action], escalation_id: str) -> ApplyResult:
        """Write the actions in as few requests as the API allows, conflict-safe.

        Raises ConflictError when the ticket changed since it was read.
        """

    def check_teams(self, teams: Sequence[str]) -> list[str]:
        """Problems with mapping these policy teams (empty when all map)."""

    def check_fields(self) -> list[str]:
        """Problems with the `fields:` entries: names the helpdesk does not have (after open())."""

    def close(self) -> None: ...


MAX_TEXT_BYTES = 1_000_000
# Control characters other than newline, carriage return and tab (NUL is checked on its own).
# A regex scan, not a per-character generator: this runs on every ticket's subject and
# description, and the generator was 10% of a first sync (tests/bench).
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f]")


def checked_text(value: object, ticket_id: str, name: str) -> str:
    """A ticket's text, or TicketError when it is not text a person wrote.

    Over 1 MB, or with NUL bytes / a high share of control characters, the
    ticket is quarantined rather than run through text conditions and
    copied into notes: that is an attachment or a bug upstream, not a message.
    """
    from tierlift.connectors.errors import TicketError

    if value is None:
        return ""
    if not isinstance(value, str):
        raise TicketError(f"ticket {ticket_id}: {name} is not text ({type(value).__name__})", ticket_id=ticket_id)
    if len(value) > MAX_TEXT_BYTES:
        raise TicketError(f"ticket {ticket_id}: {name} is {len(value):,} characters, over the {MAX_TEXT_BYTES:,} limit",
                          ticket_id=ticket_id)
    head = value[:4096]
    if "\x00" in value or len(_CONTROL.findall(head)) > len(head) // 20:
        raise TicketError(f"ticket {ticket_id}: {name} looks like binary data", ticket_id=ticket_id)
    return value


def same_text(a: str, b: str) -> bool:
    """Comment bodies compared as a helpdesk may store them (whitespace trimmed, CRLF folded)."""
    return " ".join(a.split()) == " ".join(b.split())


# --- bad pages and odd ids ----------------------------------------------------------
# A ticket nests objects a few levels (a custom field's value, an ADF document of
# lists in lists: a few dozen at most). json's C decoder recurses per level and
# raises RecursionError near 1,000, for the WHOLE page: one ticket nested 5,000
# levels deep stopped its helpdesk (the page was re-read forever; issue 14 item 6).
MAX_DEPTH = 100
TOO_DEEP = "\x00tierlift: nested deeper than 100 levels"
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


# Where a connector maps a page it read to tickets (pure computing, no I/O), it enters this.
# Alone it is nothing; the daemon puts its process-wide gate here (service/daemon/gate.py), so
# many helpdesks' threads mapping at once wait off the interpreter, not on it.
_computing: AbstractContextManager[Any] = nullcontext()


def computing() -> AbstractContextManager[Any]:
    return _computing


def set_computing(gate: AbstractContextManager[Any]) -> None:
    global _computing
    _computing = gate


class Trimmed(dict[str, Any]):
    """A decoded page in which values nested past MAX_DEPTH were replaced by TOO_DEEP."""


def decode_page(text: str) -> Any:
    """JSON as json.loads gives it; a page too deep for the decoder is decoded with
    every value past MAX_DEPTH cut out (the tickets holding one are then quarantined,
    see `too_deep`). Only the failing page pays for the slower scan."""
    try:
        return json.loads(text)
    except RecursionError:
        pass
    out: list[str] = []
    depth, copied, cut_at = 0, 0, -1
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            if depth == MAX_DEPTH + 1:
                cut_at = m.start()
        elif tok in "]}":
            if depth == MAX_DEPTH + 1 and cut_at >= 0:
                out += [text[copied:cut_at], json.dumps(TOO_DEEP)]
                copied, cut_at = m.end(), -1
            depth -= 1
    out.append(text[copied:])
    data = json.loads("".join(out))
    return Trimmed(data) if isinstance(data, dict) else data


def too_deep(value: Any) -> bool:
    """Whether a decoded item holds a value that `decode_page` cut (iterative: the
    item may still be 100 levels deep)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif v == TOO_DEEP:
            return True
    return False


MAX_ID = 2**63 - 1  # both helpdesks store ids as signed 64-bit integers


def is_id(value: Any) -> bool:
    """A helpdesk id as JSON carries it: a positive integer, never a boolean (True == 1
    in Python: a ticket with `"id": true` once collided with ticket 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def id_problem(value: Any) -> str | None:
    """Why `value` is not a ticket id, in words for the quarantine line (None: it is one)."""
    if isinstance(value, bool):
        return f"id is not a number (a boolean: {str(value).lower()})"
    if not isinstance(value, int):
        return "id is not a number"
    if value < 1:
        return f"id {value} is not positive"
    if value > MAX_ID:
        return f"id {str(value)[:40]} is larger than any helpdesk id (2^63 - 1)"
    return None


# --- where a note or condition field is read (helpdesk option `fields`) ----------------
CUSTOMER_FIELDS = ("plan", "arr", "health_score", "primary_contact")  # the Organization's own attributes
SOURCES = ("ticket", "organization", "user")


def _an_id(value: Any, text: str) -> bool:
    """A ticket field's id as configured: a number, or Jira's customfield_NNNNN."""
    return isinstance(value, int) or text.isdigit() or text.startswith("customfield_")


@dataclass(frozen=True)
class FieldSource:
    """One entry of `fields:`: `plan: organization.subscription` reads the organization
    field whose key, title or id is "subscription"; `refund_amount: 360000000101` (or
    `ticket.Refund amount`) a ticket field by id or title; `vip: user.vip_level` the
    requester's user field. Names are resolved to ids at open(); `check` lists the
    ones the helpdesk does not have."""

    kind: str  # one of SOURCES
    key: str  # an id, a key or a title, as written

    @classmethod
    def parse(cls, value: Any) -> FieldSource:
        if isinstance(value, bool) or value is None:
            raise ValueError("expected a field id or SOURCE.NAME (ticket, organization or user)")
        text = str(value).strip()
        kind, dot, key = text.partition(".")
        if dot and kind in SOURCES and key.strip():
            return cls(kind, key.strip())
        if text and (_an_id(value, text) or not dot):
            return cls("ticket", text)
        raise ValueError(f"expected a field id or SOURCE.NAME with SOURCE one of {', '.join(SOURCES)}, got {text[:60]!r}")



@contextmanager
def opening(base: str, kind: str) -> Iterator[None]:
    """Opening a connector (the account, the fields): a 404 there is no such API at the
    entry's address, not a ticket gone (QA: 'TicketGone: /api/v2/users/me.json: not found')."""
    from tierlift.connectors.errors import NotTheHelpdesk, TicketError

    try:
        yield
    except TicketError as gone:  # Zendesk's TicketGone, Jira's 404 naming no issue
        if gone.status != 404:
            raise
        raise NotTheHelpdesk(f"{base} answered 404 Not Found ({gone}): no {kind} API at this address;"
                             f" check the entry's url (and kind: {kind.lower()})") from None
