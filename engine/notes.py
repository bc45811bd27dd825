"""The texts tierlift writes: the structured escalation note and its siblings.

The escalation note follows seed 000's "Escalation Note Template" field by
field (so the receiving tier never asks the customer to repeat themselves,
pitfall 1), plus SLA status and the policy's name, and ends with the marker
line of `marker.py`. Values are JSON-quoted so the note is also valid YAML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from tierlift.engine.durations import format_business, format_left
from tierlift.engine.model import Ticket
from tierlift.engine.sla import ClockReading
from tierlift.engine.triage import TriageSpec, Verdict

# Headings agents write in a manual escalation's internal note.
_CONTEXT_KEYS = {
    "summary": "summary",
    "symptoms": "symptoms",
    "steps taken": "steps_taken",
    "steps tried": "steps_taken",
    "what we tried": "steps_taken",
    "customer impact": "customer_impact",
    "business impact": "business_impact",
    "suggested next step": "suggested_next_step",
    "next step": "suggested_next_step",
    "escalation reason": "escalation_reason",
    "reason": "escalation_reason",
    "impact": "customer_impact",
}
# A heading as people write it: "Steps taken:", "**Customer impact:**", and seed 000's template
# keys ("steps_taken:", "customer_impact:"): a space or an underscore between the words.
_KEYS = "|".join(k.replace(" ", r"[\s_]+") for k in sorted(_CONTEXT_KEYS, key=len, reverse=True))
_HEADING = re.compile(r"^\s*[#*]*\s*(" + _KEYS + r")\s*[*]*\s*:\s*(.*)$", re.I)
# A heading after a sentence on the same line starts a line of its own ("Steps taken: a
# restart. Customer impact: 40 users blocked."); a heading word inside a sentence does not
# ("asked for the reason: none given").
_INLINE = re.compile(r"(?<=[.;!?|])\s+(?=[#*]*\s*(?:" + _KEYS + r")\s*[*]*\s*:)", re.I)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+(.*)$")


# Sections every tier adds to ("what has already been tried", seed 000): the steps of all of
# them, oldest first. Any other section is the newest text's: L2's customer impact, not L1's.
_ADDED_TO = frozenset({"steps_taken"})


def extract_context(ticket: Ticket) -> dict[str, list[str]]:
    """Sections such as 'Steps taken:' found in the agents' comments (on Zendesk the first
    comment is the description, an agent's when an agent opened the ticket); the description
    itself only where the comments are not loaded (a note built without them).

    The first text that gave a section used to win, so an L2 -> L3 note carried L1's
    steps and impact and dropped what L2 had tried and found since. The customer's own
    description counted as context: a customer who wrote "Steps taken:" and "Customer
    impact:" in a portal request passed a manual escalation's gate on an agent's bare tag, and
    the note called the customer's words the agents' steps (QA, a Jira admin)."""
    # tierlift's own notes quote the headings as instructions: never read them as context.
    texts = [*([ticket.description] if ticket.comments is None else []),
             *(c.body for c in (ticket.comments or ()) if c.by_agent and "[tierlift " not in c.body)]
    found: dict[str, list[str]] = {}
    for text in texts:  # oldest first: the description, then the comments as written
        own: dict[str, list[str]] = {}
        _read_sections(text, own)
        for key, items in own.items():
            if not any(x.strip(" .…-") for x in items):
                continue
            found[key] = list(dict.fromkeys([*found.get(key, []), *items])) if key in _ADDED_TO else items
    return {key: _bounded(key, items) for key, items in found.items()}


# What one section of the agents' context may bring into a note. A log pasted under "Steps
# taken:" made a note of 432,000 characters: nobody reads that at 3 a.m., and Jira refuses a
# comment over 32,767 characters, so the escalation never landed. The rest stays in the ticket.
SECTION_LINES = 8
LINE_CHARS = 240


def _bounded(key: str, items: list[str]) -> list[str]:
    """A section's lines, each cut to LINE_CHARS, at most SECTION_LINES of them: the first ones,
    or for steps (gathered across comments, oldest first) the newest, saying how many are left."""
    lines = [x if len(x) <= LINE_CHARS else x[:LINE_CHARS - 3] + "..." for x in items]
    if len(lines) <= SECTION_LINES:
        return lines
    left = len(lines) - SECTION_LINES + 1
    if key in _ADDED_TO:
        return [f"({left} earlier lines in the ticket)", *lines[-(SECTION_LINES - 1):]]
    return [*lines[:SECTION_LINES - 1], f"({left} more lines in the ticket)"]


def _read_sections(text: str, found: dict[str, list[str]]) -> None:
    """One text's sections into `found`; a section given twice in the text keeps its first."""
    current: str | None = None
    for line in _INLINE.sub("\n", text).splitlines():
        m = _HEADING.match(line)
        if m:
            current = _CONTEXT_KEYS[" ".join(m.group(1).lower().replace("_", " ").split())]
            if current in found:
                current = None  # an earlier comment already gave this section
            else:
                rest = m.group(2).strip()
                found[current] = [rest] if rest else []
        elif current is not None and not _section_line(line, found[current]):
            current = None


def _section_line(line: str, items: list[str]) -> bool:
    """Adds a section's line (a bullet or text); False when the section ends (a blank line after content)."""
    b = _BULLET.match(line)
    if b:
        items.append(b.group(1).strip())
    elif not line.strip():
        return not items
    else:
        items.append(line.strip())
    return True


# One encoder for every quoted value: json.dumps with a non-default option
# builds a new JSONEncoder per call, a tenth of building a note (engine bench).
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _q(value: object) -> str:
    return _ENCODE(value) if value is not None else "null"


def _money(value: float | None) -> str | None:
    return f"${value:,.0f}" if value is not None else None


def _sentences(ticket: Ticket, limit: int = 5) -> list[str]:
    """The description's first sentences (the symptoms quote three, the impact reads five)."""
    return [s for s in re.split(r"(?<=[.!?])\s+", " ".join(ticket.description.split()), maxsplit=limit)[:limit] if s]


def _newest_words(ticket: Ticket, limit: int = 2) -> list[str]:
    """The first sentences of the customer's newest follow-up, when they wrote one after the
    description: what the ticket says now comes first (QA: an outage reported in a follow-up
    was escalated with the dismissed "a few of us gave up" as its symptoms and impact)."""
    description = " ".join(ticket.description.split())
    newest = next((c for c in reversed(ticket.comments or ()) if c.public and not c.by_agent and not c.automated
                   and " ".join(c.body.split()) != description and c.body.strip()), None)
    if newest is None:
        return []
    text = " ".join(newest.body.split())
    return [s for s in re.split(r"(?<=[.!?])\s+", text, maxsplit=limit)[:limit] if s]


@dataclass(frozen=True)
class NoteInput:
    ticket: Ticket
    policy_name: str
    tier_from: int
    tier_to: int
    tier_name: str
    team: str
    rule: str
    reason: str
    now: datetime
    clocks: tuple[ClockReading, ...]
    next_step: str | None
    context: Mapping[str, list[str]]
    marker: str
    day_hours: float = 24.0  # the clocks' calendar: what a business day is in the SLA status
    escalated_by: str | None = None  # the agent who asked for it (manual tag), else the rule
    # When the receiving tier's first response is due, on its own calendar (an on-call tier's
    # too), as the customer is promised it: the clocks above are the tier the ticket leaves.
    response_due: str | None = None


def escalation_note(n: NoteInput) -> str:
    lines = [
        f"{'Escalated' if n.tier_to > n.tier_from else 'De-escalated'} L{n.tier_from} -> L{n.tier_to}"
        # A person's request (a manual tag, a triage confirmation) named where it is first read
        # (QA: "by tierlift" over a move the triage lead confirmed, escalated_by naming her).
        f" ({n.tier_name}, team {n.team}) by tierlift"
        f"{', at the request of ' + plain(n.escalated_by) if n.escalated_by else ''}: {plain(n.reason)}",
        "",
        "escalation_note:",
        f"  ticket_id: {_q(n.ticket.id)}",
        f"  escalated_from: L{n.tier_from}",
        f"  escalated_to: L{n.tier_to}",
        f"  escalated_by: {_q(n.escalated_by or 'tierlift (rule ' + n.rule + ')')}",
        f"  timestamp: {_q(n.now.strftime('%Y-%m-%dT%H:%M:%SZ'))}",
        *_customer_context(n.ticket),
        *_issue(n.ticket, n.context),
        *_steps_and_next(n),
        *_sla_status(n),
        f"  policy: {_q(n.policy_name)}",
        "",
        n.marker,
    ]
    return "\n".join(lines)


def _customer_context(t: Ticket) -> list[str]:
    org = t.organization
    name, plan, health, arr, contact = (
        (org.name, org.plan, org.health_score, _money(org.arr), org.primary_contact) if org
        else (None, None, None, None, None))
    return [
        "  customer_context:",
        f"    account: {_q(name)}",
        f"    tier: {_q(plan)}",
        f"    health_score: {_q(health)}",
        f"    arr: {_q(arr)}",
        f"    primary_contact: {_q(contact or t.requester)}",
    ]


def _issue(t: Ticket, ctx: Mapping[str, list[str]]) -> list[str]:
    # The summary is what a page about the escalation quotes (service/ops/notify.py): as plain as a reply.
    summary = plain((ctx.get("summary") or [t.subject])[0]) or untitled(t)
    lines = ["  issue:", f"    summary: {_q(summary)}", "    symptoms:"]
    newest, first = _newest_words(t), _sentences(t)
    sentences = newest + first
    lines += [f"      - {_q(plain(s))}" for s in (ctx.get("symptoms") or [x[:200] for x in sentences[:3]]
                                                  or ["(no description)"])]
    # The newest follow-up's sentence first: a recurrence's note quoted the first occurrence's
    # "since about 2:50am" a day later (QA, on call).
    impact = (" ".join(ctx.get("customer_impact", [])) or _impact_in_words(newest) or _impact_in_words(first)
              or "not stated")
    lines += [
        f"    customer_impact: {_q(impact)}",
        f"    business_impact: {_q(' '.join(ctx.get('business_impact', [])) or _business_impact(t))}",
    ]
    return lines


# Words that say who or what a problem reaches (people, money, a deadline, production), as
# the words of a sentence are compared: a set lookup per word (a regex over the whole text
# cost the engine a fifth of teamflow's first evaluations, each of which writes a note).
_IMPACT = frozenset("all every everyone everybody nobody none whole entire customer customers client clients user "
                    "users staff order orders revenue sales payment payments checkout cart carts blocked deadline "
                    "go-live production payroll patient patients student students shipment shipments shoppers "
                    "buyers purchase purchases guests visitors members subscribers losing".split())
_STRIP = ".,;:!?()[]\"'"


def _impact_in_words(sentences: list[str]) -> str | None:
    """Without an agent's "Customer impact:", the customer's own sentence (of the first few)
    that says most about who or what is affected, quoted as theirs (QA: "not stated" on "Our
    production API is down for all users")."""
    best, said = 0, ""
    for sentence in sentences:
        hits = sum(1 for w in sentence[:400].lower().split() if w.strip(_STRIP) in _IMPACT)
        if hits > best:
            best, said = hits, sentence
    return f"in the customer's words: {plain(said[:200])}" if best else None


def _steps_and_next(n: NoteInput) -> list[str]:
    ctx = n.context
    next_step = (' '.join(ctx.get('suggested_next_step', [])) or n.next_step
                 or 'Review the ticket history and contact the customer.')
    return [
        "  steps_taken:",
        *_steps_lines(n.ticket, ctx),
        f"  escalation_reason: {_q(plain(' '.join(ctx.get('escalation_reason', [])) or n.reason))}",
        f"  suggested_next_step: {_q(next_step)}",
    ]


def _steps_lines(t: Ticket, ctx: Mapping[str, list[str]]) -> list[str]:
    """The note's steps_taken items: the agents' "Steps taken:", else their own newest words."""
    return [f"    - {_q(s)}" for s in (ctx.get("steps_taken") or _agents_words(t) or ["none recorded"])]


def _agents_words(t: Ticket, limit: int = 3, width: int = 160) -> list[str]:
    """Without a "Steps taken:" heading, what the agents wrote is what was tried: the newest
    `limit` of their notes and replies, each quoted from its start with its time.
    "none recorded" on a ticket two agents had worked in free text sent L2 back to the start."""
    worked = [c for c in (t.comments or ()) if c.by_agent and not c.automated and c.body.strip()
              and "[tierlift " not in c.body]
    out = []
    for c in worked[-limit:]:
        text = " ".join(c.body.split())
        quote = text if len(text) <= width else text[:width - 3] + "..."
        out.append(f"agent {'reply' if c.public else 'note'} {c.created_at:%Y-%m-%d %H:%M}Z: {quote}")
    return out


def _sla_status(n: NoteInput) -> list[str]:
    due = [f"    L{n.tier_to}_first_response_due: {_q(n.response_due)}"] if n.response_due else []
    if not n.clocks:
        return ["  sla_status:", "    none: \"no SLA target at this tier\"", *due]
    lines = ["  sla_status:", *due]
    for c in n.clocks:
        # A tier's clock that had not met its target stops when the ticket leaves the tier:
        # "(running)" on L1's clock in an L1 -> L2 note read as if L1 still owed the reply.
        state = "met" if c.stopped else "paused" if c.paused else \
            "running" if n.tier_from == n.tier_to else f"stopped as it left L{n.tier_from}"
        used = f"{c.share:.0f}% of {format_business(c.target, n.day_hours)} used"
        # Named by the tier they belong to (the one the ticket leaves): beside the receiving
        # tier's due time, a bare "first_response" read as L3's (QA, on call).
        lines.append(f"    L{n.tier_from}_{c.metric}: {_q(f'{used}, {format_left(c.left, n.day_hours)} ({state})')}")
    return lines


def _business_impact(t: Ticket) -> str:
    org = t.organization
    if org and org.arr:
        return f"Account worth {_money(org.arr)} ARR" + (f", health score {org.health_score:g}" if org.health_score is not None else "")
    return "not stated"


def refusal_note(ticket: Ticket, missing: list[str], tag: str, trigger_tag: str) -> str:
    names = ", ".join(m.replace("_", " ") for m in missing)
    return (
        f"tierlift did not escalate ticket {ticket.id}: a manual escalation needs context ({names} missing).\n"
        "Add an internal note with these headings, then keep the '"
        f"{trigger_tag}' tag:\n\nSteps taken:\n- ...\nCustomer impact: ...\n\n"
        f"(tagged '{tag}' until the context is there)"
    )


def reroute_note(ticket: Ticket, tier: int, tier_name: str, before: str | None, team: str, reason: str,
                 actor: str | None) -> str:
    by = f" (confirmed by {actor})" if actor else ""
    return (f"Re-routed within L{tier} ({tier_name}) from team {before or '(none)'} to {team} by tierlift{by}: "
            f"{plain(reason)}.\nThe ticket stays at L{tier}; {team} owns this incident now.")


def severity_note(ticket: Ticket, tier: int, tier_name: str, severity: str, channels: tuple[str, ...],
                  urgent: bool) -> str:
    """The note of a severity's pages at the tier the ticket is at. It says what the ticket is
    about as an escalation note does: the page quotes its summary, and the engineer paged at
    3 a.m. reads the symptoms, the impact and what was tried here (QA, on call: the P0 page's
    summary was empty, and the note said only that it paged)."""
    pages = ", ".join(channels)
    prio = " and set its priority to urgent (Jira: Highest)" if urgent else ""
    ctx = extract_context(ticket)
    return "\n".join([
        f"{severity or 'Severity'} on ticket {ticket.id}, already at L{tier} ({tier_name}): tierlift paged {pages}{prio}.",
        f"The ticket stays at L{tier} with its team; no move, no customer notice.",
        "",
        "severity_page:",
        f"  severity: {_q(severity or None)}",
        *_issue(ticket, ctx),
        "  steps_taken:",
        *_steps_lines(ticket, ctx),
    ])


def top_tier_note(ticket: Ticket, tier: int, tier_name: str, tags: tuple[str, ...]) -> str:
    names = ", ".join(f"'{t}'" for t in tags)
    return (
        f"tierlift did not escalate ticket {ticket.id}: it is at L{tier} ({tier_name}), the top tier, and there is "
        f"no tier above it to escalate to.\ntierlift removed the tag {names}; the L{tier} team owns the ticket."
    )


def _thin(score: float, asked: float) -> str:
    """A flattened reading in the band says how sure the model was of the few words (QA: "App
    dead" said "Confidence 0.35" for a text read at 0.97, and an agent would dismiss it)."""
    return (f", read from only a few words ({asked:.2f} before weighing for how little they say)"
            if round(asked, 2) > round(score, 2) else "")


def triage_review_note(ticket: Ticket, rule: str, rule_text: str, verdict: Verdict, spec: TriageSpec,
                       tag: str, confirm_tag: str, dismissed_tag: str,
                       also: list[tuple[str, float, str]] | None = None) -> str:
    """A review-band note: what the model read, why it is not sure, and the two answers."""
    cat = spec.category
    words = ", ".join(verdict.words.get(cat, ())) or "none"
    sentence = verdict.sentence.get(cat, "")
    score, asked = verdict.score(cat), spec.asks(verdict)
    why = (f"Confidence {score:.2f}, but tierlift could not read an amount in the text, and the rule needs more than "
           f"${spec.amount_over:,.0f}: this reading moved nothing and paged nobody." if score >= spec.escalate
           and spec.amount_over is not None else
           f"Confidence {asked:.2f}, read from only a few words ({score:.2f} once weighed for how little they say): "
           "too few to act on alone, so this reading moved nothing and paged nobody." if score < (spec.review or 0) <= asked else
           f"Confidence {score:.2f}{_thin(score, asked)}: in the review band {spec.review or 0:.2f}-{spec.escalate:.2f},"
           " so this reading moved nothing and paged nobody.")
    return "\n".join([
        f"tierlift triage: ticket {ticket.id} may be {cat.replace('_', ' ')} (rule {rule}: {rule_text}).",
        why,
        *([f'The sentence that weighed most: "{plain(sentence)}"'] if sentence else []),
        f"Words that weighed most: {words}" + (f" (model {verdict.model})" if verdict.model else ""),
        f"Confirm: add the tag '{confirm_tag}' (the rule then escalates it at tierlift's next look, within a poll).",
        *[f"Also in its review band: {c.replace('_', ' ')} {s:.2f} (confirm with the tag '{t}')." for c, s, t in also or ()],
        f"Dismiss: add the tag '{dismissed_tag}' (tierlift will not ask again about what the customer has written so"
        " far; what they write next may ask again).",
        f"(tagged '{tag}')",
        # What a notification about this review quotes (the escalation note has the same key).
        f"summary: {json.dumps(plain(ticket.subject), ensure_ascii=False)}",
    ])


def retag_note(ticket: Ticket, tier: int, team: str, tag: str, removed: tuple[str, ...]) -> str:
    was = f"'{', '.join(removed)}'" if removed else "no tier tag"
    return (
        f"tierlift put the tier tag '{tag}' back on ticket {ticket.id}: it carried {was}, but it is with team"
        f" {team}, at L{tier}, where it was moved. The tier tags are tierlift's record of where a ticket is;"
        " to move it, move it to another tier's team (or use the escalation tag). Nothing else was changed:"
        f" no escalation, and L{tier}'s clocks run on from the move."
    )


def frozen_note(ticket: Ticket, moves: int, window: str, tag: str) -> str:
    return (
        f"tierlift stopped moving ticket {ticket.id} automatically: it changed tiers {moves} times "
        f"within {window} (ping-pong guard). The current tier owns it; remove the tag '{tag}' "
        "to let automatic escalation resume."
    )


def human_move_note(ticket: Ticket, tier_from: int, tier_to: int, team: str, actor: str | None,
                    at: datetime) -> str:
    who = actor or "someone (no author recorded)"
    return (
        f"Moved L{tier_from} -> L{tier_to} (team {team}) by {who} at {at:%Y-%m-%d %H:%M} UTC: tierlift records "
        f"this as a human move. The tier tags now say L{tier_to} and the L{tier_to} clocks run from the move. "
        "tierlift never undoes it: what moved the ticket before no longer counts, and it moves again only "
        f"as any L{tier_to} ticket does (something new, or its L{tier_to} clocks reaching their threshold)."
    )


def local_time(at: datetime, timezone: str) -> str:
    local = at.astimezone(ZoneInfo(timezone))
    return local.strftime("%A %d %B %Y, %H:%M %Z")


class _SafeDict(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: Mapping[str, object]) -> str:
    """Fill `{name}` placeholders; unknown names stay visible rather than failing."""
    try:
        filled = template.format_map(_SafeDict({k: ("" if v is None else v) for k, v in values.items()}))
    except (ValueError, IndexError):
        return template
    return filled if filled == template else _tidy(filled)


# What empty values leave behind: "{account} ({plan}): {subject}" for a ticket without an
# organization paged on-call with " (): Password reset".
_EMPTY_BRACKETS = re.compile(r"[ \t]*(?:\([ \t]*\)|\[[ \t]*\])")
_LEADING = re.compile(r"^[ \t]*[:,;][ \t]*", re.M)


def _tidy(text: str) -> str:
    return _LEADING.sub("", _EMPTY_BRACKETS.sub("", text))


# The placeholders a policy's texts may use (policy.py checks them at load, so a misspelt
# one is a FILE:LINE problem, not a `{bogus}` shown to a customer): every text has the
# ticket's; a notification also the move's (evaluate._notifications), the customer
# reply the receiving tier's (evaluate._customer_reply).
TICKET_PLACEHOLDERS = ("ticket_id", "subject", "description", "requester", "account", "plan", "arr",
                       "health_score", "primary_contact", "priority")
NOTIFY_PLACEHOLDERS = (*TICKET_PLACEHOLDERS, "tier_from", "tier_to", "tier_name", "team", "rule", "reason",
                       "severity", "escalation_id", "timestamp")
REPLY_PLACEHOLDERS = (*TICKET_PLACEHOLDERS, "tier_name", "tier_to", "expected_response")


# Characters a customer's words may carry that no reply, page or note should pass on: C0 and
# C1 controls (an ESC colours a terminal, a CR rewrites a line) and the Unicode line and
# paragraph separators. A subject with "\x1b[31m" was copied raw into the customer reply.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


# Jira wiki markup a customer's words may carry, which a reply, note or page written to Jira
# renders or acts on: the macros that colour, box or preformat what follows them, and user
# mentions, which notify the person named (from a customer-visible comment too). QA: the
# summary "report broken {color:red}URGENT{color} [~accountid:acc-alice-1002]" went into the
# public reply as it was. Ordinary brackets and braces ("[EXTERNAL]", "{id}") are words.
_MARKUP = re.compile(r"\{(?:color|noformat|code|quote|panel)(?::[^{}\n]*)?\}|[ \t]*\[~[^\[\]\n]*\]", re.IGNORECASE)


def plain(text: str, *, lines: bool = False) -> str:
    """`text` without control characters (a space each) and without Jira markup macros and
    mentions (`_MARKUP`); with `lines`, newlines and tabs kept."""
    if text.isprintable() and "{" not in text and "[~" not in text:
        return text  # most values: nothing to drop, and no regex pass (the engine bench)
    out = _CONTROLS.sub(" ", text)
    out = out if lines else out.replace("\n", " ").replace("\t", " ")
    return _unmarked(out, lines)


def _unmarked(text: str, lines: bool) -> str:
    out = _MARKUP.sub("", text)
    if out == text:
        return text
    while (again := _MARKUP.sub("", out)) != out:  # "{co{color}lor:red}" is markup once the inner goes
        out = again
    return out if lines else out.strip()


def untitled(ticket: Ticket, width: int = 60) -> str:
    """What stands for a ticket without a subject: the start of its description (QA: the
    customer read 'Your request "None" has been escalated', or 'Your request ""')."""
    words = plain(" ".join(ticket.description.split()))
    if not words:
        return "your request"
    return words if len(words) <= width else words[:width].rsplit(" ", 1)[0] + "..."


def template_values(ticket: Ticket, **extra: object) -> dict[str, object]:
    org = ticket.organization
    values: dict[str, object] = {
        "ticket_id": ticket.id,
        "subject": plain(ticket.subject) or untitled(ticket),
        "description": plain(ticket.description[:500], lines=True),
        "requester": plain(ticket.requester or ""),
        "account": plain(org.name) if org else "",
        "plan": plain(org.plan or "") if org else "",
        "arr": _money(org.arr) if org and org.arr is not None else "",
        "health_score": org.health_score if org and org.health_score is not None else "",
        "primary_contact": plain((org.primary_contact if org else None) or ticket.requester or ""),
        "priority": ticket.priority or "",
    }
    values.update(extra)
    return values
