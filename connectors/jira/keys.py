"""Issues whose key changed: moved to another project, or out and back (SUP-2 -> OPS-7 -> SUP-30).

Jira keeps the issue's id and answers a read or a write by an old key with the moved issue
(it redirects old keys), so tierlift, which keys tickets by key, must not act on the old one:
its snapshot would be escalated beside the issue under its new key, twice in all (QA, 2026-12),
or written to after it left the helpdesk's scope. The old key is gone from tierlift's view, as a
deleted issue is (TicketGone, naming both keys); the new key is read as the search finds it.

Learnt two ways: a changelog item of field 'Key' (fromString the old key, toString the new, as
Jira records a move) in an issue the search or a fetch returns, and a read by key that answers
with another key. The connector keeps the newest MAX_RENAMED in its cursor, so a restarted
process still knows them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tierlift.connectors.errors import TicketGone

MAX_RENAMED = 1000  # the old keys a cursor remembers (the newest moves)


def _nested(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class Renamed:
    """Old key -> the key the issue moved to."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    def load(self, pairs: Iterable[Any]) -> None:
        """What a cursor kept ([old, new] pairs)."""
        for pair in pairs or ():
            if isinstance(pair, list | tuple) and len(pair) == 2:
                self.add(str(pair[0]), str(pair[1]))

    def add(self, old: str, new: str) -> None:
        if old and new and old != new:
            self.keys.pop(old[:40], None)  # the newest last: a cursor keeps the newest
            self.keys[old[:40]] = new[:40]

    def learn(self, raw: Any) -> None:
        """The key changes an issue's changelog records."""
        log = raw.get("changelog") if isinstance(raw, Mapping) else None
        for h in _nested(log).get("histories") or ():
            for item in _nested(h).get("items") or ():
                if isinstance(item, Mapping) and str(item.get("field")).lower() == "key":
                    old, new = item.get("fromString"), item.get("toString")
                    if isinstance(old, str) and isinstance(new, str):
                        self.add(old, new)

    def now(self, key: str) -> str:
        """The key an issue once keyed `key` has now, as far as is known (a chain of moves)."""
        for _ in range(len(self.keys)):
            if key not in self.keys:
                break
            key = self.keys[key]
        return key

    def kept(self) -> list[list[str]]:
        """What the cursor keeps: the newest MAX_RENAMED pairs."""
        return [[old, new] for old, new in list(self.keys.items())[-MAX_RENAMED:]]


def moved(key: str, now: str, project: Any, *, watched: str | None, jql: str | None,
          in_scope: Callable[[str], bool]) -> TicketGone:
    """The TicketGone of issue `key`, now `now` (in `project` when the answer said so): followed
    under its new key when the helpdesk's scope holds it (the configured project, else one read
    of the new key within the JQL scope), else no longer watched."""
    if watched and not jql:
        there = str(project) if isinstance(project, str) and project else now.rpartition("-")[0]
        if there.upper() != watched.upper():
            return TicketGone(f"issue {key} moved out of project {watched} to {now}; no longer watched", ticket_id=key)
    elif not in_scope(now):
        return TicketGone(f"issue {key} is now {now}, outside the helpdesk's scope; no longer watched", ticket_id=key)
    return TicketGone(f"issue {key} is now {now}; followed under its new key", ticket_id=key)
