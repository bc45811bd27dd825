"""The sandbox's people: who may call, with which credentials, in which role and team.

Invariants:
- tierlift's own account (bot@example.com, Zendesk user 1, Jira acc-tierlift-bot)
  accepts any token the sandbox does not reject, as before users existed, so the
  credentials every daemon config and test already uses keep working; a request
  naming an email the sandbox does not know is also served as that account.
- every other person has one token; a known email with a wrong token is a 401.
- the author of every write is the person whose credentials made the request
  (resolve() gives it to the flavour's handlers).
- `team` is the policy team an agent works in (a Zendesk group name, or the
  Jira team field value / queue account); the oracle reads it from here.
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass, field

ROLES = ("admin", "agent", "end-user")
BOT_EMAIL = "bot@example.com"
AUTOMATION_ID = -1  # Zendesk's author of rule (trigger / automation) changes


def account_id(name: str) -> str:
    """A Jira accountId for a name, the same the sandbox's team accounts use."""
    return "acc-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass
class Person:
    uid: int
    name: str
    email: str
    role: str
    token: str | None = None  # None: any accepted token (tierlift's own account only)
    team: str | None = None
    account: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        self.account = self.account or account_id(self.email.split("@")[0] + f"-{self.uid}")

    @property
    def is_agent(self) -> bool:
        return self.role in ("admin", "agent")


class People:
    """Users by id, email and Jira accountId; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_id: dict[int, Person] = {}
        self.by_email: dict[str, Person] = {}
        self.by_account: dict[str, Person] = {}
        self.bot = self.add(Person(1, "tierlift bot", BOT_EMAIL, "admin", account="acc-tierlift-bot"))

    def add(self, person: Person) -> Person:
        with self.lock:
            known = self.by_email.get(person.email.lower())
            if known is not None and known.uid != person.uid:
                raise ValueError(f"email {person.email} is taken")
            self.by_id[person.uid] = person
            self.by_email[person.email.lower()] = person
            self.by_account[person.account] = person
            return person

    def next_id(self) -> int:
        with self.lock:
            return max([u for u in self.by_id if u < 100000] + [1000]) + 1

    def get(self, uid: object) -> Person | None:
        return self.by_id.get(uid) if isinstance(uid, int) else None

    def resolve(self, authorization: str, rejected: set[str]) -> Person | None:
        """The caller of a request (None: not authenticated).

        Zendesk sends Basic `email/token:TOKEN`, Jira Basic `email:TOKEN`; a
        Bearer token is tierlift's own account (OAuth)."""
        if authorization.startswith("Bearer "):
            return None if authorization[7:] in rejected else self.bot
        if not authorization.startswith("Basic "):
            return None
        try:
            user, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        except Exception:
            return None
        if secret in rejected:
            return None
        email = user[:-6] if user.endswith("/token") else user
        person = self.by_email.get(email.lower())
        if person is None or person.token is None:
            return self.bot
        return person if secret == person.token else None
