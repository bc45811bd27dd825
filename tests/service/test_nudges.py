"""The tickets webhooks name, waiting for their worker (service/daemon/nudges.py)."""

from __future__ import annotations

from tierlift.service.daemon.nudges import Nudges


def test_a_storm_of_events_for_a_few_tickets_is_one_batch_per_gap():
    clock = [0.0]
    nudges = Nudges(["zd"], gap=1.0, monotonic=lambda: clock[0])
    nudges.add("zd", "1")
    assert nudges.take("zd") == ["1"]  # the first event after a quiet spell: at once
    taken = []
    for i in range(10_000):  # 10,000 events in ten seconds, for 100 tickets
        clock[0] = 0.001 * (i + 1)
        nudges.add("zd", str(i % 100))
        taken.append(nudges.take("zd"))
    batches = [t for t in taken if t]
    assert len(batches) <= 10
    assert all(len(b) == len(set(b)) <= 100 for b in batches)
    clock[0] = 20.0
    rest = nudges.take("zd")
    assert {t for b in batches for t in b} | set(rest) == {str(i) for i in range(100)}


def test_a_named_ticket_or_a_poke_calls_the_listener_and_is_pending_until_taken():
    nudges = Nudges(["zd", "jr"])
    called: list[str] = []
    nudges.listener = called.append  # the worker pool's wake (runner.Daemon._start_workers)
    assert not nudges.pending("zd")
    nudges.add("zd", "5")
    assert called == ["zd"] and nudges.pending("zd") and not nudges.pending("jr")
    assert nudges.take("zd") == ["5"]
    assert not nudges.pending("zd")
    nudges.poke("jr")
    assert called == ["zd", "jr"] and nudges.pending("jr")


def test_a_holder_marks_rows_done_only_once_their_batch_was_acted_on():
    """relay.Inbox: the cycle asks for tickets again only after acting on the last batch, so
    that ask marks the batch's rows done; a batch handed out to a cycle that failed is
    dropped unmarked and read again; a poke (a NOTIFY) makes the next take look at the rows."""
    from tierlift.service.daemon.relay import Inbox, Relay

    class Rows:
        def __init__(self):
            self.rows = {"k1": "7", "k2": "7", "k3": "9"}

        def nudges_waiting(self, helpdesk, limit=10_000):
            return list(self.rows.items())

        def nudges_done(self, helpdesk, keys):
            for k in keys:
                self.rows.pop(k, None)
            return len(keys)

    clock = [0.0]
    nudges = Nudges(["zd"], gap=1.0, monotonic=lambda: clock[0])
    relay, store = Relay(None, nudges), Rows()
    inbox = Inbox(relay, "zd")
    inbox.claimed(1)  # a lease taken: look at once
    assert inbox.take(store) == ["7", "9"]  # coalesced per ticket
    inbox.drop()  # the cycle failed before acting: nothing marked
    assert set(store.rows) == {"k1", "k2", "k3"}
    nudges.poke("zd")
    clock[0] = 2.0
    assert inbox.take(store) == ["7", "9"]
    assert inbox.take(store) == [] and store.rows == {}  # asked again: the batch was acted on
    assert relay.consumed == 3
