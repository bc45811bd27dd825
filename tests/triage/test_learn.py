"""`tierlift triage learn | eval | accept` against the sandbox's history, as a user runs them.

The sandbox holds 300 closed tickets of its past whose record carries labels (an agent's
triage confirmation, a refund amount, a dismissal); learn reads them over the helpdesk's
real API, measures a refit on a time split beside the shipped model, and saves it; nothing
reads with it until accept; the daemon then reads with it, and `shipped` goes back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.config import load_config
from tierlift.service.daemon.evaluation import TicketEvaluation
from tierlift.service.daemon.state import open_store
from tierlift.service.daemon.triage import (
    UnknownTriageModel,
    accepted_classifier,
    shipped_classifier,
)

from kit import cli, env, helpdesk, write_config


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_learn_measures_saves_and_only_accept_takes_it_into_use(tmp_path: Path, flavor: str):
    with Sandbox(flavor, tickets=5, history=150) as sb:
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow")])
        learnt = cli("triage", "learn", "--config", str(config), "--since", "200d")
        assert learnt.returncode == 0, learnt.stderr
        out = learnt.stdout
        assert "labelled closed tickets" in out and "shipped model" in out and "learnt head" in out
        assert "outage" in out and "precision" in out and "recall" in out
        model_id = out.split("saved ", 1)[1].split(" ", 1)[0]

        listed = cli("triage", "eval", "--config", str(config))
        assert listed.returncode == 0, listed.stderr
        assert "reads with the shipped model" in listed.stdout and f"{model_id} (saved" in listed.stdout

        cfg = load_config(config, env=env())
        with open_store(cfg) as store:
            assert accepted_classifier(store, "hd") is None  # learnt, not in use

        bad = cli("triage", "accept", "--config", str(config), "--helpdesk", "hd", "no-such-model")
        assert bad.returncode == 2 and "no learnt model" in bad.stderr

        took = cli("triage", "accept", "--config", str(config), "--helpdesk", "hd", model_id)
        assert took.returncode == 0, took.stderr
        with open_store(cfg) as store:
            evaluation = TicketEvaluation(cfg.helpdesks[0], None, store,  # type: ignore[arg-type]
                                          journal_retention=cfg.journal_retention)
            reader = evaluation.evaluator.classifier
            assert reader is not None and model_id in reader.name and reader is not shipped_classifier()
        # simulate --config reads with it too, as the daemon and plan do (QA: it read with the
        # shipped model and escalated what the daemon only asked about).
        export = tmp_path / "export.json"
        assert cli("export", "--config", str(config), "--out", str(export)).returncode == 0
        sim = cli("simulate", "--policy", "teamflow", "--tickets", str(export), "--config", str(config), "--json")
        assert sim.returncode == 0, sim.stderr
        assert f"read with {reader.name}, the model helpdesk hd reads with" in sim.stderr, sim.stderr
        models = {json.loads(line).get("triage", {}).get("model") for line in sim.stdout.splitlines()}
        assert any(m and model_id in m for m in models), models
        back = cli("triage", "accept", "--config", str(config), "--helpdesk", "hd", "shipped")
        assert back.returncode == 0
        assert "reads with the shipped model" in cli("triage", "eval", "--config", str(config)).stdout
        # `latest` is the newest refit (QA: it printed what it changes, then "no learnt model 'latest'").
        latest = cli("triage", "accept", "--config", str(config), "--helpdesk", "hd", "latest", "--force")
        assert latest.returncode == 0 and f"now reads with {model_id}" in latest.stdout, latest.stdout + latest.stderr


def test_learn_refuses_a_helpdesk_without_enough_history(tmp_path: Path):
    with Sandbox("zendesk", tickets=5, history=10) as sb:
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow")])
        r = cli("triage", "learn", "--config", str(config), "--since", "200d")
        assert r.returncode == 1 and "at least 30 are needed" in r.stderr


def test_a_dry_run_shadow_tries_a_refit_before_anyone_accepts_it(tmp_path: Path):
    """docs/triage.md: the live helpdesk keeps the shipped model; a dry-run entry on the same
    helpdesk with `triage_model: hd/latest` reads with the unaccepted refit, writes nothing,
    and `report --shadow` sets its decisions beside the live ones."""
    with Sandbox("zendesk", tickets=8, history=150) as sb:
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow")])
        learnt = cli("triage", "learn", "--config", str(config), "--since", "200d")
        assert learnt.returncode == 0, learnt.stderr
        model_id = learnt.stdout.split("saved ", 1)[1].split(" ", 1)[0]
        assert "try it first" in learnt.stdout
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow"),
                                         helpdesk(sb, "hd-try", policy="teamflow", dry_run=True,
                                                  triage_model="hd/latest")], clock_url=sb.url)
        cfg = load_config(config, env=env())
        with open_store(cfg) as store:
            live, shadow = (TicketEvaluation(h, None, store,  # type: ignore[arg-type]
                                             journal_retention=cfg.journal_retention).evaluator.classifier
                            for h in cfg.helpdesks)
            assert live is shipped_classifier()  # nothing accepted: the live helpdesk is untouched
            assert shadow is not None and model_id in shadow.name
        ran = cli("run", "--config", str(config), "--once")
        assert ran.returncode == 0, ran.stderr
        assert "helpdesk=hd-try" in ran.stderr
        report = cli("report", "--config", str(config), "--shadow", "hd-try", "--since", "2026-10-01")
        assert report.returncode == 0, report.stderr
        assert "hd-try" in report.stdout and "tickets:" in report.stdout


def test_a_helpdesk_naming_a_refit_that_was_never_learnt_says_so(tmp_path: Path):
    with Sandbox("zendesk", tickets=1) as sb:
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow", triage_model="hd/latest")])
        cfg = load_config(config, env=env())
        with open_store(cfg) as store, pytest.raises(UnknownTriageModel) as refused:
            TicketEvaluation(cfg.helpdesks[0], None, store,  # type: ignore[arg-type]
                             journal_retention=cfg.journal_retention)
        assert "no such refit learnt for helpdesk hd" in str(refused.value)
        assert "tierlift triage learn" in str(refused.value)
        bad = write_config(tmp_path / "bad", [helpdesk(sb, policy="teamflow", triage_model="newest")])
        r = cli("check", "--config", str(bad), "--offline")
        assert r.returncode == 2 and "triage_model" in r.stderr and "HELPDESK/latest" in r.stderr
