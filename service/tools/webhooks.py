"""`tierlift webhooks setup | check`: the helpdesk's side of webhooks, created idempotently.

setup, per helpdesk with a `webhook_secret`:
- Zendesk: a webhook named WEBHOOK_NAME (endpoint `<public-url>/webhooks/<helpdesk>`,
  POST, JSON, active, signed with the secret) and a trigger named TRIGGER_NAME that
  calls it when a ticket is created or updated (update_type Create or Change), with the
  body `{"ticket_id": "{{ticket.id}}"}`: tierlift re-reads the ticket, so the body
  carries nothing else;
- Jira: an admin webhook named WEBHOOK_NAME (issue created, issue updated, comment
  created) with the secret and the helpdesk's JQL (`project = KEY`).
Run twice, it finds its own webhook and trigger by name and updates them: one of each.

check: they exist, are active, point at the URL, and fire on what setup set up (the
trigger's conditions and body; the Jira webhook's events, JQL and body): a trigger
narrowed to ticket creation, or a JQL that leaves the helpdesk's tickets out, is a
difference, reported. `tierlift check` runs it too.

Both skip a `dry_run` entry: it writes nothing to the helpdesk (docs/triage.md), and a
shadow of a live entry on the same helpdesk found the live entry's webhook by its name
and pointed it at itself. An entry without a `webhook_secret` has webhooks off:
nothing to set up or check, and both say so.
The secret is sent to the helpdesk and never printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from tierlift.service.daemon.config import HelpdeskConfig

WEBHOOK_NAME = "tierlift escalations"
TRIGGER_NAME = "tierlift: notify on ticket changes"
JIRA_EVENTS = ["jira:issue_created", "jira:issue_updated", "comment_created"]
JIRA_PATH = "/rest/webhooks/1.0/webhook"
ZENDESK_BODY = '{"ticket_id": "{{ticket.id}}"}'
ZENDESK_HOOK = {"http_method": "POST", "request_format": "json", "subscriptions": ["conditional_ticket_events"]}
# A ticket created or updated: what setup writes and check compares with.
ZENDESK_CONDITIONS = {"all": [], "any": [{"field": "update_type", "operator": "is", "value": "Create"},
                                         {"field": "update_type", "operator": "is", "value": "Change"}]}


@dataclass
class Outcome:
    helpdesk: str
    lines: list[str]
    ok: bool = True


def endpoint(public_url: str, hd: HelpdeskConfig) -> str:
    return f"{public_url.rstrip('/')}/webhooks/{hd.name}"


def _session(hd: HelpdeskConfig) -> requests.Session:
    s = requests.Session()
    user = f"{hd.email}/token" if hd.kind == "zendesk" else hd.email
    s.auth = (user, hd.token.reveal())
    return s


def _jql(hd: HelpdeskConfig) -> str:
    opts: Any = hd.options
    return str(opts.jql or f"project = {opts.project}")


def _call(s: requests.Session, method: str, url: str, body: Any = None) -> Any:
    try:
        r = s.request(method, url, json=body, timeout=30)
    except requests.RequestException as exc:
        # Said as every other command says it (QA: the raw urllib3 "HTTPConnectionPool(...): Max
        # retries exceeded ..." text was printed).
        where = urlsplit(url)
        raise RuntimeError(f"connection to {where.hostname}:{where.port or (443 if where.scheme == 'https' else 80)}"
                           f" failed: {exc.__class__.__name__}") from None
    if r.status_code >= 400:
        raise RuntimeError(f"{method} {url.split('?')[0]} answered {r.status_code}")
    return r.json() if r.content else None


def _not_ours(hd: HelpdeskConfig, doing: str) -> Outcome | None:
    """A dry_run entry or one without a secret: nothing to do, said (not a failure)."""
    if hd.dry_run:
        return Outcome(hd.name, [f"skipped: a dry_run entry writes nothing to the helpdesk and has no webhook"
                                 f" of its own (it polls): nothing to {doing}"])
    if hd.webhook_secret is None:
        return Outcome(hd.name, [f"no webhook_secret: webhooks are off for this helpdesk, nothing to {doing}"])
    return None


def setup(hd: HelpdeskConfig, public_url: str, *, dry_run: bool = False) -> Outcome:
    skipped = _not_ours(hd, "set up")
    if skipped:
        return skipped
    url = endpoint(public_url, hd)
    s = _session(hd)
    try:
        if hd.kind == "jira":
            return _setup_jira(s, hd, url, dry_run)
        return _setup_zendesk(s, hd, url, dry_run)
    finally:
        s.close()


def _setup_zendesk(s: requests.Session, hd: HelpdeskConfig, url: str, dry_run: bool) -> Outcome:
    base = hd.url.rstrip("/") + "/api/v2"
    assert hd.webhook_secret is not None
    hook = {"name": WEBHOOK_NAME, "endpoint": url, "status": "active", **ZENDESK_HOOK}
    found = _find_zendesk(s, base, "webhooks", WEBHOOK_NAME, "name")
    out = Outcome(hd.name, [])
    if dry_run:
        out.lines.append(f"would {'update' if found else 'create'} the Zendesk webhook '{WEBHOOK_NAME}' -> {url}"
                         " (signed with webhook_secret)")
        out.lines.append(f"would {'update' if _find_zendesk(s, base, 'triggers', TRIGGER_NAME, 'title') else 'create'}"
                         f" the trigger '{TRIGGER_NAME}': ticket created or updated -> that webhook")
        return out
    signed = {**hook, "signing_secret": {"algorithm": "SHA256", "secret": hd.webhook_secret.reveal()}}
    if found:
        _call(s, "PUT", f"{base}/webhooks/{found['id']}", {"webhook": signed})
        hook_id = found["id"]
        out.lines.append(f"updated the Zendesk webhook '{WEBHOOK_NAME}' -> {url}")
    else:
        hook_id = _call(s, "POST", f"{base}/webhooks", {"webhook": signed})["webhook"]["id"]
        out.lines.append(f"created the Zendesk webhook '{WEBHOOK_NAME}' -> {url}")
    trigger = {"title": TRIGGER_NAME, "active": True, "conditions": ZENDESK_CONDITIONS,
               "actions": [{"field": "notification_webhook", "value": [str(hook_id), ZENDESK_BODY]}]}
    existing = _find_zendesk(s, base, "triggers", TRIGGER_NAME, "title")
    if existing:
        _call(s, "PUT", f"{base}/triggers/{existing['id']}", {"trigger": trigger})
        out.lines.append(f"updated the trigger '{TRIGGER_NAME}'")
    else:
        _call(s, "POST", f"{base}/triggers", {"trigger": trigger})
        out.lines.append(f"created the trigger '{TRIGGER_NAME}': ticket created or updated -> the webhook")
    return out


def _find_zendesk(s: requests.Session, base: str, kind: str, name: str, key: str) -> dict[str, Any] | None:
    url: str | None = f"{base}/{kind}"
    seen = set()
    while url and url not in seen:
        seen.add(url)
        body = _call(s, "GET", url) or {}
        for item in body.get(kind) or []:
            if isinstance(item, dict) and item.get(key) == name:
                return item
        url = (body.get("links") or {}).get("next") if (body.get("meta") or {}).get("has_more") else body.get("next_page")
    return None


def _setup_jira(s: requests.Session, hd: HelpdeskConfig, url: str, dry_run: bool) -> Outcome:
    base = hd.url.rstrip("/") + JIRA_PATH
    assert hd.webhook_secret is not None
    found = next((h for h in _call(s, "GET", base) or [] if isinstance(h, dict) and h.get("name") == WEBHOOK_NAME), None)
    body = {"name": WEBHOOK_NAME, "url": url, "events": JIRA_EVENTS, "enabled": True, "excludeBody": False,
            "filters": {"issue-related-events-section": _jql(hd)}}
    verb = "update" if found else "create"
    if dry_run:
        return Outcome(hd.name, [f"would {verb} the Jira admin webhook '{WEBHOOK_NAME}' -> {url}"
                                 f" ({', '.join(JIRA_EVENTS)}; JQL {_jql(hd)}; signed with webhook_secret)"])
    signed = {**body, "secret": hd.webhook_secret.reveal()}
    if found:
        _call(s, "PUT", f"{base}/{str(found['self']).rstrip('/').rsplit('/', 1)[-1]}", signed)
    else:
        _call(s, "POST", base, signed)
    return Outcome(hd.name, [f"{verb}d the Jira admin webhook '{WEBHOOK_NAME}' -> {url} (JQL {_jql(hd)})"])


def check(hd: HelpdeskConfig, public_url: str) -> Outcome:
    """The webhook (and Zendesk's trigger) exist, are active, point at the URL, and fire
    on the events setup set up."""
    skipped = _not_ours(hd, "check")
    if skipped:
        return skipped
    url = endpoint(public_url, hd)
    s = _session(hd)
    try:
        return _check_jira(s, hd, url) if hd.kind == "jira" else _check_zendesk(s, hd, url)
    finally:
        s.close()


def _check_jira(s: requests.Session, hd: HelpdeskConfig, url: str) -> Outcome:
    hooks = [h for h in _call(s, "GET", hd.url.rstrip("/") + JIRA_PATH) or []
             if isinstance(h, dict) and h.get("name") == WEBHOOK_NAME]
    hook = next((h for h in hooks if h.get("url") == url and h.get("enabled", True)), None)
    if hook is None:
        return Outcome(hd.name, [f"Jira webhook missing, disabled or not pointing at {url}"], ok=False)
    differs = _jira_differs(hd, hook)
    return Outcome(hd.name, [f"Jira webhook points at {url}"] + _differences("Jira webhook", differs), not differs)


def _jira_differs(hd: HelpdeskConfig, hook: dict[str, Any]) -> list[str]:
    differs = []
    if set(hook.get("events") or []) != set(JIRA_EVENTS):
        differs.append(f"listens for {', '.join(hook.get('events') or []) or 'no event'},"
                       f" not {', '.join(JIRA_EVENTS)}")
    jql = (hook.get("filters") or {}).get("issue-related-events-section")
    if jql != _jql(hd):
        differs.append(f"filters with JQL {jql!r}, not the helpdesk's {_jql(hd)!r}")
    if hook.get("excludeBody"):
        differs.append("sends no body (excludeBody), so no issue key")
    return differs


def _differences(what: str, differs: list[str]) -> list[str]:
    return [f"{what} {d}: run `tierlift webhooks setup` to repair it" for d in differs]


def _check_zendesk(s: requests.Session, hd: HelpdeskConfig, url: str) -> Outcome:
    base = hd.url.rstrip("/") + "/api/v2"
    hook = _find_zendesk(s, base, "webhooks", WEBHOOK_NAME, "name")
    trigger = _find_zendesk(s, base, "triggers", TRIGGER_NAME, "title")
    hook_ok = bool(hook and hook.get("endpoint") == url and hook.get("status") == "active")
    calls = bool(hook and trigger and trigger.get("active", True) and _calls(trigger, hook))
    lines = [f"Zendesk webhook {'points at ' + url if hook_ok else 'missing, inactive or not pointing at ' + url}",
             f"trigger '{TRIGGER_NAME}' {'calls it' if calls else 'missing, inactive or not calling it'}"]
    differs = []
    if hook_ok and calls:  # both found: do they do what setup set up?
        assert hook is not None and trigger is not None
        differs = _differences("the Zendesk webhook", [f"has {k} {hook.get(k)!r}, not {v!r}"
                                                      for k, v in ZENDESK_HOOK.items() if hook.get(k) != v])
        differs += _differences(f"the trigger '{TRIGGER_NAME}'", _trigger_differs(trigger, hook))
    return Outcome(hd.name, lines + differs, hook_ok and calls and not differs)


def _conditions(conditions: Any) -> tuple[frozenset[tuple[str, str, str]], ...]:
    """A trigger's conditions as comparable sets (Zendesk may add keys and reorder)."""
    conditions = conditions if isinstance(conditions, dict) else {}
    return tuple(frozenset((str(c.get("field")), str(c.get("operator")), str(c.get("value")))
                           for c in conditions.get(part) or [] if isinstance(c, dict)) for part in ("all", "any"))


def _trigger_differs(trigger: dict[str, Any], hook: dict[str, Any]) -> list[str]:
    differs = []
    if _conditions(trigger.get("conditions")) != _conditions(ZENDESK_CONDITIONS):
        differs.append("fires on other conditions than a ticket created or updated"
                       " (update_type is Create, or is Change)")
    bodies = [(a.get("value") or [None, None])[1:2] for a in trigger.get("actions") or []
              if isinstance(a, dict) and a.get("field") == "notification_webhook"
              and str((a.get("value") or [None])[0]) == str(hook.get("id"))]
    if not any(_same_json(b[0], ZENDESK_BODY) for b in bodies if b):
        differs.append(f"sends another body than {ZENDESK_BODY}")
    return differs


def _same_json(a: Any, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except (TypeError, ValueError):
        return False


def _calls(trigger: dict[str, Any], hook: dict[str, Any]) -> bool:
    return any(a.get("field") == "notification_webhook" and str((a.get("value") or [None])[0]) == str(hook.get("id"))
               for a in trigger.get("actions") or [] if isinstance(a, dict))
