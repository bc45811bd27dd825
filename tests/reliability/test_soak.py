"""Suite 7: soak. The daemon runs a bounded number of cycles against a helpdesk
whose clock runs 600x and whose tickets change all the time (customers follow
up, new tickets arrive, agents solve old ones), so every cycle reads changes,
escalations happen, and the journal keeps growing unless it is compacted.
After warm-up, the daemon's resident memory grows by less than 10%, the state
file stays bounded (settled journal entries older than the retention go), and
no escalation note is ever written twice.
"""

from __future__ import annotations

import random
import re
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from statistics import median

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tierlift.sandbox.store import NOISE
from tierlift.service.daemon.runner import COMPACT_EVERY

from kit import MARKER, Daemon, free_port, write_config
from reliakit import BACKLOG_TEXTS, NOW, helpdesk, record, seeded_sandbox, size

CYCLES = size(150, 2000)
# Helpdesk seconds per real second: a business day passes in 48 s (12 s in the short
# run, which must still see compactions: they run every 6 helpdesk hours).
SPEED = float(size(2400, 600))
RETENTION = timedelta(hours=2)  # helpdesk time


class Churn(threading.Thread):
    """The helpdesk's people: follow-ups on open tickets, new tickets, old ones solved."""

    def __init__(self, sb):
        super().__init__(daemon=True)
        self.sb, self.stop, self.rng, self.changes = sb, threading.Event(), random.Random(5), 0

    def run(self) -> None:
        st = self.sb.store
        i = 0
        while not self.stop.wait(0.05):
            i += 1
            self.changes += len(st.churn(2, i))
            # One new ticket in four asks for a manager: escalated at once, day or night,
            # so the journal grows all the time and compaction has work.
            subject, description = BACKLOG_TEXTS[-1] if i % 4 == 0 else self.rng.choice(NOISE)
            st.add_ticket(subject, description, self.sb.clock.now())
            with st.lock:
                open_ids = [tid for tid, t in st.tickets.live.items() if t["status"] in ("new", "open")]
            if len(open_ids) > 250:  # agents keep the queue about this long
                st.update(min(open_ids), {"ticket": {"status": "solved"}})
            self.changes += 2


def cycles(port: int) -> int:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return int(sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == "tierlift_cycle_duration_seconds_count"))


def state_bytes(folder) -> int:
    return sum(p.stat().st_size for p in folder.glob("state.sqlite3*"))


@pytest.mark.slow
def test_soak_memory_and_state_stay_bounded(tmp_path):
    sb = seeded_sandbox(100, generated=150, now=NOW, clock_speed=SPEED)
    churn = Churn(sb)
    port = free_port()
    config = write_config(tmp_path, [helpdesk(sb, page_size=100)], clock_url=sb.url, poll="0.05s",
                          journal_retention=f"{RETENTION.seconds // 3600}h", http={"listen": f"127.0.0.1:{port}"})
    d = Daemon(config, tmp_path / "daemon.log")
    samples: list[tuple[int, int, int]] = []  # (cycle, rss bytes, state bytes)
    started = time.monotonic()
    try:
        assert d.wait_for("health and metrics on", timeout=60), d.output()[-3000:]
        churn.start()
        proc = psutil.Process(d.pid)
        n = 0
        while n < CYCLES:
            assert d.alive(), d.output()[-3000:]
            time.sleep(0.5)
            n = cycles(port)
            samples.append((n, proc.memory_info().rss, state_bytes(tmp_path)))
        churn.stop.set()
        churn.join()
        code, _ = d.terminate()
        helpdesk_now = sb.clock.now()
    finally:
        churn.stop.set()
        d.kill()
        sb.stop()
    out = d.output()
    assert code == 0, out[-3000:]
    assert "Traceback" not in out
    # Warm-up: the first quarter of the cycles (first sync, caches, the first compaction).
    warm = [s for s in samples if CYCLES * 0.25 <= s[0] <= CYCLES * 0.35] or samples[len(samples) // 4:][:3]
    last = samples[-max(3, len(samples) // 10):]
    rss_warm, rss_end = median(s[1] for s in warm), median(s[1] for s in last)
    growth = (rss_end - rss_warm) / rss_warm
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        journal = db.execute("SELECT COUNT(*) FROM journal").fetchone()[0]
        oldest = db.execute("SELECT MIN(COALESCE(done_at, created_at)) FROM journal WHERE status != 'pending'").fetchone()[0]
    ids: dict[str, int] = {}
    with sb.store.lock:
        for comments in sb.store.comments.live.values():
            for c in comments:
                if m := MARKER.search(c["body"]):
                    ids[m[1]] = ids.get(m[1], 0) + 1
    compactions = len(re.findall(r"compacted helpdesk=hd rows=(\d+)", out))
    compacted_rows = sum(int(x) for x in re.findall(r"compacted helpdesk=hd rows=(\d+)", out))
    state_warm, state_end = max(s[2] for s in warm), max(s[2] for s in last)
    record("soak", cycles=samples[-1][0], seconds=round(time.monotonic() - started, 1), ticket_changes=churn.changes,
           escalations=sum(ids.values()), duplicated=sum(n - 1 for n in ids.values() if n > 1),
           rss_warm_mb=round(rss_warm / 2**20, 1), rss_end_mb=round(rss_end / 2**20, 1),
           rss_growth_pct=round(100 * growth, 1), state_warm_kb=state_warm // 1024,
           state_end_kb=state_end // 1024, state_max_kb=max(s[2] for s in samples) // 1024,
           journal_rows_end=journal, oldest_settled_journal_entry=oldest, compactions=compactions,
           compacted_rows=compacted_rows)
    assert samples[-1][0] >= CYCLES
    assert not [i for i, n in ids.items() if n > 1], "an escalation note was written twice"
    assert growth < 0.10, f"resident memory grew {100 * growth:.1f}% after warm-up"
    assert compactions >= 1 and compacted_rows > 0, "the journal was never compacted"
    age = helpdesk_now - datetime.fromisoformat(oldest) if oldest else timedelta(0)
    assert age <= RETENTION + COMPACT_EVERY + timedelta(hours=1), f"a settled journal entry {age} old is still kept"
    assert state_end <= 2 * state_warm + 1_000_000, f"the state file grew from {state_warm} to {state_end} bytes"
