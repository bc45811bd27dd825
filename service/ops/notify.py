"""Notifications to Slack, PagerDuty (Events API v2) and signed webhooks.

Sent after the helpdesk write succeeded and journaled per (escalation,
channel) by the cycle, so a notification is never sent twice for one
escalation; PagerDuty's dedup_key is the escalation id and the helpdesk (writes.dedup_key), so even a retried
request is never a second page. Errors never carry the webhook URL, routing
key or signing secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import requests
import requests.adapters

from tierlift.connectors.errors import RateLimited, RetriableError
from tierlift.connectors.retry import Retry, retry_after_seconds
from tierlift.engine.errors import TierliftError
from tierlift.service.daemon.clock import SystemClock
from tierlift.service.daemon.config import ChannelConfig, Config, HelpdeskConfig
from tierlift.service.ops.links import ticket_url
from tierlift.service.ops.logs import event
from tierlift.service.ops.redact import redact

log = logging.getLogger("tierlift.notify")


class NotifyError(TierliftError):
    pass


@dataclass(frozen=True)
class Escalation:
    """What every notification says about its ticket, whatever the template."""

    helpdesk: str
    ticket_id: str
    url: str
    tier_from: int
    tier_to: int
    rule: str
    summary: str  # the escalation note's issue summary (the ticket subject unless an agent wrote one)
    reason: str  # the note's first line: why it moved, to which team

    @property
    def tier_change(self) -> str:
        return f"L{self.tier_from} -> L{self.tier_to}"


def escalation_of(cfg: HelpdeskConfig, decision: Mapping[str, Any]) -> Escalation:
    """Built from a decision as `Decision.to_dict()` or the journal keeps it (the retry path)."""
    tid = str(decision.get("ticket", ""))
    note = next((str(a.get("body", "")) for a in decision.get("actions", []) if a.get("type") == "internal_note"), "")
    summary, reason = "", note.split("\n", 1)[0].strip()
    for line in note.splitlines():
        if line.strip().startswith("summary:"):
            raw = line.split(":", 1)[1].strip()
            try:
                summary = str(json.loads(raw))
            except ValueError:
                summary = raw
            break
    if not reason:
        reasons = decision.get("reasons") or [""]
        reason = str(reasons[-1])
    return Escalation(cfg.name, tid, ticket_url(cfg.kind, cfg.url, tid), int(decision.get("tier_before") or 0),
                      int(decision.get("tier_after") or 0), str(decision.get("rule") or ""), summary, reason)


def _mrkdwn(text: str) -> str:
    # Slack's three control characters; https://api.slack.com/reference/surfaces/formatting#escaping
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(subject: str, body: str, about: Escalation | None) -> dict[str, Any]:
    """Block Kit message; `text` is the fallback shown in notifications (limits: header 150, section 3000)."""
    if about is None:
        return {"text": f"*{subject}*\n{body}",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(f"{subject}\n{body}")[:3000]}}]}
    link = f"<{about.url}|Ticket {_mrkdwn(about.ticket_id)}>"
    fields = [("Ticket", link), ("Tier change", about.tier_change), ("Rule", _mrkdwn(about.rule or "-")),
              ("Helpdesk", _mrkdwn(about.helpdesk))]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject[:150] or "tierlift", "emoji": False}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(body)[:3000] or " "},
         "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]} for k, v in fields]},
    ]
    if about.summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Summary*\n{_mrkdwn(about.summary)}"[:3000]}})
    if about.reason:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(about.reason)[:3000]}]})
    blocks.append({"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open ticket"},
                                                     "url": about.url[:3000]}]})
    return {"text": f"*{subject}*\n{body}\n{link} {about.tier_change} ({_mrkdwn(about.rule)})", "blocks": blocks}


def bare_channels(cfg: Config) -> frozenset[str]:
    """The channels sent none of the ticket's words: `customer_words: false`, and log channels."""
    return frozenset(name for name, ch in cfg.channels.items() if not ch.customer_words or ch.kind == "log")


def without_words(subject: str, about: Escalation | None) -> tuple[str, str, Escalation | None]:
    """A message with none of the ticket's words (`customer_words: false`): the policy's text
    may quote the description (teamflow's outage message does), the summary is the ticket's
    subject and the reason may quote the sentence that decided; what is left is the helpdesk,
    the ticket's id and link, the tier change and the rule (QA, a data-protection officer)."""
    # The policy's own severity words stay: PagerDuty's event severity is read from them.
    mark = next((m for m in ("[P0]", "[P1]", "URGENT", "OUTAGE") if m in subject), "")
    if about is None:
        return f"{mark} tierlift escalation".strip(), "", None
    lean = replace(about, summary="", reason="")
    said = f"{mark} [{lean.tier_change}] Ticket {lean.ticket_id} on {lean.helpdesk}: rule {lean.rule or '-'}".strip()
    review = TRIAGE_LEAD.match(subject)  # a review's own words (what it may be), not the ticket's
    if review and about.tier_from == about.tier_to:
        said = f"{review.group(0)} on {lean.helpdesk}: rule {lean.rule or '-'}"
    return said, f"{said}\n{lean.url}", lean


# How a triage review's message begins (engine.evaluate._ask): tierlift's words before the subject.
TRIAGE_LEAD = re.compile(r"\[triage\] Ticket \S+ may be [a-z_]+")


def _fill_template(cfg: ChannelConfig, subject: str, body: str, about: Escalation | None) -> tuple[str, str]:
    if not cfg.template:
        return subject, body
    values = {"subject": subject, "body": body, "ticket_url": "", "tier_change": "", "summary": "",
              **({"ticket_url": about.url, "tier_change": about.tier_change, "summary": about.summary} if about else {})}
    try:
        return (str(cfg.template.get("subject", "{subject}")).format_map(values),
                str(cfg.template.get("body", "{body}")).format_map(values))
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
        # The configuration refuses such a template at load; one built another way must
        # still not lose the page: it goes out with the policy's own text.
        event(log, logging.WARNING, "channel template not applied", exc.__class__.__name__, channel=cfg.name)
        return subject, body


def _session() -> requests.Session:
    """No urllib3 retries underneath: retrying a notification is the retry layer's job alone."""
    s = requests.Session()
    adapter = requests.adapters.HTTPAdapter(max_retries=0)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


class Notifier:
    """Posts to the configured channels; 429, 5xx and dropped connections are retried by the one
    retry layer (connectors/retry.py: `attempts` in all, backoff with jitter, a Retry-After is the
    wait), 4xx never. A Retry-After beyond `max_wait` is not waited out: the send fails at once
    and the cycle tries the journaled notification again later."""

    def __init__(self, channels: Mapping[str, ChannelConfig], session: requests.Session | None = None, *,
                 timeout: float = 10, attempts: int = 3, backoff: float = 0.5, max_wait: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, now: Callable[[], datetime] | None = None):
        self.channels = dict(channels)
        self.now = now or SystemClock().now  # the webhook's `sent_at`: the daemon passes its clock (a rehearsal's runs fast)
        self.session = session or _session()
        self.timeout, self.attempts = timeout, attempts
        self.retry = Retry(attempts=attempts, max_wait=max_wait, backoff=backoff, sleep=sleep)

    def send(self, channel: str, subject: str, body: str, *, dedup_key: str, about: Escalation | None = None) -> None:
        cfg = self.channels.get(channel)
        if cfg is None:
            raise NotifyError(f"channel '{channel}' is not configured")
        if not cfg.customer_words or cfg.kind == "log":
            # A log channel writes to the daemon's log, which carries no customer words at any
            # level (docs/privacy.md): its line said the ticket's subject, and with a template
            # the description and the requester's email (QA, a privacy auditor).
            subject, body, about = without_words(subject, about)
        if cfg.kind == "log":
            event(log, logging.INFO, "notify", channel=channel, dedup_key=dedup_key, subject=subject,
                  url=about.url if about else "-")
            return
        subject, body = _fill_template(cfg, subject, body, about)
        url, payload, headers = self._request(cfg, subject, body, dedup_key, about)
        try:
            # Safe to repeat: PagerDuty dedups on dedup_key, webhooks carry an Idempotency-Key.
            self.retry.call(lambda: self._post(url, payload, headers))
        except RateLimited as exc:
            raise NotifyError(f"channel '{channel}': {exc}") from None
        except RetriableError as exc:
            raise NotifyError(f"channel '{channel}': {exc} after {self.attempts} attempts") from None

    def resolves(self, channel: str) -> bool:
        """Whether a page on `channel` is resolved when its ticket is solved (PagerDuty's)."""
        cfg = self.channels.get(channel)
        return cfg is not None and cfg.kind == "pagerduty"

    def resolve(self, channel: str, *, dedup_key: str) -> None:
        """Tell PagerDuty the incident paged under `dedup_key` is over (Events API v2
        `resolve`: only the routing key, the action and the dedup key). Safe to repeat."""
        cfg = self.channels.get(channel)
        if cfg is None or cfg.kind != "pagerduty" or not cfg.url:
            raise NotifyError(f"channel '{channel}' is not a PagerDuty channel")
        secret = cfg.secret.reveal() if cfg.secret else ""
        payload = json.dumps({"routing_key": secret, "event_action": "resolve", "dedup_key": dedup_key}).encode()
        url = cfg.url
        try:
            self.retry.call(lambda: self._post(url, payload, {"Content-Type": "application/json"}))
        except RateLimited as exc:
            raise NotifyError(f"channel '{channel}': {exc}") from None
        except RetriableError as exc:
            raise NotifyError(f"channel '{channel}': {exc} after {self.attempts} attempts") from None

    def _request(self, cfg: ChannelConfig, subject: str, body: str, dedup_key: str,
                 about: Escalation | None) -> tuple[str, bytes, dict[str, str]]:
        secret = cfg.secret.reveal() if cfg.secret else ""
        if cfg.kind == "slack":
            return secret, json.dumps(slack_payload(subject, body, about)).encode(), {"Content-Type": "application/json"}
        if not cfg.url:  # the configuration requires one for PagerDuty (defaulted) and webhooks
            raise NotifyError(f"channel '{cfg.name}' has no url")
        if cfg.kind == "pagerduty":
            return cfg.url, json.dumps(_pagerduty_event(secret, subject, body, dedup_key, about)).encode(), \
                {"Content-Type": "application/json"}
        data = json.dumps({"channel": cfg.name, "subject": subject, "body": body, "dedup_key": dedup_key,
                           "ticket": ({**asdict(about), "tier_change": about.tier_change} if about else None),
                           "sent_at": self.now().strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
        signature = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
        return cfg.url, data, {"Content-Type": "application/json", "X-Tierlift-Signature": f"sha256={signature}",
                               "Idempotency-Key": dedup_key}

    def _post(self, url: str, data: bytes, headers: dict[str, str]) -> None:
        try:
            r = self.session.post(url, data=data, headers=headers, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout):
            raise  # retried: the retry layer names it
        except requests.RequestException as exc:
            raise NotifyError(redact(f"request failed ({exc.__class__.__name__})")) from None
        if r.status_code == 429 or r.status_code >= 500:
            raise RetriableError(f"HTTP {r.status_code}", status=r.status_code,
                                 retry_after=retry_after_seconds(r.headers.get("Retry-After")))
        if r.status_code >= 400:
            raise NotifyError(f"HTTP {r.status_code} (not retried within this attempt)")


def _pagerduty_event(routing_key: str, subject: str, body: str, dedup_key: str,
                     about: Escalation | None) -> dict[str, Any]:
    """Events API v2: the ticket link goes in `links`, shown on the incident
    (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/)."""
    severity = "critical" if any(s in subject for s in ("[P0]", "URGENT", "OUTAGE")) else "error"
    details: dict[str, Any] = {"body": body}
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": "trigger", "dedup_key": dedup_key,
                             "payload": {"summary": subject[:1024], "source": "tierlift", "severity": severity,
                                         "custom_details": details}}
    if about is not None:
        details.update(ticket=about.ticket_id, ticket_url=about.url, tier_change=about.tier_change, rule=about.rule,
                       summary=about.summary, reason=about.reason, helpdesk=about.helpdesk)
        # `class` and `group`: PagerDuty's content-based alert grouping on them makes one incident
        # of many tickets of one outage (issue 26: five customers' tickets, five incidents).
        event["payload"].update({"source": about.helpdesk, "class": about.rule, "group": about.helpdesk})
        event["links"] = [{"href": about.url, "text": f"Ticket {about.ticket_id} ({about.helpdesk})"}]
    return event
