"""The naive poller: what a team would write in an afternoon with zenpy, for comparison.

    python tests/bench/naive_poller.py SANDBOX_URL POLICY     then {"cmd": "cycle"} lines on stdin

Every cycle it searches all open tickets (zenpy's search, 100 a page), runs
each through the same engine tierlift uses (so decisions are alike and only
the I/O differs), and applies an escalation the obvious way: one update for
the group, a tags call to add the tier tag (and one to remove the old one),
one update for the internal note, one for the customer reply. It keeps no
state: no cursor, no wake-up times, no journal.

What it cannot see is part of the comparison: zenpy's search stops (with
an error in its log) at the Search API's 1,000-result cap, so in a helpdesk
with more open tickets the rest are never evaluated. Each answer says how
many tickets the cycle saw.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import datetime
from urllib.parse import urlsplit

import requests
from benchkit import TOKEN, peak_rss_mb, serve

from tierlift.connectors.zendesk.mapping import ticket_from_zendesk
from tierlift.engine.evaluate import Evaluator
from tierlift.engine.model import (
    AddTags,
    Flag,
    InternalNote,
    PublicReply,
    Reassign,
    RemoveTags,
    SetPriority,
)
from tierlift.service.daemon.policies import load_policy


class NaivePoller:
    def __init__(self, url: str, policy: str):
        # zenpy's documented way to reach a server that is not *.zendesk.com.
        os.environ["ZENPY_FORCE_SCHEME"] = urlsplit(url).scheme
        os.environ["ZENPY_FORCE_NETLOC"] = urlsplit(url).netloc
        from zenpy import Zenpy
        from zenpy.lib.api_objects import Comment

        self.Comment = Comment
        self.zenpy = Zenpy(subdomain="sandbox", email="bot@example.com", token=TOKEN)
        self.evaluator = Evaluator(load_policy(policy))
        self.groups = {g.name: g.id for g in self.zenpy.groups()}

    def cycle(self, now: datetime) -> dict[str, int]:
        seen = escalated = writes = 0
        results = self.zenpy.search(type="ticket", status_less_than="solved")
        for t in results:
            seen += 1
            decision = self.evaluator.evaluate(ticket_from_zendesk(t.to_dict()), now)
            if not decision.has_actions or decision.needs_comments:
                continue
            writes += self.apply(t, decision.actions)
            escalated += decision.tier_after != decision.tier_before
        # The search's own count: how many open tickets there were to see.
        return {"seen": seen, "open": results.count, "escalated": escalated, "writes": writes}

    def apply(self, t, actions) -> int:
        writes = 0
        for a in actions:
            if isinstance(a, Reassign):
                t.group_id = self.groups.get(a.team)
                self.zenpy.tickets.update(t)
            elif isinstance(a, AddTags | Flag):
                self.zenpy.tickets.add_tags(t.id, list(a.tags) if isinstance(a, AddTags) else [a.flag])
            elif isinstance(a, RemoveTags):
                self.zenpy.tickets.delete_tags(t.id, list(a.tags))
            elif isinstance(a, SetPriority):
                t.priority = a.priority
                self.zenpy.tickets.update(t)
            elif isinstance(a, InternalNote | PublicReply):
                t.comment = self.Comment(body=a.body, public=isinstance(a, PublicReply))
                self.zenpy.tickets.update(t)
            else:
                continue
            writes += 1
        return writes


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.CRITICAL)  # zenpy logs an error at the search cap, every cycle
    url, policy = argv
    poller = NaivePoller(url, policy)
    http = requests.Session()

    def handle(cmd: dict) -> dict:
        now = datetime.fromisoformat(http.get(f"{url}/_sandbox/clock", timeout=30).json()["now"].replace("Z", "+00:00"))
        t0 = time.perf_counter()
        out = poller.cycle(now)
        return {**out, "seconds": time.perf_counter() - t0, "rss_mb": peak_rss_mb()}

    serve(handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
