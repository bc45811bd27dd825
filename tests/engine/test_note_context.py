"""What an escalation note says was tried: every tier's steps, and the newest word on the
rest (seed 000: the receiving tier "should never ask the customer to repeat information",
and every escalation carries "what has already been tried")."""

from __future__ import annotations

from datetime import timedelta

from tierlift.engine.model import Comment
from tierlift.engine.notes import extract_context

from enginekit import make_ticket, utc

T0 = utc(2026, 11, 2, 15, 0)


def test_an_l2_note_carries_l1s_steps_and_l2s_own_and_l2s_impact():
    # Before: the first text that gave a section won, so the L2 -> L3 note listed L1's steps
    # and L1's impact and dropped what L2 had tried and found.
    ticket = make_ticket(comments=(
        Comment("l1", "Steps taken:\n- checked the signing secret\nCustomer impact: no webhooks for 3 days",
                False, T0 + timedelta(minutes=45)),
        Comment("l2", "Steps taken:\n- reproduced with our test receiver\n- checked the signing secret\n"
                      "Customer impact: all webhooks rejected", False, T0 + timedelta(minutes=70)),
        Comment("carla", "Customer impact: nothing works", True, T0 + timedelta(minutes=80), by_agent=False),
    ))
    context = extract_context(ticket)
    assert context["steps_taken"] == ["checked the signing secret", "reproduced with our test receiver"]
    assert context["customer_impact"] == ["all webhooks rejected"]  # the newest agent's, not the customer's


def test_a_section_without_content_does_not_replace_one_with_content():
    ticket = make_ticket(comments=(Comment("l1", "Customer impact: 40 users cannot log in", False, T0),
                                   Comment("l2", "Customer impact: ...", False, T0 + timedelta(minutes=5))))
    assert extract_context(ticket)["customer_impact"] == ["40 users cannot log in"]


def test_free_form_agent_notes_are_what_was_tried_when_no_heading_says_it():
    # Agents rarely write "Steps taken:" unless a manual escalation asks for it. An SLA
    # escalation of a ticket two agents had worked in free text said "steps_taken: none
    # recorded", so L2 started again from the customer's first message.
    from tierlift.engine.evaluate import evaluate
    from tierlift.engine.model import InternalNote
    from tierlift.service.daemon.policies import load_policy

    long_note = "Checked the export queue: 14 jobs stuck since 09:12, restarted the worker twice. " * 3
    ticket = make_ticket(comments=(
        Comment("l1a", "Asked for the browser console log; none came.", False, T0 + timedelta(minutes=10)),
        Comment("carla", "Still broken, please hurry.", True, T0 + timedelta(minutes=20), by_agent=False),
        Comment("l1b", "Cleared the cached report template, no change.", False, T0 + timedelta(minutes=30)),
        Comment("bot", "[tierlift review] nothing to do", False, T0 + timedelta(minutes=35), automated=True),
        Comment("l1b", long_note, False, T0 + timedelta(minutes=40)),
        Comment("l1a", "Reproduced on our staging account.", False, T0 + timedelta(minutes=50)),
    ))
    d = evaluate(ticket, load_policy("three-tier"), T0 + timedelta(hours=3))
    assert (d.tier_before, d.tier_after, d.rule) == (1, 2, "sla-75pct")
    body = next(a.body for a in d.actions if isinstance(a, InternalNote))
    steps = body.split("steps_taken:\n", 1)[1].split("\n  escalation_reason:", 1)[0].splitlines()
    assert len(steps) == 3, body  # the newest three of the agents' own words
    assert steps[0].startswith('    - "agent note 2026-11-02 15:30Z: Cleared the cached report template'), steps
    assert steps[1].endswith('..."') and len(steps[1]) < 200, steps  # a long note is quoted from its start
    assert "Reproduced on our staging account." in steps[2]
    assert "none recorded" not in body and "[tierlift review]" not in body
    assert "please hurry" not in "\n".join(steps)  # the customer's words are not what was tried...
    # ...they are the symptoms, the newest first (QA: a follow-up's outage read as the first message's).
    symptoms = body.split("symptoms:\n", 1)[1].split("\n    customer_impact:", 1)[0].splitlines()
    assert symptoms[0] == '      - "Still broken, please hurry."', symptoms


def test_a_steps_heading_still_wins_over_free_text():
    ticket = make_ticket(comments=(
        Comment("l1a", "Tried a few things, see below.", False, T0 + timedelta(minutes=10)),
        Comment("l1a", "Steps taken:\n- rotated the API key", False, T0 + timedelta(minutes=20)),
    ))
    from tierlift.engine.evaluate import evaluate
    from tierlift.engine.model import InternalNote
    from tierlift.service.daemon.policies import load_policy

    d = evaluate(ticket, load_policy("three-tier"), T0 + timedelta(hours=3))
    body = next(a.body for a in d.actions if isinstance(a, InternalNote))
    assert '  steps_taken:\n    - "rotated the API key"\n  escalation_reason:' in body, body


def test_the_note_quotes_the_customers_newest_words_first_in_symptoms_and_impact():
    # QA (triage): "the dashboard is slow, a few of us gave up" was dismissed; the follow-up
    # "now it's completely down, nobody on our team can load any page" escalated, and the note's
    # symptoms and customer impact quoted the first message only.
    from tierlift.engine.evaluate import evaluate
    from tierlift.engine.model import InternalNote
    from tierlift.service.daemon.policies import load_policy

    first = "The dashboard has been really slow all morning. A few of us gave up and went back to spreadsheets."
    worse = ("Update: now it's completely down. Nobody on our team can load any page, every request gives a 502."
             " We are dead in the water.")
    ticket = make_ticket(description=first, tags=frozenset({"tier_l1", "p0"}), comments=(
        Comment("carla", first, True, T0, by_agent=False),
        Comment("carla", worse, True, T0 + timedelta(minutes=40), by_agent=False),
    ))
    d = evaluate(ticket, load_policy("three-tier"), T0 + timedelta(minutes=41))
    body = next(a.body for a in d.actions if isinstance(a, InternalNote))
    symptoms = body.split("symptoms:\n", 1)[1].split("\n    customer_impact:", 1)[0].splitlines()
    assert symptoms[:2] == ['      - "Update: now it\'s completely down."',
                            '      - "Nobody on our team can load any page, every request gives a 502."'], symptoms
    assert "customer_impact: \"in the customer's words: Nobody on our team can load any page" in body, body


def test_the_seeds_template_keys_and_headings_on_one_line_are_context():
    # QA (a support lead, 2026-12-07): a manual escalation was refused as "customer impact
    # missing" when the agent wrote both headings on one line, and "steps taken, customer
    # impact missing" when the note used seed 000's own template keys (steps_taken:,
    # customer_impact:); the ticket waited at L1 three hours for its SLA.
    one_line = make_ticket(comments=(Comment(
        "l1", "Steps taken: re-ran the sync, cleared the cache. Customer impact: 40 users cannot see departments.",
        False, T0),))
    context = extract_context(one_line)
    assert context["steps_taken"] == ["re-ran the sync, cleared the cache."]
    assert context["customer_impact"] == ["40 users cannot see departments."]
    template = make_ticket(comments=(Comment(
        "l1", "steps_taken:\n  - re-ran the sync\n  - cleared the cache\ncustomer_impact: 40 users blocked",
        False, T0),))
    context = extract_context(template)
    assert context["steps_taken"] == ["re-ran the sync", "cleared the cache"]
    assert context["customer_impact"] == ["40 users blocked"]
    plain = make_ticket(comments=(Comment("l1", "What we tried: a restart\nImpact: the whole team is blocked",
                                          False, T0),))
    assert extract_context(plain)["customer_impact"] == ["the whole team is blocked"]


def test_a_heading_word_inside_a_sentence_is_not_a_heading():
    ticket = make_ticket(comments=(Comment(
        "l1", "Asked them for the reason: they did not say. Steps taken: a restart.", False, T0),))
    context = extract_context(ticket)
    assert "escalation_reason" not in context, context
    assert context["steps_taken"] == ["a restart."]


def test_a_manual_escalation_with_its_context_on_one_line_escalates():
    from tierlift.engine.evaluate import evaluate
    from tierlift.engine.model import Change
    from tierlift.service.daemon.policies import load_policy

    at = T0 + timedelta(minutes=30)
    ticket = make_ticket(tags=frozenset({"tier_l1", "escalate"}), history=(
        Change(at, "ana@support.example", "tags", added=("escalate",)),), comments=(Comment(
            "ana@support.example", "Steps taken: re-ran the sync, cleared the cache. Customer impact: 40 users "
            "cannot see departments.", False, at),))
    d = evaluate(ticket, load_policy("three-tier"), at + timedelta(minutes=1))
    assert (d.kind, d.tier_after, d.rule) == ("escalate", 2, "manual"), d.reasons


def test_a_log_pasted_under_a_heading_gives_a_note_jira_takes_with_the_newest_steps():
    """An agent pasted 3,000 log lines under "Steps taken:" (and 3,000 rows under "Symptoms:"):
    the note quoted all of it, 432,000 characters, which Jira refuses (a comment
    holds 32,767), so the manual escalation was quarantined and never landed."""
    from tierlift.engine.notes import NoteInput, escalation_note

    log = "Steps taken:\n" + "\n".join(f"- retried job {i}: ERROR java.lang.NullPointerException at "
                                       f"com.acme.worker.Run(Run.java:{i}) " + "x" * 400 for i in range(3000))
    rows = "Symptoms:\n" + "\n".join(f"row {i} missing from the export file" for i in range(3000))
    ticket = make_ticket(comments=(
        Comment("l1", "Steps taken:\n- restarted the export worker", False, T0),
        Comment("l1", rows, False, T0 + timedelta(minutes=1)),
        Comment("l2", log, False, T0 + timedelta(minutes=30))))
    context = extract_context(ticket)
    note = escalation_note(NoteInput(ticket, "three-tier", 2, 3, "Engineering", "l3", "manual", "manual escalation",
                                     T0 + timedelta(hours=1), (), None, context, "[tierlift marker]"))
    assert len(note) < 20_000 and note.endswith("[tierlift marker]")
    assert "retried job 2999" in note and "retried job 2000" not in note  # the newest steps
    assert "(2994 earlier lines in the ticket)" in note  # 3,001 steps, 7 quoted
    assert "row 0 missing" in note and "row 2999" not in note and "(2993 more lines in the ticket)" in note
    assert max(len(line) for line in note.splitlines()) < 300


def test_the_impact_quoted_is_the_sentence_about_who_is_hurt_and_the_newest_follow_up_first():
    """QA (on call): the note's impact quoted the outage's first sentence, a symptom, over "We're
    losing orders every minute, none of our shoppers can complete a purchase."; and a day later,
    on the customer's "It's happening again!!", still quoted the first occurrence's sentence."""
    from tierlift.engine.notes import severity_note

    description = ("Hi, since about 2:50am our storefront checkout returns 502 Bad Gateway for every customer who "
                   "tries to pay. We're losing orders every minute, none of our shoppers can complete a purchase.")
    ticket = make_ticket(subject="Checkout 502", description=description, comments=())
    assert 'customer_impact: "in the customer\'s words: We\'re losing orders every minute' in \
        severity_note(ticket, 3, "Engineering", "P0", ("pagerduty",), True)
    again = Comment("carla", "It's happening again!! Checkout gives 502 for everyone since ~11:15pm.", True,
                    T0 + timedelta(days=1), by_agent=False)
    note = severity_note(make_ticket(subject="Checkout 502", description=description, comments=(again,)), 3,
                         "Engineering", "P0", ("pagerduty",), True)
    assert 'customer_impact: "in the customer\'s words: Checkout gives 502 for everyone since ~11:15pm."' in note
    assert 'summary: "Checkout 502"' in note  # what the page quotes as its summary


def test_a_customers_own_headings_are_not_the_agents_context():
    """QA (a Jira admin): a customer's portal request said "Steps taken: we re-generated the PDF
    twice. Customer impact: 300 invoices a month are wrong."; an agent added only the escalate
    tag, and the gate took the customer's words as the agents' context (the note listed them
    as the agents' steps). Only the agents' own text is context; on Zendesk the description is
    the first comment, an agent's when an agent opened the ticket."""
    said = "The invoice PDF shows the wrong VAT.\nSteps taken: we re-generated the PDF twice.\nCustomer impact: 300 invoices"
    by_customer = make_ticket(description=said, comments=(Comment("carla", said, True, T0, by_agent=False),))
    assert extract_context(by_customer) == {}
    by_agent = make_ticket(description=said, comments=(Comment("ana", said, True, T0),))
    assert extract_context(by_agent)["steps_taken"] == ["we re-generated the PDF twice."]
