"""A cycle's work leaves nothing for the interpreter's full collection to find.

Objects that refer to each other are freed only by CPython's cyclic collector, and
its full collection stops every thread for as long as it walks them: with 100
helpdesks the evaluators of finished cycles (their caches of what each ticket
showed), tenacity's objects of every read and the triage model's explanations
took it to 200-440 ms during first syncs, and the health answers waited that long
(docs/performance.md, "Health answers"). Each test counts what the collector
would have had to free (DEBUG_SAVEALL keeps it in gc.garbage), around the work a
daemon does thousands of times a minute.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.retry import Retry
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.cycle import HelpdeskCycle
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.state import StateStore

MON_10 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York


@contextmanager
def cyclic_garbage(*modules: str) -> Iterator[Counter[str]]:
    """The types, from `modules`, of the objects only the cyclic collector would free, made
    inside (other tests' threads and servers may still be dropping garbage of their own while
    one of these runs: only the work's own kinds are counted)."""
    found: Counter[str] = Counter()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.update(type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith(modules))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        gc.collect()


def test_reads_through_the_retry_layer_leave_no_cyclic_garbage():
    retry = Retry(attempts=3, backoff=0.0)
    retry.call(lambda: 1)  # anything made once, on first use
    with cyclic_garbage("tenacity", "tierlift.connectors") as found:
        for _ in range(200):
            assert retry.call(lambda: 7) == 7
    assert sum(found.values()) == 0, found.most_common(8)


def test_a_finished_cycle_leaves_no_cyclic_garbage_of_its_decisions(tmp_path):
    """The daemon keeps the last cycle (for tickets webhooks name) and drops the one before:
    its evaluator's cache must be gone by then, not wait for a full collection."""
    with Sandbox("zendesk", tickets=60, seed=5, now=MON_10, clock_speed=0) as sb:
        cfg = HelpdeskConfig("hd", "zendesk", sb.url, "bot@example.com", Secret("t0k3n"), "three-tier",
                             load_policy("three-tier"), False, {})
        connector = ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n"), backoff=0.01))
        connector.open()
        store = StateStore(tmp_path / "state.sqlite3", now=sb.clock.now)
        sb.clock.set(MON_10 + timedelta(minutes=2), 0.0)
        with cyclic_garbage("tierlift.engine", "tierlift.service", "tierlift.triage") as found:
            # The first sync decides all 60 tickets; the cycle is then dropped, as the
            # daemon drops the one before its last.
            HelpdeskCycle(cfg, connector, store, show_progress=False).run(sb.clock.now())
        connector.close()
        store.close()
    decisions = {k: v for k, v in found.items() if k in ("_Facts", "ClockPlan", "FirstResponse", "_QuietAnswer")}
    assert not decisions, f"a finished cycle's decisions waited for the cyclic collector: {decisions}"


def test_a_reading_with_its_explanation_leaves_no_cyclic_garbage():
    pytest.importorskip("numpy")
    from tierlift.triage.model import CachedClassifier, load_shipped

    classifier = CachedClassifier(load_shipped(), size=5)
    texts = [f"Our whole production site is down since {n} minutes, every customer gets a 503." for n in range(40)]
    classifier.classify(texts[0]).words.get("outage")  # the model's own first-use state
    with cyclic_garbage("tierlift.triage", "tierlift.engine") as found:
        for text in texts[1:]:
            verdict = classifier.classify(text)  # five kept: the rest are dropped as they go
            dict(verdict.words)
    assert sum(found.values()) == 0, found.most_common(8)
