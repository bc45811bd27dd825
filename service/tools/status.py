"""`tierlift status`: cursors, the ticket index, wake-ups, quarantine and last errors, read from the state."""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tierlift.engine.durations import format_elapsed
from tierlift.service.daemon.config import Config, HelpdeskConfig, load_config
from tierlift.service.daemon.dryrun import dry_progress_name, live_siblings, progress_name
from tierlift.service.daemon.golive import FIRST_SYNC_DETAIL, quiet_listing
from tierlift.service.daemon.state import Intent, Store, describe, open_store
from tierlift.service.daemon.writes import GIVEN_UP
from tierlift.service.ops.redact import redact
from tierlift.service.tools.clock import tool_now


def status(config_path: Path, *, as_json: bool = False, helpdesk: str | None = None) -> int:
    cfg = load_config(config_path, load_policies=False, read_secrets=False)  # the state only
    if helpdesk is not None and helpdesk not in {hd.name for hd in cfg.helpdesks}:
        names = ", ".join(hd.name for hd in cfg.helpdesks)
        print(f"{config_path}: no helpdesk named {helpdesk!r} (there are: {names})", file=sys.stderr)
        return 2
    if not cfg.state_url and not cfg.state_path.exists():
        said = f"no state yet at {cfg.state_path} (the daemon has not run)"
        # --json is read by programs: it says the same in JSON (it printed the sentence).
        print(json.dumps({"state": None, "said": said, "helpdesks": {}}) if as_json else said)
        return 0
    store = open_store(cfg, migrate=False)
    # The daemon's own clock (the sandbox's under `clock: {follow: URL}`), so
    # "due now" is what the daemon sees as due, not what the wall clock says.
    now = tool_now(cfg)
    try:
        report = _report(cfg, store, now, only=helpdesk)
    finally:
        store.close()
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"state: {report['state']}")
    for name, h in report["helpdesks"].items():
        _print_helpdesk(name, h, now)
    wall = datetime.now(UTC)  # a lease expires on the database's clock
    for name, lease in report.get("not_in_this_configuration", {}).items():
        print(f"\nhelpdesk {name}: not in this configuration; lease {_lease_line(lease, wall)}")
    return 0


def _report(cfg: Config, store: Store, now: datetime, *, only: str | None = None) -> dict[str, Any]:
    """`only`: one helpdesk's entry (a fleet's status is hundreds of them); the counts
    under `stats` are then that helpdesk's (and its dry run's) too."""
    report: dict[str, Any] = {"state": describe(cfg), "helpdesks": {}}
    leases = {x["helpdesk"]: x for x in store.leases()}
    chosen = [hd for hd in cfg.helpdesks if only in (None, hd.name)]
    for hd in chosen:
        report["helpdesks"][hd.name] = _entry(cfg, store, hd, now, leases.get(hd.name))
    if cfg.state_url and only is None:
        report["not_in_this_configuration"] = _not_configured(cfg, leases)
    report["stats"] = _stats_of(store.stats(), None if only is None else {only, dry_progress_name(only)})
    # The store counts "due" by the wall clock; the daemon's clock (a followed sandbox's)
    # is the one the rest of this report reads: `stats.due_now` once said 30 where the
    # helpdesk's own entry said 0.
    report["stats"]["due_now"] = {name: h["due_now"] for name, h in report["helpdesks"].items() if h["due_now"]}
    hooks = _webhooks(cfg)
    for hd in chosen:
        if hd.webhook_secret is not None:
            report["helpdesks"][hd.name]["webhooks"] = hooks.get(hd.name, hooks.get("", {}))
    return report


def _entry(cfg: Config, store: Store, hd: HelpdeskConfig, now: datetime,
           lease: dict[str, Any] | None) -> dict[str, Any]:
    """One helpdesk's part of the report: its progress, its dry run's, its lease."""
    entry = _helpdesk(store, hd.name, now, dry=hd.dry_run)
    if hd.dry_run:  # a shadow is compared with the live entries on its url; a lone dry run has none
        entry["plans"].update(entry=hd.name, live_entries=live_siblings(cfg.helpdesks, hd))
    # A dry run of an entry without a live sibling (run --dry-run) keeps its own progress
    # apart from the entry's (dryrun.progress_name); a shadow's is under its own name.
    rehearsal = dry_progress_name(hd.name)
    if progress_name(cfg.helpdesks, hd) == rehearsal or not hd.dry_run:
        if store.cursor(rehearsal) is not None or store.helpdesk_status(rehearsal)["last_ok"] is not None:
            entry["dry_run"] = _helpdesk(store, rehearsal, now, dry=True, plans_of=hd.name)
    if cfg.state_url:
        entry["lease"] = _lease(lease)
        if hd.webhook_secret is not None:  # webhooks forwarded between replicas, not acted on yet
            entry["webhooks_waiting"] = len(store.nudges_waiting(hd.name))
    return entry


def _stats_of(stats: dict[str, Any], names: set[str] | None) -> dict[str, Any]:
    """The store's counts, each by helpdesk, kept to `names` (all of them: None)."""
    if names is None:
        return stats
    return {key: {hd: n for hd, n in value.items() if hd in names} if isinstance(value, dict) else value
            for key, value in stats.items()}


def _not_configured(cfg: Config, leases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The leases of helpdesks this configuration does not list: one only another replica's
    configuration lists is served by nobody once that replica dies, while this one stays
    ready and its status said nothing of it (QA on replicas: configurations drifted apart)."""
    ours = {hd.name for hd in cfg.helpdesks}
    return {name: _lease(row) for name, row in leases.items() if row["holder"] and name not in ours}


def _webhooks(cfg: Config) -> dict[str, dict[str, Any]]:
    """Per helpdesk: the last webhook event and the refusals, as the running daemon's /metrics
    counts them (the daemon keeps them in memory; {"": {"daemon": ...}} when it does not answer)."""
    import requests

    listen = cfg.http_listen or cfg.webhooks_listen
    if not listen:
        return {"": {"daemon": "no http.listen: the counts are the running daemon's /metrics"}}
    from tierlift.service.ops.health import listen_address

    host, port = listen_address(listen)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # a wildcard bind: ask on loopback
    try:
        text = requests.get(f"http://{f'[{host}]' if ':' in host else host}:{port}/metrics", timeout=3).text
    except requests.RequestException:
        return {"": {"daemon": f"not answering on {listen}"}}
    out: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        m = re.match(r'tierlift_webhooks_total\{helpdesk="([^"]*)",result="([^"]*)"\} ([0-9.e+]+)', line)
        if m:
            entry = out.setdefault(m[1], {"accepted": 0, "duplicates": 0, "refused": {}})
            n = int(float(m[3]))
            if m[2] == "accepted":
                entry["accepted"] = n
            elif m[2] == "duplicate":
                entry["duplicates"] = n
            else:
                entry["refused"][m[2]] = n
        m = re.match(r'tierlift_webhook_nudges_total\{helpdesk="([^"]*)",result="(forwarded|consumed)"\} ([0-9.e+]+)',
                     line)
        if m:
            out.setdefault(m[1], {"accepted": 0, "duplicates": 0, "refused": {}})[m[2]] = int(float(m[3]))
        m = re.match(r'tierlift_webhook_last_event_timestamp_seconds\{helpdesk="([^"]*)"\} ([0-9.e+]+)', line)
        if m:
            out.setdefault(m[1], {"accepted": 0, "duplicates": 0, "refused": {}})["last_event_at"] = \
                datetime.fromtimestamp(float(m[2]), UTC).isoformat()
    return out


def _helpdesk(store: Store, name: str, now: datetime, *, dry: bool = False,
              plans_of: str | None = None) -> dict[str, Any]:
    """One entry's progress read under `name`; a dry one's plans (kept under `plans_of`, its
    entry's name) and first sync are read from its plans, a live one's from its journal."""
    waking = [(e.ticket_id, e.wake_up) for e in store.entries(name) if e.wake_up is not None]
    upcoming = sorted(waking, key=lambda w: w[1])[:5]
    decided = list(store.plans(plans_of or name) if dry else store.intents(name))
    return {
        "cursor": store.cursor(name),
        "open_tickets": store.index_size(name),
        "due_now": len(store.due(name, now)),
        "next_wake_ups": [[tid, at.isoformat()] for tid, at in upcoming],
        "more_wake_ups": max(0, len(waking) - len(upcoming)),
        "pending_intents": len(store.unfinished(name)),
        "quarantine": [{"ticket": q.ticket_id, "error": redact(q.error), "attempts": q.attempts,
                        "next_retry": q.next_retry.isoformat()} for q in store.quarantined(name)],
        # Pages and messages not delivered (QA, on call: a lost page showed nowhere but history).
        "notifications_unsent": [{"ticket": n.ticket_id, "escalation": n.escalation_id, "channel": n.channel,
                                  "attempts": n.attempts,
                                  "since": n.created_at.isoformat(), "last_error": redact(n.detail)}
                                 for n in ([] if dry else store.unsent_notifications(name))],
        "health": store.helpdesk_status(name),
        "first_sync_quiet": _first_sync_quiet(decided),
        **({"plans": _plans(decided)} if dry else {}),
    }


def _print_helpdesk(name: str, h: dict[str, Any], now: datetime) -> None:
    def when(value: Any) -> str:
        return _when(value, now)

    print(f"\nhelpdesk {name}{' (dry run: nothing is written)' if 'plans' in h else ''}")
    # A dry-run entry with no live twin: its plans are the rehearsal's, said once, below (QA:
    # the plans and first-sync lines were printed twice).
    rehearsed = "dry_run" in h and "plans" in h
    _print_progress(h, now, "  ", planned=not rehearsed)
    if "lease" in h:  # a lease expires on the database's clock, never a followed rehearsal clock
        print(f"  lease:           {_lease_line(h['lease'], datetime.now(UTC))}")
    if "dry_run" in h:
        print(f"  dry run ({_rehearsal_words(h, rehearsed)}):")
        _print_progress(h["dry_run"], now, "    ")
    if "webhooks" in h:
        print(f"  webhooks:        {_webhooks_line(h['webhooks'], now)}")
    if h.get("webhooks_waiting"):
        print(f"  webhooks waiting: {h['webhooks_waiting']} forwarded by a replica, not yet acted on by the holder")
    _print_unsent(h.get("notifications_unsent") or [], now)
    print(f"  quarantined:     {len(h['quarantine'])}")
    for q in h["quarantine"]:
        print(f"    ticket {q['ticket']}: {q['error']} (attempts {q['attempts']}, next retry {when(q['next_retry'])})")


def _print_unsent(unsent: list[dict[str, Any]], now: datetime) -> None:
    """Messages not delivered: still tried, or given up (QA, on call: a page given up was
    listed as "not delivered yet", and a lost page showed nowhere but in history)."""
    gone = [n for n in unsent if n["last_error"].startswith(GIVEN_UP)]
    trying = [n for n in unsent if n not in gone]
    if trying:
        print(f"  not notified:    {len(trying)} message(s) not delivered yet, still tried")
        for n in trying[:5]:
            print(f"    {n['channel']} for ticket {n['ticket'] or '?'} (escalation {n['escalation']}): {n['attempts']} failed attempt(s) since"
                  f" {_when(n['since'], now)}; {n['last_error'] or 'not tried yet'}")
    if gone:
        print(f"  given up:        {len(gone)} message(s) never delivered, no longer tried")
        for n in gone[:5]:
            print(f"    {n['channel']} for ticket {n['ticket'] or '?'} (escalation {n['escalation']}): {n['last_error']}")


def _print_progress(h: dict[str, Any], now: datetime, pad: str, planned: bool = True) -> None:
    """Cursor, index, wake-ups, last ok and error, first sync and plans, indented by `pad`;
    a line without a label goes on the one above it (no lone ':')."""
    def line(label: str, text: str) -> None:
        print(f"{pad}{label + ':' if label else '':<17}{text}")

    line("cursor", _cursor_words(h["cursor"], now, (h["health"] or {}).get("last_ok")))
    line("open tickets", f"{h['open_tickets']}  (due now: {h['due_now']})")
    if "plans" not in h:
        line("pending intents", str(h["pending_intents"]))
    for tid, at in h["next_wake_ups"]:
        # A ticket to read again at once (a write recovered after a restart) is filed as due at
        # the epoch: "at 1970-01-01 00:00 UTC (20794 days ago)" (QA, a multi-tenant operator).
        due = _instant(at)
        line("wake-up", f"ticket {tid} " + ("due now" if due is not None and due <= now else f"at {_when(at, now)}"))
    if h.get("more_wake_ups"):
        line("", f"... and {h['more_wake_ups']} more")
    health = h["health"] or {}
    line("last ok", _when(health.get("last_ok"), now) if health.get("last_ok") else "-")
    if health.get("last_error"):
        line("last error", f"{redact(health['last_error'])} (since {_when(health.get('error_at'), now)})")
    if planned:
        _print_plans(h, line)


def _print_plans(h: dict[str, Any], line: Callable[[str, str], None]) -> None:
    """What a quiet first sync held back, and a dry run's plans."""
    quiet = h["first_sync_quiet"]
    if quiet["escalated"] or quiet["reviews"]:
        verb = "planned" if "plans" in h else "escalated"
        paged = f", {len(quiet['paged'])} of them live incidents whose page went" if quiet.get("paged") else ""
        line("first sync", f"{len(quiet['escalated'])} ticket(s) {verb} without their customer reply or pages"
                           f" (first_sync: quiet{paged}){_tickets(quiet['escalated'])}")
        if quiet["reviews"]:
            line("", f"and {len(quiet['reviews'])} triage review(s) without their page{_tickets(quiet['reviews'])}:"
                     f" {quiet['decisions']} decision(s) held back in all")
    if "plans" in h:
        plans = h["plans"]
        # QA: a lone dry run was pointed at `report --shadow`, which has no live entry to compare with.
        show = (f"`report --shadow {plans['entry']}`, `history TICKET` show them" if plans.get("live_entries")
                else "`history TICKET` shows each, `report` counts them apart")
        line("plans", f"{plans['count']} decision(s) planned, none written{_tickets(plans['tickets'])} ({show})"
             if plans["count"] else "none yet")
        if plans["count"]:
            paged = ", ".join(f"{ch} {n}" for ch, n in plans["pages"].items()) or "none"
            line("", f"they would have written {plans['escalations']} move(s) up and {plans['customer_replies']}"
                     f" customer reply(ies), and told the channels: {paged}")


def _tickets(ids: list[str]) -> str:
    return f": tickets {', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}" if ids else ""


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _when(value: Any, now: datetime) -> str:
    """`2026-11-02 19:30 UTC (in 30 minutes)`: minute precision, and how far from the daemon's now."""
    at = _instant(value)
    if at is None:
        return str(value) if value else "?"
    at = at.astimezone(UTC)
    gap = at - now
    if abs(gap.total_seconds()) < 60:
        rel = "now"
    elif gap.total_seconds() > 0:
        rel = f"in {format_elapsed(gap)}"
    else:
        rel = f"{format_elapsed(gap)} ago"
    return f"{at:%Y-%m-%d %H:%M} UTC ({rel})"


def _rehearsal_words(h: dict[str, Any], dry_entry: bool) -> str:
    """What the rehearsal is and where its next start begins: on from its own progress while it
    is newer than the entry's live progress (dryrun._resume_rehearsal), else from the entry's
    (QA: a restarted rehearsal began again half-way; after go-live the old one read as current,
    and as `run --dry-run` when it had been `dry_run: true`)."""
    rehearsed = _instant((h["dry_run"].get("health") or {}).get("last_ok"))
    went_live = _instant((h.get("health") or {}).get("last_ok"))
    if rehearsed is not None and (went_live is None or went_live < rehearsed):
        how = "dry_run: true" if dry_entry else "run --dry-run"  # QA: said run --dry-run of a dry_run entry
        return f"{how}; its own progress, a restart goes on from it"
    return "an earlier rehearsal, its own progress: the entry has run live since, and a new one starts from its above"


def _cursor_words(cursor: str | None, now: datetime, last_ok: Any = None) -> str:
    """Where the poll resumes, as a time when the cursor carries one (Jira's watermark,
    Zendesk's export cursor); the raw cursor stays in `--json`. The cursor is the newest
    change read, not the last poll: on a quiet helpdesk "3 hours ago" read as a stalled
    poll right after a good one, so a poll made since says so."""
    if not cursor:
        return "(none: first sync pending)"
    at = _cursor_time(cursor)
    if not at:
        return "set (the helpdesk's own export position; --json shows it)"
    polled = _instant(last_ok) if last_ok else None
    since = "; nothing changed since, polled at last ok" if polled and polled - at > timedelta(minutes=10) else ""
    return f"changes read up to {_when(at, now)}{since}"


def _cursor_time(cursor: str) -> datetime | None:
    try:
        data = json.loads(cursor)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("watermark"):
        return _instant(data["watermark"])
    try:  # Zendesk's export cursor: base64 of "<epoch seconds>|..." (opaque by contract: best effort)
        head = base64.b64decode(cursor, validate=True).decode("ascii").split("|", 1)[0]
        return datetime.fromtimestamp(float(head), UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        return None


def _webhooks_line(w: dict[str, Any], now: datetime) -> str:
    """The last event written as every other time here (`--json` keeps the exact instant)."""
    if "daemon" in w:
        return str(w["daemon"])
    last = _when(w["last_event_at"], now) if w.get("last_event_at") else "-"
    refused = ", ".join(f"{k} {v}" for k, v in sorted(w.get("refused", {}).items())) or "none"
    relayed = "".join(f", {k} {w[k]}" for k in ("forwarded", "consumed") if w.get(k))  # replicas (relay.py)
    return (f"last event {last}, accepted {w.get('accepted', 0)},"
            f" duplicates {w.get('duplicates', 0)}{relayed}, refused: {refused}")


def _lease(row: dict[str, Any] | None) -> dict[str, Any]:
    """A helpdesk's lease for `status`: holder host and pid, epoch, expiry, and whether it is live."""
    if row is None or not row["holder"]:
        return {"holder": None}
    return {"holder": row["holder"], "host": row["host"], "pid": row["pid"], "epoch": row["epoch"],
            "expires_at": row["expires_at"].isoformat(), "live": row["live"], "released": row["released"]}


def _lease_line(lease: dict[str, Any], wall: datetime) -> str:
    """`held by vm pid 7, epoch 3, expires 2026-12-06 11:41:23 UTC (in 12 seconds)` while live,
    `expired ... (40 seconds ago); last held by ...` once not: to the second, as a 15 s lease
    needs (to the minute, "(now)", a dead holder's read like a live one's)."""
    if not lease.get("holder"):
        return "(never held)"
    by = f"{lease['host']} pid {lease['pid']}, epoch {lease['epoch']}"
    at = _instant(lease["expires_at"])
    gap = round((at - wall).total_seconds()) if at else 0
    rel = f"in {_seconds(gap)}" if gap > 0 else f"{_seconds(-gap)} ago"
    when = f"{at:%Y-%m-%d %H:%M:%S} UTC ({rel})" if at else str(lease["expires_at"])
    if lease["live"]:
        return f"held by {by}, expires {when}"
    if lease["released"]:
        return f"handed over {when}; last held by {by}; nobody has taken it since"
    return f"expired {when}; last held by {by}"


def _seconds(secs: int) -> str:
    return f"{secs} second{'' if secs == 1 else 's'}" if secs < 60 else format_elapsed(timedelta(seconds=secs))


def _first_sync_quiet(decided: list[Intent]) -> dict[str, Any]:
    """What a quiet first sync held back, as its log line counts it: the tickets escalated
    without their customer reply and pages, and the triage reviews without their page. Its
    other decisions (a refusal, a de-escalation) and a ticket younger than an hour (golive.FRESH:
    the decision journaled kept its reply and pages) held nothing back; a live incident whose
    page went had its reply held, and is listed."""
    listed: dict[str, set[str]] = {"escalated": set(), "reviews": set(), "paged": set()}
    decisions = 0
    held = [i for i in decided if i.status == "done" and i.detail.startswith(FIRST_SYNC_DETAIL)]
    # Only the latest go-live's (QA: after going live again, status added both go-lives up).
    latest = _golive_of(max(held, key=lambda i: i.created_at or datetime.min.replace(tzinfo=UTC))) if held else ""
    for i in held:
        if _golive_of(i) != latest or _kept_reply(i):
            continue
        where = quiet_listing(i.kind, i.tier_before, i.tier_after)
        if where is not None:
            listed[where].add(i.ticket_id)
            decisions += 1
        if where == "escalated" and _paged(i):
            listed["paged"].add(i.ticket_id)
    return {**{k: sorted(v, key=_by_id) for k, v in listed.items()}, "decisions": decisions}


def _golive_of(intent: Intent) -> str:
    """Which go-live a first-sync decision was held back at (golive.GoLive.detail's "(at ...)")."""
    m = re.search(r"\(at ([^)]*)\)", intent.detail)
    return m[1] if m else ""


def _actions(intent: Intent) -> list[dict[str, Any]]:
    """The actions of a journaled decision (none where its JSON cannot be read)."""
    try:
        actions = json.loads(intent.decision).get("actions", [])
    except (ValueError, AttributeError):
        return []
    return [a for a in actions if isinstance(a, dict)]


def _paged(intent: Intent) -> bool:
    """A live incident's decision whose page went at go-live (only its reply was held)."""
    return any(a.get("type") == "notify" for a in _actions(intent))


def _kept_reply(intent: Intent) -> bool:
    return any(a.get("type") == "public_reply" for a in _actions(intent))


def _plans(plans: list[Intent]) -> dict[str, Any]:
    """The plans, and what they would have written: moves up, customer replies, pages by
    channel (QA: a lone dry run had no summary of the e-mails and pages going live would send)."""
    replies, pages = 0, Counter[str]()
    for p in plans:
        replies += _kept_reply(p)
        pages.update(str(a.get("channel")) for a in _actions(p) if a.get("type") == "notify")
    return {"count": len(plans), "tickets": sorted({p.ticket_id for p in plans}, key=_by_id),
            "escalations": sum(p.tier_after > p.tier_before for p in plans), "customer_replies": replies,
            "pages": dict(sorted(pages.items()))}


def _by_id(ticket: str) -> tuple[int, str]:
    return len(ticket), ticket
