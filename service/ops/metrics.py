"""Prometheus metrics, on a registry of their own (never the global one).

Names follow Prometheus conventions: the `tierlift_` prefix, `_total`
counters, seconds as the unit, and no ticket ids as labels (unbounded
cardinality): escalations are labelled by helpdesk, tiers, rule and kind.
"""

from __future__ import annotations

import logging
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tierlift.engine.model import Decision
from tierlift.service.ops.logs import event

log = logging.getLogger("tierlift.waits")


class _Observer:
    def __init__(self, metrics: Metrics, helpdesk: str):
        self.metrics, self.helpdesk = metrics, helpdesk

    def request(self, method: str, status: str) -> None:
        self.metrics.request(self.helpdesk, method, status)

    def rate_limit_wait(self, seconds: float) -> None:
        self.metrics.rate_limit_wait(self.helpdesk, seconds)

    def wait_started(self, seconds: float, why: str) -> None:
        """A wait is starting: log it and count it now, so a stall shows while it lasts."""
        # Sub-second pauses (the window's oldest request about to leave) are counted, not logged.
        event(log, logging.INFO if seconds >= 1 else logging.DEBUG, "waiting", helpdesk=self.helpdesk,
              seconds=round(float(seconds), 1), why=why)
        self.metrics.rate_limit_wait(self.helpdesk, seconds)

    def retry_started(self, seconds: float, why: str) -> None:
        """A failed request is about to be tried again after `seconds`: log and count it now."""
        event(log, logging.INFO, "retrying", helpdesk=self.helpdesk, seconds=round(float(seconds), 1), why=why)
        self.metrics.retry_wait(self.helpdesk, seconds)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.escalations = Counter("tierlift_escalations_total", "Decisions applied (or planned, dry_run=true)",
                                   ["helpdesk", "from_tier", "to_tier", "rule", "kind", "dry_run"], registry=r)
        self.requests = Counter("tierlift_api_requests_total", "Helpdesk API requests by status",
                                ["helpdesk", "method", "status"], registry=r)
        self.waits = Counter("tierlift_rate_limit_waits_total",
                             "Waits for the request budget or Retry-After, counted when they start", ["helpdesk"],
                             registry=r)
        self.wait_seconds = Counter("tierlift_rate_limit_wait_seconds_total",
                                    "Seconds of those waits, counted when they start", ["helpdesk"], registry=r)
        self.retry_waits = Counter("tierlift_retry_waits_total", "Backoff waits before a failed helpdesk request"
                                   " is tried again (a 5xx, no answer, a dropped connection), counted when they"
                                   " start", ["helpdesk"], registry=r)
        self.retry_wait_seconds = Counter("tierlift_retry_wait_seconds_total", "Seconds of those waits, counted"
                                          " when they start", ["helpdesk"], registry=r)
        self.public_replies_held = Counter("tierlift_public_replies_held_total",
                                           "Customer replies and pages held back (first sync, per-cycle cap)",
                                           ["helpdesk", "reason"], registry=r)
        self.cycle_seconds = Histogram("tierlift_cycle_duration_seconds", "Duration of one poll cycle", ["helpdesk"],
                                       buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300), registry=r)
        self.cycle_failures = Counter("tierlift_cycle_failures_total", "Cycles that failed", ["helpdesk"], registry=r)
        self.tickets_read = Counter("tierlift_tickets_read_total", "Changed tickets read", ["helpdesk"], registry=r)
        self.due = Gauge("tierlift_tickets_due", "Tickets whose wake-up had passed in the last cycle", ["helpdesk"], registry=r)
        self.last_ok = Gauge("tierlift_last_successful_cycle_timestamp_seconds",
                             "When the last cycle succeeded (0: none yet, its cycles failed)", ["helpdesk"], registry=r)
        # An alert per helpdesk without arithmetic on timestamps (QA, a multi-tenant operator).
        self.up = Gauge("tierlift_helpdesk_up", "1 when the helpdesk's last cycle went through, 0 when it failed"
                        " (unreachable, refused, rate-limited past the cap)", ["helpdesk"], registry=r)
        self.quarantine = Gauge("tierlift_quarantined_tickets", "Tickets in quarantine", ["helpdesk"], registry=r)
        self.engine_failures = Counter("tierlift_engine_failures_total", "Quarantines (retries included) because"
                                       " the engine failed on the ticket: a tierlift bug (its traceback is logged"
                                       " at debug)", ["helpdesk"], registry=r)
        self.lease_holder = Gauge("tierlift_lease_holder", "1 while this replica holds the helpdesk's lease,"
                                  " 0 on standby (replicas on PostgreSQL only)", ["helpdesk"], registry=r)
        self.notifications = Counter("tierlift_notifications_total", "Notification attempts, sent or failed",
                                     ["helpdesk", "channel", "result"], registry=r)
        self._webhook_series(r)
        self.probes_process = Gauge("tierlift_probes_process", "1 while a process of its own answers /healthz and"
                                    " /readyz (tierlift run), 0 while the daemon answers them itself", registry=r)
        self.probes_restarts = Counter("tierlift_probes_process_restarts_total", "Times the probes' process ended"
                                       " or stopped taking updates and was started again", registry=r)
        # A refused reload was in the log only: /readyz, /metrics and status looked normal (QA).
        self.reload_ok = Gauge("tierlift_config_last_reload_successful", "0 after a reload (SIGHUP) was refused,"
                               " the running configuration kept; 1 at start and after a reload applied", registry=r)
        self.reload_ok.set(1)
        self.reload_at = Gauge("tierlift_config_last_reload_timestamp_seconds", "When the last reload was asked"
                               " (0: none since start)", registry=r)

    def _webhook_series(self, r: CollectorRegistry) -> None:
        """The webhooks' series (service/ops/webhooks.py, the relay between replicas)."""
        self.webhooks = Counter("tierlift_webhooks_total", "Webhook deliveries: accepted, duplicate, or the cause"
                                " of a refusal (too_large, malformed, no_ticket, unknown_helpdesk, unsigned,"
                                " bad_signature, stale, method), or busy (a burst the daemon could not take in"
                                " time: 503 with Retry-After)", ["helpdesk", "result"], registry=r)
        self.webhook_last = Gauge("tierlift_webhook_last_event_timestamp_seconds", "When the last verified"
                                  " webhook event arrived (helpdesk clock)", ["helpdesk"], registry=r)
        self.webhook_tickets = Counter("tierlift_webhook_tickets_total", "Tickets read and decided because a"
                                       " webhook named them (events for one ticket coalesced)", ["helpdesk"],
                                       registry=r)
        self.nudges = Counter("tierlift_webhook_nudges_total", "Replicas: webhooks that landed on a replica"
                              " not holding the helpdesk's lease, through the state database: forwarded (a row"
                              " written here), duplicate (the delivery was written already), consumed (the holder"
                              " here acted on a row), dropped (the outbox was full)", ["helpdesk", "result"],
                              registry=r)

    def decision(self, helpdesk: str, decision: Decision, dry_run: bool) -> None:
        self.escalations.labels(helpdesk, str(decision.tier_before), str(decision.tier_after), decision.rule or "-",
                                decision.kind, str(dry_run).lower()).inc()

    def request(self, helpdesk: str, method: str, status: str) -> None:
        self.requests.labels(helpdesk, method, status).inc()

    def rate_limit_wait(self, helpdesk: str, seconds: float) -> None:
        self.waits.labels(helpdesk).inc()
        self.wait_seconds.labels(helpdesk).inc(max(0.0, seconds))

    def retry_wait(self, helpdesk: str, seconds: float) -> None:
        self.retry_waits.labels(helpdesk).inc()
        self.retry_wait_seconds.labels(helpdesk).inc(max(0.0, seconds))

    def cycle(self, helpdesk: str, seconds: float, ok: bool, *, due: int, read: int, at: datetime) -> None:
        if ok:
            self.cycle_seconds.labels(helpdesk).observe(seconds)
            self.due.labels(helpdesk).set(due)
            self.tickets_read.labels(helpdesk).inc(read)
            self.last_ok.labels(helpdesk).set(at.timestamp())
            self.up.labels(helpdesk).set(1)
        else:
            self.up.labels(helpdesk).set(0)
            self.cycle_failures.labels(helpdesk).inc()
            # A helpdesk that never answered has the series too, at 0: an alert on its age
            # never fired for a client that never connected (QA, a multi-tenant operator).
            self.last_ok.labels(helpdesk)

    def held_back(self, helpdesk: str, reason: str, count: int = 1) -> None:
        self.public_replies_held.labels(helpdesk, reason).inc(count)

    def quarantined(self, helpdesk: str, count: int, engine_failed: bool = False) -> None:
        """The quarantine's size now; one more engine failure when that is why a ticket went in."""
        self.quarantine.labels(helpdesk).set(count)
        if engine_failed:
            self.engine_failures.labels(helpdesk).inc()

    def notification(self, helpdesk: str, channel: str, ok: bool, *, given_up: bool = False) -> None:
        """An attempt sent or failed; `given_up`: a message no longer tried (a day of failures)."""
        self.notifications.labels(helpdesk, channel, "given_up" if given_up else "sent" if ok else "failed").inc()

    def webhook(self, helpdesk: str, result: str) -> None:
        self.webhooks.labels(helpdesk, result).inc()

    def forget(self, helpdesk: str) -> None:
        """End the series of a helpdesk a reload removed: its last gauges (a last successful
        cycle that never moves again, a lease held) would otherwise alert for ever."""
        for metric in vars(self).values():
            if not isinstance(metric, (Counter, Gauge, Histogram)):
                continue
            ended = set()
            for family in metric.collect():
                for sample in family.samples:
                    if sample.labels.get("helpdesk") == helpdesk:
                        # a sample's labels are the metric's, in its order (a bucket adds "le")
                        ended.add(tuple(v for k, v in sample.labels.items() if k != "le"))
            for values in ended:
                metric.remove(*values)

    def observer(self, helpdesk: str) -> _Observer:
        return _Observer(self, helpdesk)

    def render(self) -> bytes:
        return generate_latest(self.registry)
