"""A ticket the engine fails on, with an error nobody foresaw, is quarantined; its page and
the helpdesk's other tickets flow. Before: only the errors bad data was known to raise
(ValueError, KeyError, ...) were quarantined; an IndexError (the triage explanation's, on
an ellipsis character) ended every cycle at the same ticket, so the helpdesk stalled."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.engine.evaluate import Evaluator
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.cycle import HelpdeskCycle
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.state import StateStore
from tierlift.service.ops.metrics import Metrics

from servicekit import zendesk_notes

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # Monday 14:00 in New York: business hours


def test_a_ticket_the_engine_fails_on_is_quarantined_and_the_others_are_escalated(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, "tierlift.cycle")
    with Sandbox("zendesk", tickets=30, seed=7, now=NOW) as sb:
        connector = ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n"), backoff=0.01))
        connector.open()
        victim = next(t for p in connector.changes(None) for t in p.tickets if not t.is_closed).id
        evaluate = Evaluator.evaluate

        def failing(self, ticket, now):  # type: ignore[no-untyped-def]
            if ticket.id == victim:
                raise IndexError("list index out of range")
            return evaluate(self, ticket, now)

        monkeypatch.setattr(Evaluator, "evaluate", failing)
        store = StateStore(tmp_path / "state.sqlite3")
        cfg = HelpdeskConfig("hd", "zendesk", sb.url, "bot@example.com", Secret("t0k3n"), "three-tier",
                             load_policy("three-tier"), False, {})
        try:
            metrics = Metrics()
            stats = HelpdeskCycle(cfg, connector, store, metrics=metrics).run(NOW)
            quarantined = store.quarantined("hd")
        finally:
            store.close()
            connector.close()
        assert stats.quarantined == 1 and stats.escalations > 0
        assert [(q.ticket_id, q.error.split(": list")[0]) for q in quarantined] == [
            (victim, "EngineFailed: the engine failed on this ticket: IndexError")]
        # Counted apart from the helpdesk's bad tickets: it is tierlift's bug, to alert on.
        assert metrics.registry.get_sample_value("tierlift_engine_failures_total", {"helpdesk": "hd"}) == 1
        assert not zendesk_notes(sb, int(victim))
        noted = [t for t in sb.store.tickets if str(t) != victim and zendesk_notes(sb, int(t))]
        assert len(noted) > 10  # the rest of the page (and the helpdesk) flowed
        # The traceback, for whoever reports the bug, at debug level.
        failed = [r for r in caplog.records if r.getMessage().startswith("engine failed")]
        assert len(failed) == 1 and failed[0].exc_info and failed[0].exc_info[0] is IndexError


@pytest.mark.parametrize("error", [ValueError("bad date"), KeyError("status")])
def test_errors_bad_data_is_known_to_raise_keep_their_own_words(tmp_path, monkeypatch, error):
    with Sandbox("zendesk", tickets=5, seed=7, now=NOW) as sb:
        connector = ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n"), backoff=0.01))
        connector.open()

        def failing(self, ticket, now):  # type: ignore[no-untyped-def]
            raise error

        monkeypatch.setattr(Evaluator, "evaluate", failing)
        store = StateStore(tmp_path / "state.sqlite3")
        cfg = HelpdeskConfig("hd", "zendesk", sb.url, "bot@example.com", Secret("t0k3n"), "three-tier",
                             load_policy("three-tier"), False, {})
        try:
            metrics = Metrics()
            HelpdeskCycle(cfg, connector, store, metrics=metrics).run(NOW)
            errors = {q.error for q in store.quarantined("hd")}
        finally:
            store.close()
            connector.close()
        assert errors == {f"{error.__class__.__name__}: {error}"}
        assert not metrics.registry.get_sample_value("tierlift_engine_failures_total", {"helpdesk": "hd"})
