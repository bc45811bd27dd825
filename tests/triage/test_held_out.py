"""The support floor's customers write in a held-out writer's words (sandbox/floor_wording/):
no sentence of theirs is in the corpus the shipped model was fitted on, and the floor draws
every kind's wording from them, so the floor judges the rules and the model on text neither
was made from."""

from __future__ import annotations

import json
import re
from importlib import resources

from corpus import FRESH, FRESH_HERE, load_writer, writers

from tierlift.sandbox import floor_catalog as cat


def _rows(name: str) -> list[dict]:
    text = (resources.files("tierlift.sandbox") / "floor_wording" / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _sentences(text: str) -> set[str]:
    return {s.strip().lower() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.strip()) > 60}


def test_no_sentence_of_the_floor_writer_is_in_the_training_corpus():
    # Sentences over 60 characters: independent writers share stock phrases ("Please
    # escalate this ticket.", "Can that be refunded please?"), not whole sentences.
    floor = set().union(*(_sentences(f"{r.get('subject', '')}\n{r['body']}")
                          for name in ("tickets.jsonl", "followups.jsonl") for r in _rows(name)))
    assert len(floor) > 150
    trained = set().union(*(_sentences(i.text) for w in writers() for i in load_writer(w)))
    assert floor & trained == set()


def test_the_floor_draws_every_text_kind_and_near_miss_from_the_held_out_writer():
    tickets = _rows("tickets.jsonl")
    held = {(r["subject"], r["body"]) for r in tickets}
    for kind in ("outage", "security", "data_loss", "legal", "gdpr", "refund_big", "churn", "noise"):
        assert cat.WORDINGS[kind] and set(cat.WORDINGS[kind]) <= held, kind
    assert sum(len(v) for v in cat.NEAR_MISSES.values()) == sum(r["near_miss"] for r in tickets)
    assert all(set(v) <= held for v in cat.NEAR_MISSES.values())
    asks = {r["body"] for r in _rows("followups.jsonl")}
    assert cat.MANAGER_ASKS and set(cat.MANAGER_ASKS) | set(cat.MANAGER_NEAR_MISS) <= asks


def test_the_fresh_writers_are_outside_what_the_shipped_model_was_fitted_on():
    # evaluate.py --fresh scores the shipped model on them as the clean measure: not one of
    # the writers a fit reads, no sentence of theirs in the corpus.
    assert FRESH and not set(FRESH) & set(writers())
    fresh = set().union(*(_sentences(i.text) for w in FRESH for i in load_writer(w, FRESH_HERE)))
    assert len(fresh) > 150
    trained = set().union(*(_sentences(i.text) for w in writers() for i in load_writer(w)))
    assert fresh & trained - FORMULAS == set()


# Sentences two writers wrote on their own because the law or the language words them so:
# the Italian request for erasure under article 17 (lea, training, and sven, fresh, briefed
# apart); German's stock "please check urgently whether the data can be restored from a
# backup" (hana, development, and uma, fresh, briefed apart); the billing question "moving
# from monthly to annual billing to get the discount", in nearly these words by dara, hana,
# noor (fresh) and tove (training), all briefed apart; the German opening "we have received a
# letter from the Baden-Württemberg data protection commissioner", by noor (fresh) and vera
# (training), briefed apart, whose tickets go on differently (a customer's complaint; a former
# patient's); the English formula "I am formally requesting that this matter be escalated to
# senior management", by chloe (rotation) and zeb (fresh), briefed apart, whose tickets go on
# differently (an SLA report; a hotel's channel connection); the German closing "please forward
# this letter to your legal department", by nell (fresh) and jon (training), briefed apart,
# whose letters are about other things (a regulator's inquiry; a logo used without consent).
FORMULAS = {"bitte leiten sie dieses schreiben an ihre rechtsabteilung weiter.",
            "i am formally requesting that this matter be escalated to senior management.",
            "wir haben ein schreiben des landesbeauftragten für datenschutz baden-württemberg erhalten.",
            "chiedo la cancellazione di tutti i miei dati personali ai sensi dell'art.",
            "bitte prüfen sie dringend, ob die daten aus einem backup wiederhergestellt werden können.",
            "we're considering moving from monthly to annual billing to get the discount."}
