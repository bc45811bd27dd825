"""Notifications go through the connectors' retry layer (connectors/retry.py).

So a receiver's Retry-After is honoured the same way as a helpdesk's (waited
when within the cap, never cut short, refused at once beyond it), and the
wait ends when the daemon is asked to stop. The webhook's `sent_at` is the
daemon's clock, not the wall clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.retry import Interrupted, bind_stop
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.config import ChannelConfig
from tierlift.service.ops.notify import Notifier, NotifyError

from kit import Receiver, cli, run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


def webhook(url: str) -> dict[str, ChannelConfig]:
    return {"w": ChannelConfig("w", "webhook", url, Secret("signing-secret-77"))}


def test_a_retry_after_beyond_the_cap_is_not_cut_short_but_refused_at_once():
    """The old loop waited min(Retry-After, 30 s) and asked again before the receiver allowed it."""
    rx = Receiver([(429, "120")])
    waits: list[float] = []
    try:
        n = Notifier(webhook(rx.url), sleep=waits.append, now=lambda: NOW)
        with pytest.raises(NotifyError) as exc:
            n.send("w", "s", "b", dedup_key="k1")
        assert len(rx.got) == 1 and waits == []
        assert "Retry-After 120s exceeds the 30s cap" in str(exc.value) and "signing-secret-77" not in str(exc.value)
    finally:
        rx.close()


def test_a_notification_wait_ends_when_the_daemon_stops():
    """The waits are the retry layer's interruptible ones (bound per worker thread by the runner)."""
    rx = Receiver([(503, "5")])
    stop = threading.Event()
    stop.set()
    bind_stop(stop)
    try:
        with pytest.raises(Interrupted):
            Notifier(webhook(rx.url), now=lambda: NOW).send("w", "s", "b", dedup_key="k2")
        assert len(rx.got) == 1
    finally:
        bind_stop(None)
        rx.close()


def test_the_webhooks_sent_at_is_the_daemons_clock(tmp_path):
    """The sandbox's clock stands weeks before the wall clock: a rehearsal's notifications say its time."""
    rx = Receiver()
    try:
        with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
            # Every channel the pack notifies is a webhook here (each message carries sent_at).
            channels = {name: {"kind": "webhook", "url": rx.url + "/hook", "secret": "${HOOK_SECRET}"}
                        for name in ("pagerduty", "slack_oncall", "slack_channel")}
            config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url, channels=channels)
            proc = run_once(config, HOOK_SECRET="hook-secret-0042")
            assert proc.returncode == 0, proc.stderr
        sent = {g["json"]["sent_at"] for g in rx.got if g["path"] == "/hook"}
        assert sent, "the pack notifies on escalations"
        days = {datetime.fromisoformat(s.replace("Z", "+00:00")).date() for s in sent}
        assert days == {NOW.date()}, sent
    finally:
        rx.close()


def test_a_dry_run_never_sends_the_notifications_a_live_run_left_to_retry(tmp_path):
    """QA (hardening, 4 of 4): the live run's pages failed and waited for their retry; a
    `run --once --dry-run` then sent all of them (its private copy of the state holds the live
    journal), and the next live run sent them again."""
    rx = Receiver([400] * 200)  # every page of the live run fails: kept to retry
    try:
        with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
            channels = {name: {"kind": "webhook", "url": rx.url + "/hook", "secret": "${HOOK_SECRET}"}
                        for name in ("pagerduty", "slack_oncall", "slack_channel")}
            config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url, channels=channels)
            assert run_once(config, HOOK_SECRET="hook-secret-0042").returncode == 0
            failed = len(rx.got)
            assert failed, "the pack pages on its escalations"
            rx.statuses = []  # the receiver is back
            proc = run_once(config, "--dry-run", HOOK_SECRET="hook-secret-0042")
            assert proc.returncode == 0, proc.stderr
            assert len(rx.got) == failed, "a dry run sent pages"
            sb.control("POST", "clock", {"advance_seconds": 31})  # a failed page waits 30 s
            assert run_once(config, HOOK_SECRET="hook-secret-0042").returncode == 0
            kept = [g["json"]["dedup_key"] for g in rx.got[:failed]]
            again = [g["json"]["dedup_key"] for g in rx.got[failed:]]
            assert sorted(again) == sorted(kept)  # the live run sends what it kept to retry, once
    finally:
        rx.close()


def _p0_desk(tmp_path, sb, rx):
    created = (NOW - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    sb.control("POST", "tickets", {"tickets": [{"subject": "Checkout down", "tags": ["p0"], "created_at": created,
                                                "description": "Checkout is down for every customer."}]})
    channels = {name: {"kind": "webhook", "url": rx.url + f"/{name}", "secret": "${HOOK_SECRET}"}
                for name in ("pagerduty", "slack_oncall", "slack_channel")}
    return write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url, channels=channels)


def _pages(rx):
    return [g for g in rx.got if g["path"] == "/pagerduty"]


def test_a_page_that_failed_for_longer_than_eight_cycles_is_sent_when_the_receiver_is_back(tmp_path):
    """QA (on call, 2 of 2): a page failed on each of 8 cycles (40 s at a 5 s poll) and was then
    never tried again, though the receiver came back: the P0 was never paged, and nothing said so.
    Now a failed page waits 30 s, then 1, 2, 4, 8 and 15 minutes between tries, for a day."""
    rx = Receiver([400] * 100)
    try:
        with Sandbox("zendesk", tickets=0, seed=7, now=NOW) as sb:
            config = _p0_desk(tmp_path, sb, rx)
            for _ in range(10):
                r = run_once(config, HOOK_SECRET="hook-secret-0042")
                assert r.returncode == 0, r.stderr
                sb.control("POST", "clock", {"advance_seconds": 16 * 60})
            assert len(_pages(rx)) == 10, "one try per run once its wait is over"
            assert "notification failed" in r.stdout + r.stderr and "tried again in 900s" in r.stdout + r.stderr
            rx.statuses = []  # PagerDuty is back
            r = run_once(config, HOOK_SECRET="hook-secret-0042")
            assert len(_pages(rx)) == 11 and rx.got[-1]["path"] == "/pagerduty", "the page went out once it could"
            assert "notification sent" in r.stdout + r.stderr and "after 10 failed attempt(s)" in r.stdout + r.stderr
            sb.control("POST", "clock", {"advance_seconds": 16 * 60})
            run_once(config, HOOK_SECRET="hook-secret-0042")
            assert len(_pages(rx)) == 11, "sent once"
    finally:
        rx.close()


def test_a_page_is_not_tried_again_before_its_wait_and_is_given_up_after_a_day_with_an_error(tmp_path):
    rx = Receiver([400] * 100)
    try:
        with Sandbox("zendesk", tickets=0, seed=7, now=NOW) as sb:
            config = _p0_desk(tmp_path, sb, rx)
            run_once(config, HOOK_SECRET="hook-secret-0042")
            assert len(_pages(rx)) == 1
            run_once(config, HOOK_SECRET="hook-secret-0042")
            assert len(_pages(rx)) == 1, "tried again before its 30 s were over"
            told = cli("status", "--config", str(config)).stdout  # QA (on call): a lost page showed nowhere
            assert "not notified:    1 message(s) not delivered yet, still tried" in told, told
            # ...naming the ticket, not only the escalation id (QA, on call)
            assert "pagerduty for ticket 1 (escalation " in told and "HTTP 400" in told, told
            sb.control("POST", "clock", {"advance_seconds": 25 * 3600})
            r = run_once(config, HOOK_SECRET="hook-secret-0042")
            assert len(_pages(rx)) == 1, "a page a day late is not sent"
            log = r.stdout + r.stderr
            assert "ERROR" in log and "notification given up" in log and "channel=pagerduty" in log, log
            story = cli("history", "--config", str(config), "1", "--offline")
            assert "not sent: given up after 1 attempt(s) over 1 day" in story.stdout, story.stdout
            told = cli("status", "--config", str(config)).stdout  # QA: listed as "not delivered yet", 2 attempts
            assert "given up:        1 message(s) never delivered, no longer tried" in told, told
            assert "pagerduty for ticket 1 (escalation " in told, told
            assert "not notified" not in told, told
            r = run_once(config, HOOK_SECRET="hook-secret-0042")
            assert "notification given up" not in r.stdout + r.stderr, "said once"
    finally:
        rx.close()


def test_a_page_whose_next_try_would_come_after_its_day_is_given_up_at_its_last_failure(tmp_path):
    """Its last failure (at 23 h 59 min 30 s) said "tried again in 60s", and that try never came:
    the next look gave it up without trying. The last failure now says it is given up."""
    rx = Receiver([400] * 100)
    try:
        with Sandbox("zendesk", tickets=0, seed=7, now=NOW) as sb:
            config = _p0_desk(tmp_path, sb, rx)
            run_once(config, HOOK_SECRET="hook-secret-0042")
            sb.control("POST", "clock", {"advance_seconds": 23 * 3600 + 59 * 60 + 30})
            r = run_once(config, HOOK_SECRET="hook-secret-0042")
            assert len(_pages(rx)) == 2, "tried once more within its day"
            log = r.stdout + r.stderr
            assert "notification given up" in log and "given up after 2 attempt(s) over 1 day" in log, log
            assert "tried again in" not in log, log
            told = cli("status", "--config", str(config)).stdout
            assert "given up:        1 message(s) never delivered, no longer tried" in told, told
    finally:
        rx.close()


def test_a_channel_without_customer_words_gets_none_of_the_tickets_words(tmp_path):
    """QA (a data-protection officer, 3 of 3): teamflow's outage message carries the ticket's
    description, and Slack's summary block, PagerDuty's custom_details and the webhook's
    ticket object carry its subject and the quoted sentence whatever the template: a third
    party's name, phone and card number went to Slack and PagerDuty. `customer_words: false`
    leaves the ticket's id, link, tier change and rule."""
    rx = Receiver()
    words = ("John Doe", "415 555 0101", "4111 1111 1111 1111", "Checkout down")
    try:
        with Sandbox("zendesk", tickets=0, seed=7, now=NOW) as sb:
            sb.control("POST", "tickets", {"tickets": [{
                "subject": "Checkout down", "created_at": "2026-11-02T18:58:00Z",
                "description": "Complete outage: our production site is down and returns 503 for all our users"
                               " since 9am. Our admin John Doe (415 555 0101) saw it first. Card 4111 1111 1111 1111"
                               " was declined."}]})
            kinds = {"slack": {"kind": "slack", "webhook_url": "${SLACK_URL}"},
                     "pagerduty": {"kind": "pagerduty", "url": rx.url + "/pd", "routing_key": "${PD_KEY}"},
                     "webhook": {"kind": "webhook", "url": rx.url + "/hook", "secret": "${HOOK_SECRET}"}}
            names = ("outage-response", "pagerduty", "security-alerts", "support-escalation", "customer-success")
            cycle = list(kinds.values())
            channels = {n: {**cycle[i % 3], "customer_words": False} for i, n in enumerate(names)}
            config = write_config(tmp_path, [helpdesk("hd", sb, policy="teamflow")], clock_url=sb.url,
                                  channels=channels)
            proc = run_once(config, SLACK_URL=rx.url + "/slack", PD_KEY="pd-key-0042", HOOK_SECRET="hook-secret-0042")
            assert proc.returncode == 0, proc.stderr
            assert "tier_l" in " ".join(t for t in sb.data.tickets[1]["tags"]), "escalated"
            story = cli("history", "--config", str(config), "1", "--offline").stdout
        # history shows what was sent, not the policy's text (QA: it showed the card number)
        told = [x for x in story.splitlines() if "notify " in x]
        assert told and not [(w, x) for x in told for w in words if w in x], told
        sent = [g["raw"].decode() for g in rx.got]
        assert sent, "the outage was paged"
        leaked = [(w, s[:300]) for s in sent for w in words if w in s]
        assert leaked == [], leaked
        assert all("Ticket 1" in s for s in sent), sent[0][:500]
    finally:
        rx.close()


def test_history_shows_a_page_without_customer_words_as_it_was_sent(tmp_path):
    """QA (on call, retest, 2 of 2): PagerDuty got "[P0] [L1 -> L3] Ticket 1 on hd: rule
    severity-p0", and history listed "notify pagerduty: [P0] Ticket 1: Jane Doe card 4111 ..."."""
    rx = Receiver()
    try:
        with Sandbox("zendesk", tickets=0, seed=7, now=NOW) as sb:
            sb.control("POST", "tickets", {"tickets": [{
                "subject": "Jane Doe card 4111 1111 1111 1111", "tags": ["p0"], "created_at": "2026-11-02T18:58:00Z",
                "description": "Checkout is down for everyone."}]})
            channels = {n: {"kind": "pagerduty", "url": rx.url + "/pd", "routing_key": "${PD_KEY}",
                            "customer_words": False} for n in ("pagerduty", "slack_oncall", "slack_channel")}
            config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url, channels=channels)
            # plan shows what would be sent (QA, a privacy auditor: it showed the card number)
            planned = [x for x in cli("plan", "--config", str(config), PD_KEY="pd-key-0042").stdout.splitlines()
                       if "notify " in x]
            assert planned and not [x for x in planned if "4111" in x or "Jane" in x], planned
            assert run_once(config, PD_KEY="pd-key-0042").returncode == 0
            story = cli("history", "--config", str(config), "1", "--offline").stdout
        sent = [g["json"]["payload"]["summary"] for g in rx.got]
        assert sent == ["[P0] [L1 -> L3] Ticket 1 on hd: rule severity-p0"], sent
        told = [x for x in story.splitlines() if "notify pagerduty" in x]
        assert told and all("Jane Doe" not in x and "4111" not in x for x in told), told
        assert "[L1 -> L3] Ticket 1 on hd: rule severity-p0" in told[0], told
    finally:
        rx.close()


class _Slow:
    """A receiver that takes each request and answers `delay` seconds later (a hung Slack)."""

    def __init__(self, delay: float):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.got: list[str] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                """Quiet."""

            def do_POST(self):
                outer.got.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_a_receiver_that_hangs_gets_each_message_once_a_cycle(tmp_path):
    """QA (on call, retest): a receiver that took each request and answered 40 s later got the
    same Slack message four times: each send tried three times with a 10 s timeout, in the
    cycle, before the journal's own retry, and held the cycle 30 s per message (a P0 waited
    behind them). The daemon now tries once per cycle; the journal tries again later."""
    rx = _Slow(delay=12.0)
    try:
        with Sandbox("zendesk", tickets=0, seed=7, now=NOW) as sb:
            sb.control("POST", "tickets", {"tickets": [{"subject": "Checkout down", "tags": ["p0"],
                                                        "created_at": "2026-11-02T18:58:00Z",
                                                        "description": "Checkout is down for everyone."}]})
            channels = {n: {"kind": "slack", "webhook_url": "${SLACK_URL}"}
                        for n in ("pagerduty", "slack_oncall", "slack_channel")}
            config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url, channels=channels)
            r = run_once(config, SLACK_URL=rx.url + "/slack")
            assert r.returncode == 0, r.stderr
            assert "tier_l3" in sb.data.tickets[1]["tags"]
        assert len(rx.got) == 1, f"{len(rx.got)} copies of one message"
        assert "no answer in time" in r.stdout + r.stderr or "Timeout" in r.stdout + r.stderr, r.stderr[-2000:]
    finally:
        rx.close()


def test_a_log_channel_writes_none_of_the_tickets_words_to_the_log(tmp_path):
    """QA (a privacy auditor): docs/privacy.md says the logs carry no customer words at any
    level, and a `kind: log` channel (the sandbox's stand-in for every channel) wrote the
    ticket's subject into the INFO line, and with a template its description and the
    requester's email."""
    words = ("Olive Quixote", "olive@customer.example", "lawsuit against Olive", "Hollis v. Reyes")
    with Sandbox("zendesk", tickets=0, seed=7, now=NOW) as sb:
        sb.control("POST", "tickets", {"tickets": [{
            "subject": "lawsuit against Olive", "created_at": "2026-11-02T18:58:00Z",
            "description": "Our attorney Olive Quixote (olive@customer.example) will file legal action in"
                           " Hollis v. Reyes unless you answer."}]})
        names = ("outage-response", "pagerduty", "security-alerts", "support-escalation", "customer-success")
        channels = {n: {"kind": "log", **({"template": {"subject": "{subject} | {summary}", "body": "{body}"}}
                                          if n == "customer-success" else {})} for n in names}
        config = write_config(tmp_path, [helpdesk("hd", sb, policy="teamflow")], clock_url=sb.url, channels=channels)
        proc = run_once(config)
        assert proc.returncode == 0, proc.stderr
    told = [line for line in proc.stderr.splitlines() if "notify channel=" in line]
    assert told, "the legal threat was escalated and its channel told"
    assert not [(w, line) for line in told for w in words if w in line], told
    assert all("Ticket 1" in line for line in told), told
