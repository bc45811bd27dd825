"""Records built on first use, so a large sandbox costs one compact row per ticket.

A seeded ticket is kept as its generator row (a few hundred bytes) until
something needs its API objects for keeps: a write through the API, or a
test reading the store. Then the owner builds every record of that ticket
at once (ticket, comments, audits, metric set, requester ...), they land in
the `live` dicts and stay there, so later writes and direct edits go to
ordinary dicts. Serving a page does not build for keeps: the owner renders
rows that are still pending and forgets the result (see zendesk.py).

Measured before this existed: 100,000 seeded Zendesk tickets took 9 s and
~1 GB to load; with pending rows, ~1.5 s and ~150 MB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any


class Lazy(MutableMapping[Any, Any]):
    """One kind of record (tickets, comments ...) of an owner with pending seed rows.

    `pending` is shared by all the owner's Lazy maps (seed id -> row); `build(seed)`
    moves that seed's records into the `live` dict of every map. `seed_of(key)`
    names the seed a key is built from (None: not a seeded key), `key_of(seed)`
    the reverse. Every pending seed yields exactly one record per map.
    """

    def __init__(self, pending: dict[Any, Any], build: Callable[[Any], None],
                 seed_of: Callable[[Any], Any] = lambda k: k, key_of: Callable[[Any], Any] = lambda s: s):
        self.live: dict[Any, Any] = {}
        self._pending = pending
        self._build = build
        self._seed_of = seed_of
        self._key_of = key_of

    def _ensure(self, key: Any) -> None:
        if key not in self.live:
            seed = self._seed_of(key)
            if seed is not None and seed in self._pending:
                self._build(seed)

    def __getitem__(self, key: Any) -> Any:
        try:
            return self.live[key]
        except KeyError:
            self._ensure(key)
            return self.live[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._ensure(key)
        self.live[key] = value

    def __delitem__(self, key: Any) -> None:
        self._ensure(key)
        del self.live[key]

    def __contains__(self, key: object) -> bool:
        if key in self.live:
            return True
        seed = self._seed_of(key)
        return seed is not None and seed in self._pending

    def __iter__(self) -> Iterator[Any]:
        # A snapshot in seed order (the order the generator made them): reading
        # values builds records, which must not disturb the iteration.
        keys = list(self.live) + [self._key_of(s) for s in self._pending]
        return iter(sorted(keys, key=lambda k: (self._seed_of(k) is None, self._seed_of(k) or 0)))

    def __len__(self) -> int:
        return len(self.live) + len(self._pending)

    def peek(self, key: Any) -> Any:
        """The live record, or None when the key is pending or unknown (builds nothing)."""
        return self.live.get(key)
