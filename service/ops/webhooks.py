"""Receiving helpdesk webhooks: `POST /webhooks/<helpdesk>`, verified, then a ticket named.

What is verified (api-facts.md, "Webhooks"):
- Zendesk: `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret, timestamp + raw
  body)) with `X-Zendesk-Webhook-Signature-Timestamp`; a timestamp more than MAX_AGE
  from the helpdesk's clock is refused (a replay of an old request);
- Jira admin webhooks: `X-Hub-Signature: sha256=<hex>` = HMAC-SHA256(secret, raw body).

Invariants:
- nothing here reads from or writes to a helpdesk: a verified event only names a
  ticket, handed to `nudge`, and the answer goes at once (the helpdesk's worker
  re-reads the ticket; the payload's fields are never trusted beyond its id); with
  replicas, `nudge` returns a future and 202 waits until the event is durable (a row
  in the state database, service/daemon/relay.py), 503 with Retry-After if it cannot be;
- signatures are compared in constant time (hmac.compare_digest), and the check
  comes before the body is parsed: a forged body is a 401, not a 400;
- a delivery seen before (the same delivery id: Jira's `X-Atlassian-Webhook-Identifier`,
  Zendesk's invocation id; without an id, the same signature) is acknowledged and not
  acted on again; one signature under two ids is two deliveries (`_first`);
- refusals are counted per helpdesk and cause (413, 400, 404, 401) and logged at
  most once a minute per cause; the secret is never in a log line or an answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tierlift.connectors.base import Secret
from tierlift.service.ops.httpserver import UNAVAILABLE, Answer, Request
from tierlift.service.ops.logs import event

log = logging.getLogger("tierlift.webhooks")

PREFIX = "/webhooks/"
MAX_BODY = 256 * 1024  # a ticket event is a few KB; Jira's issue payloads reach ~100 KB
MAX_AGE = timedelta(minutes=5)
LOG_EVERY = 60.0  # seconds between two log lines for one refusal cause
REMEMBERED = 20_000  # deliveries kept for de-duplication (a storm of 10,000 a minute fits twice)
ZENDESK_SIGNATURE = "x-zendesk-webhook-signature"
ZENDESK_TIMESTAMP = "x-zendesk-webhook-signature-timestamp"
ZENDESK_INVOCATION = "x-zendesk-webhook-invocation-id"
JIRA_SIGNATURE = "x-hub-signature"
JIRA_DELIVERY = "x-atlassian-webhook-identifier"
JIRA_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,49}-[1-9][0-9]{0,17}")
ZENDESK_ID = re.compile(r"[1-9][0-9]{0,17}")


@dataclass(frozen=True)
class Endpoint:
    """One helpdesk that takes webhooks: its kind and the secret its deliveries are signed with."""

    helpdesk: str
    kind: str  # "zendesk" | "jira"
    secret: Secret


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)), as Zendesk signs a webhook request."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def jira_signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, body), as Jira signs an admin webhook (WebSub)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_timestamp(text: str) -> datetime | None:
    """Zendesk's signature timestamp (ISO 8601, such as 2026-12-03T15:00:00Z; epoch seconds accepted)."""
    text = text.strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass
class Tally:
    """What one helpdesk's webhooks did: `tierlift status` and /metrics show it."""

    accepted: int = 0
    duplicates: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    last_event_at: datetime | None = None
    last_ticket: str | None = None


class Refused(Exception):
    def __init__(self, status: int, cause: str):
        super().__init__(cause)
        self.status, self.cause = status, cause


def delivery_key(signature: str, ident: str | None) -> str:
    """A delivery's key among replicas (relay.py deduplicates on it): the helpdesk's delivery id,
    else a digest of the signature (never the signature itself: it is stored)."""
    return f"id:{ident[:200]}" if ident else "sig:" + hashlib.sha256(signature.encode()).hexdigest()[:40]


ACCEPTED = b'{"status": "accepted"}'


class Receiver:
    """Answers `POST /webhooks/<helpdesk>`; `nudge(helpdesk, ticket_id, delivery_key)` gets each
    verified event (and may return a future: True once the event is durable, False if it cannot be)."""

    def __init__(self, endpoints: Mapping[str, Endpoint], nudge: Callable[[str, str, str], Future[bool] | None], *,
                 now: Callable[[], datetime], metrics: Any = None, monotonic: Callable[[], float] = time.monotonic):
        self.endpoints = dict(endpoints)
        self.nudge, self.now, self.metrics, self.monotonic = nudge, now, metrics, monotonic
        self.lock = threading.Lock()
        self.tallies: dict[str, Tally] = {name: Tally() for name in self.endpoints}
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._logged: dict[tuple[str, str], float] = {}

    def serve(self, endpoints: Mapping[str, Endpoint]) -> dict[str, list[str]]:
        """The helpdesks a reload leaves (QA, an integrator: a rotated secret was not applied, the
        revoked one still accepted; a removed helpdesk's endpoint answered 202 and nothing acted on
        it; an added one answered 404 until a restart). What changed, by name: added, removed and
        a secret changed (never the secret)."""
        with self.lock:
            before = self.endpoints
            self.endpoints = dict(endpoints)
            self.tallies = {name: self.tallies.get(name) or Tally() for name in self.endpoints}
        return {"added": sorted(endpoints.keys() - before.keys()), "removed": sorted(before.keys() - endpoints.keys()),
                "secret changed": sorted(n for n in endpoints.keys() & before.keys()
                                         if endpoints[n].secret.reveal() != before[n].secret.reveal()
                                         or endpoints[n].kind != before[n].kind)}

    @staticmethod
    def body_cap(method: str, path: str) -> int:
        return MAX_BODY if path.startswith(PREFIX) else 0

    def handles(self, path: str) -> bool:
        return path.startswith(PREFIX)

    def answer(self, req: Request) -> Answer:
        name = req.path[len(PREFIX):].strip("/")
        try:
            verified = self._verified(name, req)
        except Refused as exc:
            known = name in self.endpoints
            self._refuse(name if known else "-", exc, called=None if known else name[:100])
            allow = {"Allow": "POST"} if exc.status == 405 else {}
            return Answer(exc.status, body=json.dumps({"error": exc.cause}).encode(), headers=allow)
        if verified is None:
            return Answer(200, body=b'{"status": "duplicate"}')
        ticket, delivery = verified
        durable = self.nudge(name, ticket, delivery_key(*delivery))
        if durable is None:
            return Answer(202, body=ACCEPTED)
        later: Future[Answer] = Future()

        def settle(f: Future[bool]) -> None:
            ok = not f.cancelled() and f.exception() is None and f.result()
            if not ok:
                self._forget(name, delivery)  # refused: the helpdesk's retry of it must not read as a duplicate
            later.set_result(Answer(202, body=ACCEPTED) if ok else UNAVAILABLE)

        durable.add_done_callback(settle)
        return Answer(202, body=ACCEPTED, later=later)

    def summary(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {name: {"accepted": t.accepted, "duplicates": t.duplicates, "refused": dict(t.refused),
                           "last_event_at": t.last_event_at.isoformat() if t.last_event_at else None,
                           "last_ticket": t.last_ticket} for name, t in self.tallies.items()}

    # --- verification ------------------------------------------------------------------------
    def _verified(self, name: str, req: Request) -> tuple[str, tuple[str, str | None]] | None:
        """(ticket, (signature, delivery id)) of a genuine, new delivery; None: a delivery already taken.
        Raises Refused."""
        endpoint = self.endpoints.get(name)
        if req.method != "POST":
            raise Refused(405, "method")
        if endpoint is None:
            raise Refused(404, "unknown_helpdesk")
        if req.too_large:
            raise Refused(413, "too_large")
        if req.bad_length:
            raise Refused(400, "malformed")
        secret = endpoint.secret.reveal()
        if endpoint.kind == "zendesk":
            delivery = self._zendesk(secret, req)
        else:
            delivery = self._jira(secret, req)
        ticket = _ticket_of(endpoint.kind, req.body)
        if not self._first(name, delivery):
            with self.lock:
                self.tallies[name].duplicates += 1
            self._count(name, "duplicate")
            return None
        with self.lock:
            tally = self.tallies[name]
            tally.accepted += 1
            tally.last_event_at, tally.last_ticket = self.now(), ticket
        self._count(name, "accepted")
        if self.metrics is not None:
            self.metrics.webhook_last.labels(name).set(tally.last_event_at.timestamp())
        return ticket, delivery

    def _zendesk(self, secret: str, req: Request) -> tuple[str, str | None]:
        signature, stamp = req.headers.get(ZENDESK_SIGNATURE), req.headers.get(ZENDESK_TIMESTAMP)
        if not signature or not stamp:
            raise Refused(401, "unsigned")
        expected = zendesk_signature(secret, stamp, req.body)
        if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
            raise Refused(401, "bad_signature")
        at = parse_timestamp(stamp)
        if at is None or abs(self.now() - at) > MAX_AGE:
            raise Refused(401, "stale")
        return signature.strip(), req.headers.get(ZENDESK_INVOCATION)

    def _jira(self, secret: str, req: Request) -> tuple[str, str | None]:
        signature = req.headers.get(JIRA_SIGNATURE)
        if not signature:
            raise Refused(401, "unsigned")
        if not hmac.compare_digest(jira_signature(secret, req.body).encode(), signature.strip().encode()):
            raise Refused(401, "bad_signature")
        return signature.strip(), req.headers.get(JIRA_DELIVERY)

    @staticmethod
    def _keys(name: str, delivery: tuple[str, str | None]) -> list[tuple[str, str]]:
        signature, ident = delivery
        return [(name, "sig:" + signature)] + ([(name, "id:" + ident)] if ident else [])

    def _forget(self, name: str, delivery: tuple[str, str | None]) -> None:
        with self.lock:
            for k in self._keys(name, delivery):
                self._seen.pop(k, None)

    def _first(self, name: str, delivery: tuple[str, str | None]) -> bool:
        """Whether the delivery is new: by its id when it has one (a retry keeps it), else by its
        signature. A seen signature under a new id is a new delivery: Zendesk signs a 1-second
        timestamp and the trigger's body `{"ticket_id": N}`, so two changes of one ticket in one
        second carry one signature (a P0 tagged in the second of its creation waited for the poll).
        A replay given a new, unsigned id is taken again: one more read of a ticket named before."""
        keys = self._keys(name, delivery)
        asked = keys[1:] if delivery[1] else keys  # _keys: the signature's key first, then the id's
        with self.lock:
            if any(k in self._seen for k in asked):
                return False
            for k in keys:
                self._seen[k] = None
            while len(self._seen) > 2 * REMEMBERED:  # up to two keys a delivery: REMEMBERED deliveries at least
                self._seen.popitem(last=False)
        return True

    # --- refusals -------------------------------------------------------------------------------
    def _refuse(self, name: str, exc: Refused, called: str | None = None) -> None:
        """`called`: the name in the path when it is no helpdesk (its metrics' label is "-": a
        caller must not make series), so the log line says which URL is wrong."""
        with self.lock:
            if name in self.tallies:
                self.tallies[name].refused[exc.cause] += 1
            now = self.monotonic()
            last = self._logged.get((name, exc.cause))
            quiet = last is not None and now - last < LOG_EVERY
            if not quiet:
                self._logged[(name, exc.cause)] = now
        self._count(name, exc.cause)
        if not quiet:
            fields: dict[str, Any] = {"helpdesk": name} if called is None else {"helpdesk": name, "called": called}
            event(log, logging.WARNING, "webhook refused", f"{exc.status} {exc.cause.replace('_', ' ')}"
                  " (logged at most once a minute per cause; /metrics counts each)", **fields)

    def _count(self, name: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.webhook(name, result)


def _ticket_of(kind: str, body: bytes) -> str:
    """The ticket a delivery names: Zendesk's `ticket_id` (the trigger's body tierlift sets up,
    or an event's `detail.id`), Jira's `issue.key`. Raises Refused(400) otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(400, "malformed") from None
    if not isinstance(data, dict):
        raise Refused(400, "malformed")
    if kind == "zendesk":
        detail: dict[str, Any] = data["detail"] if isinstance(data.get("detail"), dict) else {}
        ticket: dict[str, Any] = data["ticket"] if isinstance(data.get("ticket"), dict) else {}
        value = data.get("ticket_id", ticket.get("id", detail.get("id")))
        pattern = ZENDESK_ID
    else:
        issue: dict[str, Any] = data["issue"] if isinstance(data.get("issue"), dict) else {}
        value, pattern = issue.get("key"), JIRA_KEY
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not pattern.fullmatch(text):
        raise Refused(400, "no_ticket")
    return text

