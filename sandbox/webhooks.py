"""The sandbox's outgoing webhooks: Zendesk webhooks called by triggers, Jira admin webhooks.

Endpoints (each flavour its own):
- Zendesk: `/api/v2/webhooks` (GET list, POST create; `/{id}` GET, PUT, DELETE) -- the
  Webhooks API, which the Support OpenAPI file in ../shared/reference does not carry, in
  the shape of Zendesk's public reference ({"webhook": {id, name, endpoint, http_method,
  request_format, status, subscriptions, signing_secret?}}); the signing secret is
  written, never served back. `/api/v2/triggers` (GET list, POST create 201; `/{id}` GET,
  PUT, DELETE 204) as the OpenAPI file has them: TriggersResponse {triggers, count,
  next_page, previous_page}, TriggerResponse {trigger}, a TriggerObject with title,
  conditions {all, any}, actions [{field, value}], active, position, url.
- Jira: `/rest/webhooks/1.0/webhook` (GET list, POST create 201; `/{id}` GET, PUT,
  DELETE 204): {name, url, events, filters: {"issue-related-events-section": JQL},
  enabled, secret?, self}.

Delivery: a ticket created or changed fires each active trigger whose conditions hold
(`update_type` is `Create` or `Change`; other conditions are taken as met) and whose
`notification_webhook` action names an active webhook: the action's body, placeholders
filled, is POSTed to the endpoint, signed as Zendesk signs (base64 HMAC-SHA256 of
timestamp + body; the timestamp is the helpdesk clock's). A Jira issue created or
updated is POSTed to each enabled webhook listening for the event, with
`X-Hub-Signature: sha256=<hex>` and a delivery id in `X-Atlassian-Webhook-Identifier`.

Faults (POST /_sandbox/webhook_faults {"spec": "drop:0.1,delay:0.2@2s,duplicate:0.5,
reorder:0.3,burst:20", "seed": 0}): drop a delivery, hold it ARG seconds, send it twice
(same delivery id, same signature), hold it back until the next one has gone, send it
as N distinct deliveries (a storm). Every delivery attempt is in `deliveries`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from tierlift.sandbox.router import Response
from tierlift.sandbox.store import SandboxClock, iso

ZENDESK_PREFIX = "/api/v2/"
JIRA_PATH = "/rest/webhooks/1.0/webhook"
DEFAULT_BODY = '{"ticket_id": "{{ticket.id}}"}'


def _zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()).decode()


def _jira_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookFaults:
    def __init__(self, spec: str = "", seed: int = 0):
        self.rates: dict[str, float] = {}
        self.args: dict[str, float] = {}
        self.rng = random.Random(seed)
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kind, _, rest = part.partition(":")
            rate, _, arg = rest.partition("@")
            if kind not in ("drop", "delay", "duplicate", "reorder", "burst"):
                raise ValueError(f"unknown webhook fault {kind!r}")
            self.rates[kind] = float(rate or 1)
            if arg:
                self.args[kind] = float(arg.rstrip("s"))

    def hit(self, kind: str) -> bool:
        rate = self.rates.get(kind, 0.0)
        return rate > 0 and (kind == "burst" or self.rng.random() < rate)


class WebhookHub:
    """Registered webhooks, triggers, and the thread that delivers their events."""

    def __init__(self, flavor: str, clock: SandboxClock, base_url: str = ""):
        self.flavor, self.clock, self.base_url = flavor, clock, base_url
        self.lock = threading.Lock()
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.secrets: dict[int, str] = {}
        self.triggers: dict[int, dict[str, Any]] = {}
        self.ids = itertools.count(360_000_000_001)
        self.deliveries: list[dict[str, Any]] = []
        self.faults = WebhookFaults()
        self._held: list[tuple[str, dict[str, str], bytes]] = []  # reordered: sent after the next one
        self._queue: queue.Queue[tuple[Any, str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------
    def start(self, base_url: str) -> None:
        self.base_url = base_url
        self._thread = threading.Thread(target=self._deliver_loop, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)

    def changed(self, ticket_id: Any, kind: str) -> None:
        """A ticket was created or updated (called under the data's lock: only queue it)."""
        if self.webhooks:
            self._queue.put((ticket_id, kind))

    def set_faults(self, spec: str, seed: int = 0) -> None:
        self.faults = WebhookFaults(spec, seed)

    # --- endpoints ----------------------------------------------------------------------------
    def route(self, method: str, path: str, payload: Any) -> Response | None:
        if self.flavor == "jira":
            if path.rstrip("/") == JIRA_PATH or path.startswith(JIRA_PATH + "/"):
                return self._collection(method, path[len(JIRA_PATH):].strip("/"), payload, "jira")
            return None
        rest = path[len(ZENDESK_PREFIX):] if path.startswith(ZENDESK_PREFIX) else ""
        rest = rest[:-5] if rest.endswith(".json") else rest
        for name in ("webhooks", "triggers"):
            if rest == name or rest.startswith(name + "/"):
                return self._collection(method, rest[len(name):].strip("/"), payload, name)
        return None

    def _collection(self, method: str, ident: str, payload: Any, kind: str) -> Response:
        with self.lock:
            store = self.triggers if kind == "triggers" else self.webhooks
            if not ident:
                if method == "GET":
                    return 200, self._listing(kind, store), {}
                if method == "POST":
                    return self._create(kind, store, payload)
                return 405, {"error": "MethodNotAllowed"}, {}
            if not ident.isdigit() or int(ident) not in store:
                return 404, {"error": "RecordNotFound", "description": "Not found"}, {}
            key = int(ident)
            if method == "GET":
                return 200, self._one(kind, store[key]), {}
            if method == "DELETE":
                del store[key]
                self.secrets.pop(key, None)
                return 204, {}, {}
            if method in ("PUT", "PATCH"):
                return self._update(kind, store, key, payload)
            return 405, {"error": "MethodNotAllowed"}, {}

    def _listing(self, kind: str, store: dict[int, dict[str, Any]]) -> Any:
        items = [self._served(kind, r) for r in store.values()]
        if kind == "jira":
            return items
        if kind == "triggers":
            return {"triggers": items, "count": len(items), "next_page": None, "previous_page": None}
        return {"webhooks": items, "meta": {"has_more": False}, "links": {"next": None, "prev": None}}

    def _one(self, kind: str, record: dict[str, Any]) -> Any:
        served = self._served(kind, record)
        return served if kind == "jira" else {kind[:-1]: served}

    @staticmethod
    def _served(kind: str, record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k not in ("signing_secret", "secret")}

    def _create(self, kind: str, store: dict[int, dict[str, Any]], payload: Any) -> Response:
        body = payload if kind == "jira" else (payload or {}).get(kind[:-1]) if isinstance(payload, dict) else None
        problem = _invalid(kind, body)
        if problem:
            return 400, ({"errorMessages": [problem]} if kind == "jira" else {"error": "RecordInvalid",
                                                                                "description": problem}), {}
        assert isinstance(body, dict)  # _invalid refused anything else
        key = next(self.ids)
        record = self._record(kind, key, body)
        store[key] = record
        return 201, self._one(kind, record), {}

    def _update(self, kind: str, store: dict[int, dict[str, Any]], key: int, payload: Any) -> Response:
        body = payload if kind == "jira" else (payload or {}).get(kind[:-1]) if isinstance(payload, dict) else None
        merged = {**store[key], **(body or {})}
        problem = _invalid(kind, merged)
        if problem:
            return 400, {"error": "RecordInvalid", "description": problem}, {}
        store[key] = self._record(kind, key, merged)
        return 200, self._one(kind, store[key]), {}

    def _record(self, kind: str, key: int, body: dict[str, Any]) -> dict[str, Any]:
        now = iso(self.clock.now())
        if kind == "jira":
            if body.get("secret"):
                self.secrets[key] = str(body["secret"])
            return {**{k: v for k, v in body.items() if k != "secret"}, "enabled": body.get("enabled", True),
                    "self": f"{self.base_url}{JIRA_PATH}/{key}", "lastUpdated": now}
        if kind == "webhooks":
            secret = body.get("signing_secret")
            if isinstance(secret, dict) and secret.get("secret"):
                self.secrets[key] = str(secret["secret"])
            return {**{k: v for k, v in body.items() if k != "signing_secret"}, "id": str(key),
                    "status": body.get("status", "active"), "created_at": body.get("created_at", now),
                    "updated_at": now}
        return {"active": True, "position": len(self.triggers) + 1, "default": False,
                "description": "", **body, "id": key, "raw_title": body.get("title"),
                "created_at": body.get("created_at", now), "updated_at": now,
                "url": f"{self.base_url}/api/v2/triggers/{key}.json"}

    # --- delivery -----------------------------------------------------------------------------
    def _deliver_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            ticket_id, kind = item
            for url, headers, body in self._requests(ticket_id, kind):
                self._send_with_faults(url, headers, body)

    def _requests(self, ticket_id: Any, kind: str) -> list[tuple[str, dict[str, str], bytes]]:
        """The signed requests one ticket event makes (none when nothing listens)."""
        with self.lock:
            if self.flavor == "jira":
                return self._jira_requests(str(ticket_id), kind)
            return self._zendesk_requests(ticket_id, kind)

    def _zendesk_requests(self, ticket_id: Any, kind: str) -> list[tuple[str, dict[str, str], bytes]]:
        out = []
        stamp = iso(self.clock.now())
        for trigger in sorted(self.triggers.values(), key=lambda t: t.get("position") or 0):
            if not trigger.get("active", True) or not _conditions_hold(trigger.get("conditions") or {}, kind):
                continue
            for action in trigger.get("actions") or []:
                called = self._called(action)
                if called is None:
                    continue
                hook_id, hook, text = called
                body = text.replace("{{ticket.id}}", str(ticket_id)).encode()
                headers = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": stamp,
                           "X-Zendesk-Webhook-Invocation-Id": str(next(self.ids))}
                if hook_id in self.secrets:
                    headers["X-Zendesk-Webhook-Signature"] = _zendesk_signature(self.secrets[hook_id], stamp, body)
                out.append((str(hook["endpoint"]), headers, body))
        return out

    def _called(self, action: Any) -> tuple[int, dict[str, Any], str] | None:
        """(webhook id, webhook, body template) of a notification_webhook action to an active webhook."""
        if not isinstance(action, dict) or action.get("field") != "notification_webhook":
            return None
        value = action.get("value") or []
        hook_id = int(value[0]) if value and str(value[0]).isdigit() else None
        hook = self.webhooks.get(hook_id) if hook_id is not None else None
        if hook_id is None or hook is None or hook.get("status") != "active":
            return None
        return hook_id, hook, str(value[1]) if len(value) > 1 else DEFAULT_BODY

    def _jira_requests(self, key: str, kind: str) -> list[tuple[str, dict[str, str], bytes]]:
        event = "jira:issue_created" if kind == "created" else "jira:issue_updated"
        out = []
        for hook_id, hook in self.webhooks.items():
            if not hook.get("enabled", True) or event not in (hook.get("events") or []):
                continue
            number = key.rsplit("-", 1)[-1]
            body = json.dumps({"timestamp": int(self.clock.now().timestamp() * 1000), "webhookEvent": event,
                               "issue": {"id": str(10000 + int(number)) if number.isdigit() else key, "key": key,
                                         "self": f"{self.base_url}/rest/api/2/issue/{key}"}}).encode()
            headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": str(next(self.ids))}
            if hook_id in self.secrets:
                headers["X-Hub-Signature"] = _jira_signature(self.secrets[hook_id], body)
            out.append((str(hook["url"]), headers, body))
        return out

    def _send_with_faults(self, url: str, headers: dict[str, str], body: bytes) -> None:
        f = self.faults
        if f.hit("drop"):
            self._log(url, headers, "dropped")
            return
        copies = [(url, headers, body)]
        if f.hit("burst"):
            copies += [(url, {**headers, **_fresh_id(headers, i)}, body) for i in range(int(f.rates["burst"]) - 1)]
        if f.hit("duplicate"):
            copies.append((url, headers, body))
        if f.hit("reorder"):
            self._held.extend(copies)
            self._log(url, headers, "held for reorder")
            return
        held, self._held = self._held, []
        if f.hit("delay"):
            delay = f.args.get("delay", 1.0)
            threading.Timer(delay, self._send_all, args=(copies + held,)).start()
            return
        self._send_all(copies + held)

    def _send_all(self, requests: list[tuple[str, dict[str, str], bytes]]) -> None:
        for url, headers, body in requests:
            self._send(url, headers, body)

    def _send(self, url: str, headers: dict[str, str], body: bytes) -> None:
        started = time.time()
        try:
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(req, timeout=10) as r:
                status = r.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = -1
        self._log(url, headers, status, started)

    def _log(self, url: str, headers: dict[str, str], result: Any, started: float | None = None) -> None:
        with self.lock:
            self.deliveries.append({"t": started or time.time(), "url": url, "result": result,
                                    "delivery": headers.get("X-Atlassian-Webhook-Identifier")
                                    or headers.get("X-Zendesk-Webhook-Invocation-Id")})


def _fresh_id(headers: dict[str, str], i: int) -> dict[str, str]:
    for name in ("X-Atlassian-Webhook-Identifier", "X-Zendesk-Webhook-Invocation-Id"):
        if name in headers:
            return {name: f"{headers[name]}-b{i}"}
    return {}


def _conditions_hold(conditions: dict[str, Any], kind: str) -> bool:
    """`update_type` conditions decide (Create: a new ticket, Change: an update); others are met."""
    def holds(c: Any) -> bool:
        if not isinstance(c, dict) or c.get("field") != "update_type":
            return True
        wanted = "Create" if kind == "created" else "Change"
        return bool((str(c.get("value")) == wanted) == (c.get("operator", "is") == "is"))

    every = conditions.get("all") or []
    some = conditions.get("any") or []
    return all(holds(c) for c in every) and (not some or any(holds(c) for c in some))


def _invalid(kind: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return "expected a JSON object"
    if kind == "jira":
        return None if body.get("name") and body.get("url") and body.get("events") else "name, url and events are required"
    if kind == "webhooks":
        return None if body.get("name") and body.get("endpoint") else "name and endpoint are required"
    if not body.get("title") or not isinstance(body.get("conditions"), dict) or not isinstance(body.get("actions"), list):
        return "title, conditions and actions are required"
    return None
