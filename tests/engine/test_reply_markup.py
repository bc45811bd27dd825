"""Jira wiki markup and user mentions in a customer's words never reach what tierlift writes.
Found by a QA session: the summary `RE: FW: [EXTERNAL] report broken {color:red}URGENT{color}
[~accountid:acc-alice-1002]` went into the public reply as it was; in Jira the macro renders
and the mention notifies the agent from a customer-visible comment. Ordinary brackets and
braces a customer writes ("[EXTERNAL]", "{id}") stay."""

from __future__ import annotations

from tierlift.engine.evaluate import evaluate
from tierlift.engine.model import InternalNote, Notify, PublicReply
from tierlift.engine.notes import plain
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, utc

NOW = utc(2026, 11, 2, 15, 0)
SUMMARY = "RE: FW: [EXTERNAL] report broken {color:red}URGENT{color} [~accountid:acc-alice-1002]"


def _written(d) -> list[str]:
    texts = [a.body for a in d.actions if isinstance(a, PublicReply | Notify | InternalNote)]
    return texts + [a.subject for a in d.actions if isinstance(a, Notify)]


def test_the_customer_reply_quotes_the_summary_without_markup_or_mentions():
    t = make_ticket(subject=SUMMARY, tags=frozenset({"tier_l1", "escalation_requested"}))
    d = evaluate(t, load_policy("three-tier"), NOW)
    assert d.kind == "escalate", d.reasons
    [reply] = [a.body for a in d.actions if isinstance(a, PublicReply)]
    assert 'Your request "RE: FW: [EXTERNAL] report broken URGENT" has been escalated' in reply
    for text in _written(d):
        assert "{color" not in text and "[~" not in text, text


def test_a_page_and_the_note_it_quotes_are_as_plain():
    description = "Hi [~alice], the export is down.\n{noformat}\nERROR 42 {id}\n{noformat}"
    t = make_ticket(subject=SUMMARY, description=description, tags=frozenset({"tier_l1", "p1"}))
    d = evaluate(t, load_policy("three-tier"), NOW)
    written = _written(d)
    assert any(isinstance(a, Notify) for a in d.actions), d.actions
    for text in written:
        assert "{color" not in text and "[~" not in text and "{noformat}" not in text, text
    [note] = [a.body for a in d.actions if isinstance(a, InternalNote)]
    assert 'summary: "RE: FW: [EXTERNAL] report broken URGENT"' in note
    assert "ERROR 42 {id}" in note


def test_plain_drops_macros_and_mentions_and_keeps_brackets_and_braces():
    assert plain("Ticket {id} [EXTERNAL] {{x}} [a~b] {colour}") == "Ticket {id} [EXTERNAL] {{x}} [a~b] {colour}"
    assert plain("{code:java}x = 1{code} {QUOTE}said{quote}") == "x = 1 said"
    assert plain("{panel:title=Hi|borderStyle=dashed}text{panel}") == "text"
    assert plain("[~alice] help, [~accountid:5b10a2844c20165700ede21g] too") == "help, too"
    assert plain("{co{color}lor:red}red{color}") == "red"
    assert plain("line one {color:red}\nline two", lines=True) == "line one \nline two"
    assert plain("Down \x1b[31mnow [~bob]") == "Down  [31mnow"
