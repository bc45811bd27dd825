"""The shipped model's reading as the engine uses it: the features it reads are the ones it
was fitted on (`features.counts`, the fit's own path), and its explanation never fails on
the way people type (an ellipsis character from a phone keyboard, which folds to "...")."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tierlift.engine.evaluate import Evaluator
from tierlift.engine.model import InternalNote, Ticket
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.triage import shipped_classifier
from tierlift.triage.features import WORD, counts, fold
from tierlift.triage.model import load_shipped

sys.path.insert(0, str(Path(__file__).parent))
from corpus import load_writer, writers  # noqa: E402

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
_MODEL = load_shipped()

ELLIPSES = ("Hi… our whole platform is down… nobody can log in… every customer of ours sees a 503… "
            "since 8am… Please help.")


def test_an_outage_typed_with_ellipsis_characters_is_escalated_and_its_note_quotes_the_customer():
    # Before: the explanation counted sentences on the folded text ("down... nobody" is cut
    # there) and quoted from the text's own cut (not cut): IndexError, no escalation.
    ticket = Ticket("9", "Platform down", ELLIPSES, "open", NOW, NOW, tags=frozenset({"tier_l1"}), comments=())
    decision = Evaluator(load_policy("three-tier"), classifier=shipped_classifier()).evaluate(ticket, NOW)
    assert (decision.kind, decision.tier_after) == ("escalate", 3), decision.reasons
    note = next(a.body for a in decision.actions if isinstance(a, InternalNote))
    assert "triage: outage" in note and "platform is down…" in note


def test_the_reading_counts_every_feature_the_fit_counts_and_no_other():
    model = _MODEL
    texts = [item.text for name in writers() for item in load_writer(name)][::3]
    texts += [ELLIPSES, "", "...", "a.b. c!d ?e\n\nf;g: h", "Größe: 12,5 %… ça marche pas!!! \u00a0Déjà vu.\r\nOK"]
    vocabulary = model.vocabulary
    for text in texts:
        want = Counter({vocabulary[f]: n for f, n in counts(text).items() if f in vocabulary})
        walk = model._walk(text)
        assert Counter(walk.cols.tolist()) == want, text[:80]
        index, _weight, words = model._vector(text)
        assert index.tolist() == sorted(want) and words == len(walk.tokens)


WORDS = "outage down breach hacked deleted lawsuit refund manager cancel gdpr erase lost nobody can log in".split()
# Punctuation that folds into a sentence cut ("…" -> "...", fullwidth "？" -> "?") and odd spaces.
ODD = ["…", "？", "！", "．", "；", "：", "\u00a0", "\u3000", "\u2028", "\u200b", "\u0301", "ß", "İ", "ﬁ", "①", "😀"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(ODD), st.text(max_size=4)), max_size=40))
def test_every_text_explains_and_quotes_a_piece_of_itself(parts: list[str]):
    # Before the quotes were cut from the text itself, 14% of such texts failed (IndexError).
    text = " ".join(parts)
    scores, words, sentence, _thin = _MODEL.scores(text)
    assert abs(sum(scores.values()) - 1.0) < 1e-6
    for category in words:
        assert set(words[category]) <= set(WORD.findall(fold(text)))
        quote = sentence[category].removesuffix("...")
        assert quote == "" or quote in " ".join(text.split()) or quote in text


def _teamflow(description: str):
    ticket = Ticket("7", "Refund", description, "open", NOW, NOW, tags=frozenset({"tier_l1"}), comments=(), history=())
    return Evaluator(load_policy("teamflow"), classifier=shipped_classifier()).evaluate(ticket, NOW)


def test_a_sure_refund_whose_amount_cannot_be_read_asks_a_person():
    # QA (triage lead): refund read at 1.00, no amount tierlift could read, and nothing at all:
    # neither escalated (the rule needs more than $1,000) nor asked about.
    d = _teamflow("Please refund the 4,800 we paid twice for the annual plan.")
    assert d.kind == "triage-review", d.reasons
    note = next(a.body for a in d.actions if isinstance(a, InternalNote))
    assert "triage_review_refund" in note and "could not read an amount" in note, note
    # An amount in rupees or kronor, written before the number, is read (it was not).
    for text in ("Please refund Rs 2,00,000 charged twice on our annual plan.",
                 "Kindly refund Rs. 1,50,000 for the duplicate invoice."):
        d = _teamflow(text)
        assert (d.kind, d.rule) == ("escalate", "refund-over-1000"), (text, d.reasons)
    # A small refund whose amount is read stays where it is: nothing to ask.
    assert _teamflow("Please refund the $45 we were charged twice.").kind not in ("escalate", "triage-review")


def test_a_review_note_names_the_other_category_in_its_band():
    # QA (triage lead): churn 0.57 was asked about and manager 0.38, inside the manager
    # criteria's band as well, was nowhere in the note.
    from tierlift.engine.model import Organization

    text = "Honestly, get me your boss. I've been patient for two weeks."
    ticket = Ticket("8", "Still waiting", text, "open", NOW, NOW, tags=frozenset({"tier_l1"}), comments=(), history=(),
                    organization=Organization("o", "Org", "pro", 24000.0, 70.0))
    d = Evaluator(load_policy("teamflow"), classifier=shipped_classifier()).evaluate(ticket, NOW)
    assert d.kind == "triage-review", d.reasons
    note = next(a.body for a in d.actions if isinstance(a, InternalNote))
    asked = "churn" if "may be churn" in note else "manager"
    other = "manager" if asked == "churn" else "churn"
    assert f"Also in its review band: {other}" in note and f"triage_confirm_{other}" in note, note


def test_a_ticket_of_a_few_words_read_surely_asks_a_person_instead_of_nothing():
    # "App dead" reads as an outage at 0.89, flattened to 0.22 for its two words: below the
    # packs' review band (0.3), so nobody was asked and the SLA clock alone decided. A sure
    # reading of a few words now asks (review band); it still never pages on its own.
    ticket = Ticket("10", "App dead", "", "open", NOW, NOW, tags=frozenset({"tier_l1"}), comments=(), history=())
    d = Evaluator(load_policy("three-tier"), classifier=shipped_classifier()).evaluate(ticket, NOW)
    assert (d.kind, d.tier_after) == ("triage-review", 1), d.reasons
    note = next(a.body for a in d.actions if isinstance(a, InternalNote))
    assert "may be outage" in note and "read from only a few words" in note, note
    # A long text is read as it is: nothing kept from before flattening.
    assert not _MODEL.scores(ELLIPSES).thin and _MODEL.scores("App dead").thin["outage"] > 0.65


def test_a_short_follow_up_read_surely_keeps_its_unflattened_reading_in_the_whole_tickets():
    from tierlift.engine.triage import Verdict, combine

    long = Verdict({"outage": 0.1, "none": 0.8})
    short = Verdict({"outage": 0.25, "none": 0.15}, thin={"outage": 0.9, "none": 0.05})
    both = combine([long, short])
    assert (both.score("outage"), both.asks("outage"), both.asks("none")) == (0.25, 0.9, 0.15)


def test_a_subject_fitted_alone_teaches_short_texts_but_no_word_of_one_ticket():
    from tierlift.triage.fit import fit, with_subjects

    tickets = [("Zorblax outage", "nothing loads for anyone", "outage"),
               ("Site down", "every page is blank for our customers", "outage"),
               ("Site down?", "is the site down for maintenance tonight?", "none"),
               ("Invoice copy", "please send a copy of the March invoice", "none")]
    texts, labels, repeats = with_subjects(tickets)
    assert texts[1] == "Zorblax outage\n" and repeats == [False, True] * 4 and labels[1] == "outage"
    model = fit(texts, labels, "t", repeats=repeats)
    # "zorblax" is in one ticket (and its subject again): still one ticket, not a feature.
    assert not any("zorblax" in f for f in model.vocabulary)
    assert any("site" in f for f in model.vocabulary)
