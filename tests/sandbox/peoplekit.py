"""An agent and a customer with their own credentials on a small sandbox, and one call as
either: the sandbox suites that check what each may write (customer writes, the Team field)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import requests

from tierlift.sandbox import Sandbox

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
PEOPLE = [
    {"name": "Ana L1", "email": "ana@floor.example", "role": "agent", "token": "tok-ana", "team": "support-generalists"},
    {"name": "Carla", "email": "carla@customer.example", "role": "end-user", "token": "tok-carla"},
]
JAGENT = ("ana@floor.example", "tok-ana")
JCUSTOMER = ("carla@customer.example", "tok-carla")
ZAGENT = ("ana@floor.example/token", "tok-ana")
ZCUSTOMER = ("carla@customer.example/token", "tok-carla")
TEAM = "customfield_10056"  # the Jira sandbox's Team field


@contextmanager
def with_people(flavor: str) -> Iterator[Sandbox]:
    with Sandbox(flavor, tickets=5, seed=5, now=NOW) as sb:
        assert requests.post(sb.url + "/_sandbox/users", json={"users": PEOPLE}, timeout=10).status_code == 200
        yield sb


def call(sb: Sandbox, method: str, path: str, auth: tuple[str, str], body: object = None) -> requests.Response:
    return requests.request(method, sb.url + path, json=body, auth=auth, timeout=10)
