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

check: they exist, are active, and point at the URL; `tierlift check` runs it too.

Both skip a `dry_run` entry: it writes nothing to the helpdesk (docs/triage.md), and a
shadow of a live entry on the same helpdesk found the live entry's webhook by its name
and pointed it at itself.
The secret is sent to the helpdesk and never printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from tierlift.service.daemon.config import HelpdeskConfig

WEBHOOK_NAME = "tierlift escalations"
TRIGGER_NAME = "tierlift: notify on ticket changes"
JIRA_EVENTS = ["jira:issue_created", "jira:issue_updated", "comment_created"]
JIRA_PATH = "/rest/webhooks/1.0/webhook"
ZENDESK_BODY = '{"ticket_id": "{{ticket.id}}"}'


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
    r = s.request(method, url, json=body, timeout=30)
    if r.status_code >= 400:
        raise RuntimeError(f"{method} {url.split('?')[0]} answered {r.status_code}")
    return r.json() if r.content else None


def _shadow(hd: HelpdeskConfig, doing: str) -> Outcome | None:
    """A dry_run entry: nothing to do, said (not a failure)."""
    if hd.dry_run:
        return Outcome(hd.name, [f"skipped: a dry_run entry writes nothing to the helpdesk and has no webhook"
                                 f" of its own (it polls): nothing to {doing}"])
    return None


def setup(hd: HelpdeskConfig, public_url: str, *, dry_run: bool = False) -> Outcome:
    skipped = _shadow(hd, "set up")
    if skipped:
        return skipped
    if hd.webhook_secret is None:
        return Outcome(hd.name, ["no webhook_secret: webhooks stay off for this helpdesk"], ok=False)
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
    hook = {"name": WEBHOOK_NAME, "endpoint": url, "http_method": "POST", "request_format": "json",
            "status": "active", "subscriptions": ["conditional_ticket_events"]}
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
    trigger = {"title": TRIGGER_NAME, "active": True,
               "conditions": {"all": [], "any": [{"field": "update_type", "operator": "is", "value": "Create"},
                                                 {"field": "update_type", "operator": "is", "value": "Change"}]},
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
    """The webhook (and Zendesk's trigger) exist, are active and point at the URL."""
    skipped = _shadow(hd, "check")
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
    ok = any(h.get("url") == url and h.get("enabled", True) for h in hooks)
    return Outcome(hd.name, [f"Jira webhook {'points at ' + url if ok else 'missing or not pointing at ' + url}"], ok)


def _check_zendesk(s: requests.Session, hd: HelpdeskConfig, url: str) -> Outcome:
    base = hd.url.rstrip("/") + "/api/v2"
    hook = _find_zendesk(s, base, "webhooks", WEBHOOK_NAME, "name")
    trigger = _find_zendesk(s, base, "triggers", TRIGGER_NAME, "title")
    hook_ok = bool(hook and hook.get("endpoint") == url and hook.get("status") == "active")
    calls = bool(hook and trigger and trigger.get("active", True) and _calls(trigger, hook))
    lines = [f"Zendesk webhook {'points at ' + url if hook_ok else 'missing, inactive or not pointing at ' + url}",
             f"trigger '{TRIGGER_NAME}' {'calls it' if calls else 'missing, inactive or not calling it'}"]
    return Outcome(hd.name, lines, hook_ok and calls)


def _calls(trigger: dict[str, Any], hook: dict[str, Any]) -> bool:
    return any(a.get("field") == "notification_webhook" and str((a.get("value") or [None])[0]) == str(hook.get("id"))
               for a in trigger.get("actions") or [] if isinstance(a, dict))
