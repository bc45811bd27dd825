"""The triage refits as the state keeps them and the tools tell them: a refit learnt again
is the newest, and what `eval`, `accept` and `history` say is what each entry reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tierlift.service.daemon.state import StateStore
from tierlift.service.daemon.triage import chosen_classifier
from tierlift.triage.fit import fit
from tierlift.triage.model import dumps

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


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
