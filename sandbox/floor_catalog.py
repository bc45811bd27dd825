"""What customers write on the simulated floor: every kind the seeds name, in many wordings.

The customers' words come from a held-out writer (floor_wording/, with the brief the
writer was given): briefed only with the seeds' category definitions, never shown the
packs' rules, the triage model, its training corpus or this floor, and never used to fit
or tune anything. So the floor's "0 false, 0 missed" is measured on text the rules and
the model were not made from. Each kind has its wordings and its near misses: texts that
share words with a kind but do not mean it (they must not escalate; a review is allowed).
The severity kinds (p0..p3) are decided by the ticket's tag, their words are the floor's
own. The kind is the floor's intent, kept beside the ticket in the sandbox
(`Floor.intent`) for the oracle; tierlift never sees it.

Invariant: a kind's name is what the oracle's requirement tables key on
(tests/floor/oracle.py); adding a kind means adding its requirement there.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

# The floor's kinds (the oracle's requirement tables key on them) and the writer's categories.
KIND_OF = {"outage": "outage", "security": "security", "data_loss": "data_loss", "legal": "legal",
           "gdpr_erasure": "gdpr", "refund": "refund_big", "churn": "churn", "manager": "manager", "none": "noise"}
# Severity kinds: the ticket's p0..p3 tag decides them, the words only colour them.
SEVERITIES: dict[str, list[tuple[str, str]]] = {
    "p0": [("Production degraded", "Production is badly degraded for all customers right now.")],
    "p1": [("Data integrity issue", "Since the last update some records show up twice in the sync."),
           ("Severe slowdown", "Since the deploy, every report takes minutes; our production use is degraded.")],
    "p2": [("Feature broken for some users", "The CSV import fails for a subset of our users.")],
    "p3": [("Minor glitch", "A tooltip overlaps the save button."),
           ("Typo", "There is a typo on the billing settings page.")],
}


def _rows(name: str) -> list[dict[str, Any]]:
    text = (resources.files("tierlift.sandbox") / "floor_wording" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _wordings() -> tuple[dict[str, list[tuple[str, str]]], dict[str, list[tuple[str, str]]]]:
    """(kind -> wordings, kind -> near misses) from the held-out writer's tickets."""
    wordings: dict[str, list[tuple[str, str]]] = {k: list(v) for k, v in SEVERITIES.items()}
    near: dict[str, list[tuple[str, str]]] = {}
    for row in _rows("tickets.jsonl"):
        if row["near_miss"]:
            kind = KIND_OF[row.get("resembles") or row["category"]]
            near.setdefault(kind, []).append((row["subject"], row["body"]))
        else:
            wordings.setdefault(KIND_OF[row["category"]], []).append((row["subject"], row["body"]))
    return wordings, near


WORDINGS, NEAR_MISSES = _wordings()
_FOLLOW_UPS = _rows("followups.jsonl")
MANAGER_ASKS = [r["body"] for r in _FOLLOW_UPS if r["category"] == "manager" and not r["near_miss"]]
MANAGER_NEAR_MISS = [r["body"] for r in _FOLLOW_UPS if r["near_miss"]]
FAILED_AGAIN = ["It is still not working for us, we tried that twice."]  # teamflow L1: failed attempts
FOLLOW_UPS = ["Any news on this? We are still affected.", "Thanks for the update, here are the details you asked for.",
              *FAILED_AGAIN]
CONTEXT_NOTE = ("Steps taken:\n- Reproduced with the customer's account\n- Checked the logs for the window\n"
                "Customer impact: the team cannot finish month-end reports\nSuggested next step: backend check")
BARE_NOTE = "Needs someone with backend access."
TAKE_REPLY = "I have taken this over and am looking into it now; I will update you shortly."
FIX_TEXT = "Good news: a fix has been deployed. Could you confirm it works for you now?"
