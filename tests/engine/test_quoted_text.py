"""Lines a message quotes from earlier messages (`> `) are not the writer's words: rules and
the classifier read a ticket without them, unless a message is nothing but a quote (a
forward with nothing added), which is read whole. Found by a QA session: a customer's reply
quoting another company's "I want to speak to your manager" was escalated as a customer
asking for a manager."""

from __future__ import annotations

from dataclasses import replace

from tierlift.engine.conditions import TicketView, own_words
from tierlift.engine.evaluate import Evaluator
from tierlift.engine.model import Comment
from tierlift.engine.triage import Verdict
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, utc

NOW = utc(2026, 11, 2, 15, 0)

REPLY = """Thanks, we will check the export settings on our side and get back to you.

On Mon, 2 Nov 2026 at 09:12, Bob Vendor <bob@othercorp.example> wrote:
> This is unacceptable. I want to speak to your manager today.
>
>> Hi Bob, the report export is delayed, sorry.
> Bob"""


def _three_tier(ticket):
    return Evaluator(load_policy("three-tier")).evaluate(ticket, NOW)


def test_a_manager_asked_for_only_in_a_quoted_email_escalates_nothing():
    d = _three_tier(make_ticket(subject="RE: export delayed", description=REPLY, tags=frozenset({"tier_l1"})))
    assert d.kind != "escalate", d.reasons
    assert d.tier_after == 1


def test_the_same_words_written_by_the_customer_still_escalate():
    own = "I want to speak to your manager today.\n\n> Hi, the report export is delayed, sorry."
    d = _three_tier(make_ticket(subject="RE: export delayed", description=own, tags=frozenset({"tier_l1"})))
    assert d.kind == "escalate" and d.tier_after == 2


def test_a_forward_with_nothing_added_is_read_whole():
    forward = "On Mon, 2 Nov 2026, Carla <carla@acme.example> wrote:\n> I want to speak to your manager today."
    d = _three_tier(make_ticket(subject="FW: export delayed", description=forward, tags=frozenset({"tier_l1"})))
    assert d.kind == "escalate" and d.tier_after == 2


def test_a_follow_up_quoting_someone_else_is_read_without_the_quote():
    said = Comment("jane@acme.example", REPLY, True, utc(2026, 11, 2, 14, 30), by_agent=False)
    ticket = make_ticket(comments=(said,), tags=frozenset({"tier_l1"}))
    d = _three_tier(ticket)
    assert d.kind != "escalate", d.reasons
    own = replace(said, body="Please escalate this, it has been a week.\n> Any news?")
    assert _three_tier(replace(ticket, comments=(own,), version="v2")).kind == "escalate"


class _Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def classify(self, text: str) -> Verdict:
        self.texts.append(text)
        return Verdict({"none": 1.0}, "recorder")


def test_the_classifier_reads_the_customer_s_own_lines():
    said = Comment("jane@acme.example", REPLY, True, utc(2026, 11, 2, 14, 30), by_agent=False)
    ticket = make_ticket(description="Export fails.\n>> Old text: please escalate.", comments=(said,))
    reader = _Recorder()
    TicketView(ticket, classifier=reader).verdict()
    assert reader.texts and all("manager" not in t and "Old text" not in t for t in reader.texts)
    assert any("export settings" in t for t in reader.texts)
    view = TicketView(ticket)
    assert "manager" not in view.text and "old text" not in view.description and "manager" not in view.comments


def test_quote_markers():
    assert own_words("Mine.\n>quoted\n> > twice\n>>nested\n  > indented") == "Mine."
    # A comparison at the start of a line is the writer's own.
    assert own_words("Errors on\n>50% of logins\n>= 3 regions") == "Errors on\n>50% of logins\n>= 3 regions"
    # An attribution line is dropped only above a quote.
    assert own_words("Bob wrote:\nhis words, retyped") == "Bob wrote:\nhis words, retyped"
    assert own_words("Mine.\nAm 2.11. schrieb Bob:\n\n> seins") == "Mine.\n"
    # Nothing of its own: read as it is.
    assert own_words("> all\n> quoted") == "> all\n> quoted"
    assert own_words("No quote -> here") == "No quote -> here"
