"""Suite 3: poison tickets. Malformed ticket shapes (missing or null fields,
unknown statuses, dates in the future or unparseable, huge or binary-looking
text, bad sideloaded metrics and comments, duplicated ids, tickets deleted
between the daemon's read and its write) are placed among good ones, spread
over the export's pages. Each is quarantined (a deleted one dropped) with a log
line that names the ticket and says what is wrong; none is ever written; the
good ones are escalated exactly once; the loop keeps cycling.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from kit import Daemon, cli, write_config
from reliakit import (
    assert_exactly_once,
    exactly_once_reference,
    helpdesk,
    outcome,
    record,
    seeded_sandbox,
    size,
)

GOOD = size(100, 400)
FIRST_ID = 90001


def _without(key: str) -> Callable[[dict], None]:
    return lambda t: t.pop(key, None)


def _set(key: str, value: Any) -> Callable[[dict], None]:
    return lambda t: t.__setitem__(key, value)


def _future(days: int) -> Callable[[dict], None]:
    def change(t: dict) -> None:
        t["created_at"] = t["updated_at"] = (NOW_REF[0] + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return change


NOW_REF: list[Any] = [None]  # the sandbox's time, set when the suite starts
BINARY = "".join(chr(c) for c in range(1, 32)) * 40
# (name, change to a copy of a good due ticket, extra: "metrics" / "comments" / None, what the log must say)
SHAPES: list[tuple[str, Callable[[dict], None], Any, str]] = [
    ("id-missing", _without("id"), None, "id is not a number"),
    ("id-null", _set("id", None), None, "id is not a number"),
    ("id-text", _set("id", "abc"), None, "id is not a number"),
    ("id-numeric-text", _set("id", "123456"), None, "id is not a number"),
    ("id-float", _set("id", 1.5), None, "id is not a number"),
    ("id-bool", _set("id", False), None, "id is not a number"),
    ("id-huge-float", _set("id", 1e30), None, "id is not a number"),
    ("status-missing", _without("status"), None, "unknown status"),
    ("status-null", _set("status", None), None, "unknown status"),
    ("status-unknown", _set("status", "exploded"), None, "unknown status 'exploded'"),
    ("status-number", _set("status", 3), None, "unknown status"),
    ("status-uppercase", _set("status", "OPEN"), None, "unknown status 'OPEN'"),
    ("status-empty", _set("status", ""), None, "unknown status"),
    ("created-missing", _without("created_at"), None, "created_at is missing"),
    ("created-null", _set("created_at", None), None, "created_at is missing"),
    ("created-empty", _set("created_at", ""), None, "created_at is missing"),
    ("created-words", _set("created_at", "yesterday-ish"), None, "created_at is not an ISO 8601 date"),
    ("created-number", _set("created_at", 1700000000), None, "created_at is not a date"),
    ("created-impossible", _set("created_at", "2026-13-45T99:00:00Z"), None, "created_at is not an ISO 8601 date"),
    ("created-far-future", _future(365 * 900), None, "created_at 2926-"),
    ("created-next-week", _future(7), None, "in the future"),
    ("created-list", _set("created_at", ["2026-01-01"]), None, "created_at is not a date"),
    ("created-year-one", _set("created_at", "0001-01-02T00:00:00Z"), None, "created_at 0001-01-02 00:00 is before 1970"),
    ("updated-missing", _without("updated_at"), None, "updated_at is missing"),
    ("updated-words", _set("updated_at", "last tuesday"), None, "updated_at is not an ISO 8601 date"),
    ("updated-before-created", _set("updated_at", "2001-01-01T00:00:00Z"), None, "updated_at is before created_at"),
    ("updated-number", _set("updated_at", 17), None, "updated_at is not a date"),
    ("updated-far-future", _set("updated_at", "9999-12-31T23:59:59Z"), None, "in the future"),
    ("tags-text", _set("tags", "p0,p1"), None, "tags is not a list of strings"),
    ("tags-null-item", _set("tags", ["vip", None]), None, "tags is not a list of strings"),
    ("tags-number-item", _set("tags", [5]), None, "tags is not a list of strings"),
    ("tags-mapping", _set("tags", {"p0": True}), None, "tags is not a list of strings"),
    ("priority-unknown", _set("priority", "critical"), None, "unknown priority 'critical'"),
    ("priority-number", _set("priority", 1), None, "unknown priority"),
    ("subject-number", _set("subject", 42), None, "subject is not text"),
    ("subject-list", _set("subject", ["help"]), None, "subject is not text"),
    ("subject-binary", _set("subject", "\x00\x01\x02 PK\x03\x04"), None, "subject looks like binary data"),
    ("subject-huge", _set("subject", "A" * 1_500_000), None, "over the 1,000,000 limit"),
    ("description-huge", _set("description", "lorem ipsum " * 200_000), None, "over the 1,000,000 limit"),
    ("description-nul", _set("description", "report.pdf\x00\x00%PDF-1.4"), None, "description looks like binary data"),
    ("description-control", _set("description", BINARY), None, "description looks like binary data"),
    ("description-mapping", _set("description", {"text": "hello"}), None, "description is not text"),
    ("description-number", _set("description", 7), None, "description is not text"),
    ("description-bool", _set("description", True), None, "description is not text"),
    ("metrics-status-time", None, {"status_updated_at": "soon"}, "metric_set.status_updated_at is not an ISO"),
    ("metrics-solved-time", None, {"solved_at": 12}, "metric_set.solved_at is not a date"),
    ("metrics-reopens-text", None, {"reopens": "many"}, "reopens"),
    ("metrics-reopens-list", None, {"reopens": [1]}, "reopens"),
    ("metrics-reply-time-text", None, {"reply_time_in_minutes": "fast"}, "reply_time_in_minutes"),
    ("metrics-reply-minutes-text", None, {"reply_time_in_minutes": {"calendar": "ten"}}, "reply_time_in_minutes"),
    ("metrics-reply-minutes-huge", None, {"reply_time_in_minutes": {"calendar": 1e20}}, "reply_time_in_minutes"),
    ("comment-binary", _set("tags", ["escalate"]), [{"body": "\x00\x01\x02\x03binary"}], "comment body looks like binary"),
    ("comment-huge", _set("tags", ["escalate"]), [{"body": "x" * 1_200_000}], "comment body is"),
    ("comment-created-words", _set("tags", ["escalate"]), [{"created_at": "at noon"}], "comment created_at is not"),
    ("comment-body-mapping", _set("tags", ["escalate"]), [{"body": {"text": "hi"}}], "comment body is not text"),
    ("duplicate-id-1", None, "duplicate", "appears twice"),
    ("duplicate-id-2", None, "duplicate", "appears twice"),
    ("deleted-before-write-1", None, "delete", "was deleted"),
    ("deleted-before-write-2", None, "delete", "was deleted"),
    ("deleted-before-write-3", None, "delete", "was deleted"),
]


def test_there_are_at_least_fifty_shapes():
    assert len(SHAPES) >= 50
    assert len({s[0] for s in SHAPES}) == len(SHAPES)


@pytest.mark.slow
def test_poison_tickets_are_quarantined_and_the_good_ones_flow(tmp_path):
    sb = seeded_sandbox(GOOD, generated=size(60, 200))
    try:
        _run(sb, tmp_path)
    finally:
        sb.stop()


def _place(sb) -> tuple[dict[str, str], set[str]]:
    """Put every shape into the helpdesk; returns {shape: ticket id as logged} and the
    good tickets that poison touches (duplicated or deleted), left out of the good set."""
    st = sb.store
    NOW_REF[0] = sb.clock.now()
    exp = exactly_once_reference(sb)
    due = sorted({int(k[0]) for k in exp.escalations}, reverse=True)  # backlog first
    where: dict[str, str] = {}
    touched: set[str] = set()
    for i, (name, change, extra, _) in enumerate(SHAPES):
        template = st.tickets[due[i]]
        if extra == "delete":
            sb.delete_on_write.add(str(due[i]))
            where[name] = str(due[i])
            touched.add(str(due[i]))
            continue
        raw = copy.deepcopy(template)  # keeps its place in the export's order: among the good ones
        tid = FIRST_ID + i
        raw["id"] = tid
        if extra == "duplicate":
            raw["id"] = due[i]
            raw["subject"] = "A second ticket with the same id"
            st.put_raw(raw)  # beside the good one with this id: both are exported
            where[name] = str(due[i])
            touched.add(str(due[i]))
            continue
        if change:
            change(raw)
        if isinstance(extra, dict):
            st.metrics[tid] = {**copy.deepcopy(st.metrics[due[i]]), "ticket_id": tid, **extra}
        elif isinstance(extra, list):
            good = copy.deepcopy(st.comments[due[i]][0])
            st.comments[tid] = [{**good, **extra[0]}]
            # The audits carry the same comment (tierlift reads comments from them).
            st.audits[tid] = [{"id": tid * 1000 + 1, "ticket_id": tid, "created_at": good["created_at"],
                               "author_id": good["author_id"], "events": [{**good, **extra[0], "type": "Comment"}]}]
        st.put_raw(raw)
        rid = raw.get("id")
        where[name] = str(rid)[:40] if "id" in raw and rid is not None else "?"
    return where, touched


def _run(sb, tmp_path):
    where, touched = _place(sb)
    exp = exactly_once_reference(sb, skip=touched)
    config = write_config(tmp_path, [helpdesk(sb, page_size=50)], clock_url=sb.url)
    log = tmp_path / "daemon.log"
    d = Daemon(config, log, "--verbose")
    try:
        assert d.wait_for("first sync done", timeout=120), d.output()[-3000:]
        # The loop keeps cycling: five more cycles after the first sync.
        first = len(re.findall(r"DEBUG tierlift.daemon cycle helpdesk=hd", d.output()))
        deadline = time.monotonic() + 60
        while len(re.findall(r"DEBUG tierlift.daemon cycle helpdesk=hd", d.output())) < first + 5:
            assert d.alive() and time.monotonic() < deadline, d.output()[-3000:]
            time.sleep(0.1)
        status = cli("status", "--config", str(config), "--json")
    finally:
        code, _ = d.terminate()
    out = d.output()
    assert code == 0, out[-3000:]
    assert "Traceback" not in out
    problems = []
    for name, _, _, says in SHAPES:
        tid = where[name]
        pattern = rf"(quarantined|deleted) helpdesk=hd ticket={re.escape(tid)}[ :].*{re.escape(says)}"
        if not re.search(pattern, out):
            problems.append(f"{name} (ticket {tid}): no log line like {pattern!r}")
    poison_ids = {where[s[0]] for s in SHAPES if where[s[0]] not in touched}
    written = [r for r in sb.requests_log() if r["write"] and any(f"/tickets/{p}.json" in r["path"] for p in poison_ids)]
    o = outcome(sb, exp, only=set(exp.tags))
    quarantine = json.loads(status.stdout)["helpdesks"]["hd"]["quarantine"]
    record("poison", shapes=len(SHAPES), handled=len(SHAPES) - len(problems), good_tickets=len(exp.tags),
           quarantined_in_status=len(quarantine), poison_writes=len(written), **o.figures())
    assert not problems, "\n".join(problems)
    assert not written, f"a poison ticket was written: {written[:3]}"
    assert_exactly_once(o)

