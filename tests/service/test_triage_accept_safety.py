"""`tierlift triage accept` shows what a refit changes before switching, and refuses one that
cannot be told safe, judged from the CLI's output and what the state store then reads with.

QA: a refit learnt with `--since 1d` ("refund 1 precision 0% recall 0%") was saved and
accepted without a word, and an accepted refit turned three paged escalations into reviews
(security 0.83 -> 0.59) while learn's table, read at 0.5, showed the same figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from tierlift.engine.triage import Verdict
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.config import load_config
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.state import open_store
from tierlift.service.tools.triage_cli import _worse
from tierlift.service.tools.triage_learn import shifts

from kit import cli, env, helpdesk, write_config

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def _learnt(config: Path, warned: bool) -> str:
    r = cli("triage", "learn", "--config", str(config), "--since", "200d", "--now", NOW.isoformat())
    assert r.returncode == 0, r.stderr
    assert ("warning: scored on too few tickets to tell" in r.stdout) is warned, r.stdout
    return re.search(r"saved (hd-\d{8}-\w+)", r.stdout).group(1)  # type: ignore[union-attr]


def test_a_refit_scored_on_too_few_tickets_is_shown_and_refused(tmp_path: Path):
    with Sandbox("zendesk", tickets=0, history=40, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow")])
        model_id = _learnt(config, warned=True)
        r = cli("triage", "accept", "--config", str(config), "--helpdesk", "hd", model_id)
        assert r.returncode == 1, r.stdout
        assert f"what {model_id} changes on the helpdesk's 12 recent tickets" in r.stdout
        assert "against the shipped model" in r.stdout and "escalated -> review/none" in r.stdout
        assert re.search(r"\n  security +\d+  \d+ -> \d+ ", r.stdout), r.stdout
        assert f"{model_id} not accepted for helpdesk hd" in r.stderr
        assert "scored on too few tickets to tell" in r.stderr and "nothing was changed" in r.stderr
        assert "now reads with" not in r.stdout
        cfg = load_config(config, env=env())
        with open_store(cfg) as store:
            assert store.accepted_triage_model("hd") is None

        # --force takes it, and says what it took it despite.
        r = cli("triage", "accept", "--config", str(config), "--helpdesk", "hd", model_id, "--force")
        assert r.returncode == 0, r.stderr
        assert "accepted anyway (--force): it was scored on too few tickets" in r.stdout
        with open_store(cfg) as store:
            assert store.accepted_triage_model("hd") == model_id


def test_a_refit_with_enough_history_that_escalates_as_much_is_accepted(tmp_path: Path):
    with Sandbox("zendesk", tickets=0, history=150, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow")])
        model_id = _learnt(config, warned=False)
        r = cli("triage", "accept", "--config", str(config), "--helpdesk", "hd", model_id)
        assert r.returncode == 0, r.stderr
        assert f"what {model_id} changes" in r.stdout and f"now reads with {model_id}" in r.stdout


class _Reads:
    def __init__(self, scores: dict[str, float]) -> None:
        self.scores, self.name = scores, "stub"

    def classify(self, text: str) -> Verdict:
        return Verdict(dict(self.scores))


def test_fewer_urgent_escalations_outright_is_a_reason_to_refuse_even_when_figures_at_half_agree():
    """Both read security over 0.5 (learn's table agrees), but only the model in use reaches
    teamflow's 0.65: the refit would ask a person where a page went out."""
    policy = load_policy("teamflow")
    recent = [{"id": str(n), "label": "security", "text": "someone is in our admin account"} for n in range(3)]
    recent += [{"id": f"x{n}", "label": c, "text": "words"} for n in range(3)
               for c in ("data_loss", "legal", "gdpr_erasure", "outage", "refund", "churn", "manager")]
    rows = shifts(_Reads({"security": 0.83}), _Reads({"security": 0.59}), recent, policy)
    assert (rows["security"].before, rows["security"].after, rows["security"].down) == (3, 0, 3 + 21)
    (reason,) = _worse(rows, policy, "the shipped model")
    assert "escalates fewer urgent tickets outright than the shipped model (3 -> 0: security 3 -> 0)" in reason


def test_saved_refits_can_be_forgotten_and_their_words_leave_the_state_file(tmp_path: Path):
    """QA (a data-protection officer): a refit keeps the text of the closed tickets it was
    scored on (figures) and the words it learnt (arrays), and nothing removed them: an erased
    customer's words stayed in the state. `triage forget` deletes refits not in use."""
    with Sandbox("zendesk", tickets=0, history=40, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow")])
        first, second = _learnt(config, warned=True), None
        cfg = load_config(config, env=env())
        with open_store(cfg) as store:
            [saved] = store.triage_models("hd")
        kept_text = next(line for v in _strings(saved["figures"]) for line in v.splitlines()
                         if len(line) > 25 and line.isascii() and '"' not in line and "\\" not in line)
        state = tmp_path / "state.sqlite3"
        assert kept_text.encode() in state.read_bytes()

        r = cli("triage", "accept", "--config", str(config), "--helpdesk", "hd", first, "--force")
        assert r.returncode == 0, r.stderr
        r = cli("triage", "forget", "--config", str(config), "--helpdesk", "hd", first)
        assert r.returncode == 2 and "reads with" in r.stderr and "take another into use first" in r.stderr
        assert cli("triage", "accept", "--config", str(config), "--helpdesk", "hd", "shipped").returncode == 0

        r = cli("triage", "forget", "--config", str(config), "--helpdesk", "hd", "nope")
        assert r.returncode == 2 and "no saved refit 'nope'" in r.stderr
        r = cli("triage", "forget", "--config", str(config), "--helpdesk", "hd", first)
        assert r.returncode == 0, r.stderr
        assert "1 saved refit(s) deleted" in r.stdout
        with open_store(cfg) as store:
            assert store.triage_models("hd") == [] and second is None
        assert kept_text.encode() not in state.read_bytes(), "the deleted words are still in the file"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
