"""Notifications to Slack, PagerDuty (Events API v2) and signed webhooks.

Sent after the helpdesk write succeeded and journaled per (escalation,
channel) by the cycle, so a notification is never sent twice for one
escalation; PagerDuty's dedup_key is the escalation id, so even a retried
request is never a second page. Errors never carry the webhook URL, routing
key or signing secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import requests

from tierlift.connectors.retry import retry_after_seconds
from tierlift.service.daemon.config import ChannelConfig
from tierlift.service.ops.redact import redact

log = logging.getLogger("tierlift.notify")


class NotifyError(Exception):
    pass


class _Retriable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Notifier:
    def __init__(self, channels: Mapping[str, ChannelConfig], session: requests.Session | None = None, *,
                 timeout: float = 10, attempts: int = 3, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        self.channels = dict(channels)
        self.session = session or requests.Session()
        self.timeout, self.attempts, self.backoff, self.sleep = timeout, attempts, backoff, sleep

    def send(self, channel: str, subject: str, body: str, *, dedup_key: str) -> None:
        cfg = self.channels.get(channel)
        if cfg is None:
            raise NotifyError(f"channel '{channel}' is not configured")
        if cfg.template:
            values = {"subject": subject, "body": body}
            subject = str(cfg.template.get("subject", "{subject}")).format_map(values)
            body = str(cfg.template.get("body", "{body}")).format_map(values)
        if cfg.kind == "log":
            log.info("notify channel=%s dedup_key=%s subject=%s", channel, dedup_key, json.dumps(subject))
            return
        url, payload, headers = self._request(cfg, subject, body, dedup_key)
        for attempt in range(1, self.attempts + 1):
            try:
                self._post(url, payload, headers)
                return
            except _Retriable as exc:
                if attempt == self.attempts:
                    raise NotifyError(f"channel '{channel}': {exc} after {attempt} attempts") from None
                wait = exc.retry_after if exc.retry_after is not None else self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1)
                self.sleep(min(wait, 30.0))

    def _request(self, cfg: ChannelConfig, subject: str, body: str, dedup_key: str):
        secret = cfg.secret.reveal() if cfg.secret else ""
        if cfg.kind == "slack":
            return secret, json.dumps({"text": f"*{subject}*\n{body}"}).encode(), {"Content-Type": "application/json"}
        if cfg.kind == "pagerduty":
            severity = "critical" if any(s in subject for s in ("[P0]", "URGENT", "OUTAGE")) else "error"
            event = {"routing_key": secret, "event_action": "trigger", "dedup_key": dedup_key,
                     "payload": {"summary": subject[:1024], "source": "tierlift", "severity": severity,
                                 "custom_details": {"body": body}}}
            return cfg.url, json.dumps(event).encode(), {"Content-Type": "application/json"}
        data = json.dumps({"channel": cfg.name, "subject": subject, "body": body, "dedup_key": dedup_key,
                           "sent_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
        signature = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
        return cfg.url, data, {"Content-Type": "application/json", "X-Tierlift-Signature": f"sha256={signature}",
                               "Idempotency-Key": dedup_key}

    def _post(self, url: str, data: bytes, headers: dict[str, str]) -> None:
        try:
            r = self.session.post(url, data=data, headers=headers, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Retriable(f"connection failed ({exc.__class__.__name__})") from None
        except requests.RequestException as exc:
            raise NotifyError(redact(f"request failed ({exc.__class__.__name__})")) from None
        if r.status_code == 429 or r.status_code >= 500:
            raise _Retriable(f"HTTP {r.status_code}", retry_after_seconds(r.headers.get("Retry-After")))
        if r.status_code >= 400:
            raise NotifyError(f"HTTP {r.status_code} (not retried)")
