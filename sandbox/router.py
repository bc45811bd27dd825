"""Route tables for the sandbox's flavours: (method, path pattern, handler), first match wins.

The style of a small web framework's router, so that each endpoint is its own
short handler and the table reads like the API's index.

Invariants:
- a pattern must match the whole path; its named groups reach the handler as
  strings in `Call.params` (a handler converts them itself);
- method "*" takes any method (some endpoints dispatch on the method themselves);
- no match is None: each flavour answers its own 404, in its own error shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from tierlift.sandbox.users import Person

# (status, JSON body, headers). The body is a dict, or a list for a few Jira endpoints.
Response = tuple[int, Any, dict[str, str]]
T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it; `caller` authors the writes it makes."""

    method: str
    path: str
    query: dict[str, str]
    payload: Any
    caller: Person
    params: dict[str, str] = field(default_factory=dict)

    def number(self, name: str) -> int:
        """A path parameter the pattern matched as digits."""
        return int(self.params[name])


Handler = Callable[[T, Call], Response]


class Router(Generic[T]):
    """Routes to handlers that take their owner (the flavour's data) and the call."""

    def __init__(self, *routes: tuple[str, str, Handler[T]]) -> None:
        self._routes = [(method, re.compile(pattern), handler) for method, pattern, handler in routes]

    def dispatch(self, owner: T, call: Call) -> Response | None:
        for method, pattern, handler in self._routes:
            if method not in ("*", call.method):
                continue
            match = pattern.fullmatch(call.path)
            if match is not None:
                return handler(owner, replace(call, params=match.groupdict()))
        return None
