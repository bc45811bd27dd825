"""The triage refits as the state keeps them and the tools tell them: a refit learnt again
is the newest, and what `eval`, `accept` and `history` say is what each entry reads."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.config import load_config
from tierlift.service.daemon.evaluation import TicketEvaluation
from tierlift.service.daemon.state import StateStore, open_store
from tierlift.service.daemon.triage import chosen_classifier
from tierlift.service.tools.history import tell
from tierlift.service.tools.triage_cli import _with_options, closed_tickets
from tierlift.service.tools.triage_learn import learn
from tierlift.triage.fit import fit
from tierlift.triage.model import dumps

from kit import env, helpdesk, write_config

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
TICKETS = 100  # enough tickets that the refit reads one otherwise than the shipped model (40 were, before the ida refit)


def _head(name: str) -> bytes:
    return dumps(fit(["the api is down for everyone", "how do I export a report"], ["outage", "none"], name))


def test_a_refit_learnt_again_is_the_newest_and_keeps_its_acceptance(tmp_path: Path):
    """The re-learn kept its first learn time: `eval` showed it and `hd/latest` picked the
    other refit, learnt in between."""
    at = [NOW]
    with StateStore(tmp_path / "state.sqlite3", now=lambda: at[0]) as store:
        store.save_triage_model("hd", "hd-20261101-aaaaaaaaaa", {"weight": 0.3}, _head("hd-20261101-aaaaaaaaaa"))
        store.accept_triage_model("hd", "hd-20261101-aaaaaaaaaa")
        at[0] = NOW + timedelta(hours=1)
        store.save_triage_model("hd", "hd-20261102-bbbbbbbbbb", {"weight": 0.3}, _head("hd-20261102-bbbbbbbbbb"))
        at[0] = NOW + timedelta(hours=2)
        store.save_triage_model("hd", "hd-20261101-aaaaaaaaaa", {"weight": 0.4}, _head("hd-20261101-aaaaaaaaaa"))
        models = store.triage_models("hd")
        assert [m["model_id"] for m in models] == ["hd-20261101-aaaaaaaaaa", "hd-20261102-bbbbbbbbbb"]
        assert models[0]["created_at"] == NOW + timedelta(hours=2) and models[0]["figures"] == {"weight": 0.4}
        assert store.accepted_triage_model("hd") == "hd-20261101-aaaaaaaaaa"
        latest = chosen_classifier(store, "hd", "hd/latest")
        assert latest is not None and "hd-20261101-aaaaaaaaaa" in latest.name


def test_history_decides_with_the_refit_the_daemon_reads_with(tmp_path: Path):
    """With a refit accepted, `history 14` said "due now: triage-review ... (security-incident)"
    from the shipped model while the daemon and `plan` read with the refit and had nothing due."""
    with Sandbox("zendesk", tickets=TICKETS, history=150, now=NOW) as sb:
        cfg = load_config(write_config(tmp_path, [helpdesk(sb, "zd", policy="three-tier")], clock_url=sb.url),
                          env=env())
        hd = cfg.helpdesks[0]
        with open_store(cfg) as store:
            model_id, figures, blob = learn(hd.name, closed_tickets(hd, NOW - timedelta(days=200)), hd.policy,
                                            io.StringIO())
            store.save_triage_model(hd.name, model_id, figures, blob)
            shipped, shipped_reasons = {}, {}
            for tid in map(str, range(1, TICKETS + 1)):
                story = tell(hd, tid, NOW, store)
                assert story is not None and story.decision is not None
                shipped[tid] = story.decision["kind"], story.decision["rule"]
                shipped_reasons[tid] = story.decision["reasons"]
            store.accept_triage_model(hd.name, model_id)
            daemon = TicketEvaluation(hd, None, store, journal_retention=cfg.journal_retention)  # type: ignore[arg-type]
            told, told_reasons, decided, sources = {}, {}, {}, set()
            for tid in map(str, range(1, TICKETS + 1)):
                story = tell(hd, tid, NOW, store)
                assert story is not None and story.decision is not None and story.ticket is not None
                told[tid] = story.decision["kind"], story.decision["rule"]
                told_reasons[tid] = story.decision["reasons"]
                d = daemon.decide(replace(story.ticket, ledger=tuple(store.ledger_moves(hd.name, tid))), NOW)
                decided[tid] = d.kind, d.rule
                sources.add(story.sources.get("triage"))
            assert told == decided
            # The refit reads some ticket otherwise than the shipped model: its decision, or at
            # least the reading its reasons quote (which refit moves a decision changes with refits).
            assert decided != shipped or told_reasons != shipped_reasons
            assert sources == {f"refit {model_id}"}
            # The entry's own setting comes first, as for the daemon: `shipped` ignores the accepted refit.
            pinned = _with_options(hd, hd.options.model_copy(update={"triage_model": "shipped"}))
            for tid in map(str, range(1, TICKETS + 1)):
                story = tell(pinned, tid, NOW, store)
                assert story is not None and story.decision is not None and "triage" not in story.sources
                assert (story.decision["kind"], story.decision["rule"]) == shipped[tid]


def test_learn_skips_an_entry_whose_policy_reads_no_text(tmp_path: Path):
    # QA (a new adopter, 2026-12-07): `triage learn` tried the two-tier shadow (no triage
    # conditions) and counted it a failure, exit 1, while `triage eval` said no model reads
    # for it. It is skipped, said so, and no helpdesk is asked for it.
    import subprocess
    import sys
    from types import SimpleNamespace

    nobody = SimpleNamespace(flavor="zendesk", url="http://127.0.0.1:9")  # asked, it would fail
    config = write_config(tmp_path, [helpdesk(nobody, "plain", policy="two-tier")])
    proc = subprocess.run([sys.executable, "-m", "tierlift.service.cli", "triage", "learn", "--config", str(config)],
                          capture_output=True, text=True, env=env(), timeout=120)
    assert proc.stdout == "plain: skipped: its policy (two-tier) has no triage conditions, so no model reads for it\n"
    assert proc.returncode == 1 and "no helpdesk chosen reads with a model: nothing to learn" in proc.stderr
    assert "127.0.0.1:9" not in proc.stderr
