"""What the helpdesk's record says people did: who moved a ticket, who added a tag.

Read from `Ticket.history` (Zendesk audits, the Jira changelog), which the
connector loads together with the comments. Every function here is pure and
returns None when the record does not say: the caller decides whether to ask
for the history (`Decision.needs_comments`) or to go on without it.

Invariants:
- changes made by tierlift's own account, triggers or automations
  (`Change.automated`) never count as a person's;
- "new facts" after a move down are only what arrived after it: customer
  comments written later and tags a person added later.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tierlift.engine.model import EMPTY, Change, Ticket


def last_human_team_change(ticket: Ticket, team: str | None) -> Change | None:
    """The last change of the ticket's team made by a person, preferring one to `team`."""
    changes = [c for c in ticket.history or () if c.field == "team" and not c.automated]
    to_team = [c for c in changes if c.after == team]
    picked = to_team or changes
    return max(picked, key=lambda c: c.at) if picked else None


def tag_added_by(ticket: Ticket, tag: str) -> Change | None:
    """The last change by a person that added `tag` (the agent who applied it)."""
    changes = [c for c in ticket.history or () if c.field == "tags" and tag in c.added and not c.automated]
    return max(changes, key=lambda c: c.at) if changes else None


def tag_added_at(ticket: Ticket, tag: str) -> datetime | None:
    """When `tag` was last added, by anyone (tierlift's own tier tags included)."""
    times = [c.at for c in ticket.history or () if c.field == "tags" and tag in c.added]
    return max(times) if times else None


def tags_added_since(ticket: Ticket, since: datetime) -> frozenset[str]:
    """Tags on the ticket now that a person added after `since`."""
    added = {t for c in ticket.history or () if c.field == "tags" and not c.automated and c.at > since
             for t in c.added}
    return frozenset(added & ticket.tags)


def fresh_ticket(ticket: Ticket, since: datetime) -> Ticket:
    """The ticket as only its facts newer than `since` describe it.

    After a move down (a de-escalation, a person moving it to a lower tier),
    the text that escalated it before is old news: a content rule may move
    it up again only on what arrived since. That is the customer's later
    public comments and the tags a person added later; time-based conditions
    count from the move.
    """
    comments = tuple(c for c in ticket.comments or () if c.public and not c.by_agent and c.created_at > since)
    return replace(ticket, subject="", description="", comments=comments, tags=tags_added_since(ticket, since),
                   custom_fields=EMPTY, created_at=max(ticket.created_at, since), version=f"{ticket.version}@fresh")


def customer_subject(ticket: Ticket) -> str:
    """The subject as the ticket was created with it (the customer's words), not as a person
    renamed it since: an agent's "Reports slow -- ANGRY customer, churn risk, do NOT offer
    credits" went out in a public reply that quoted the subject (QA, a CX lead). The first
    subject change's value before it; the subject itself when the history shows none."""
    first = min((c for c in ticket.history or () if c.field == "subject"), key=lambda c: c.at, default=None)
    return first.before if first is not None and first.before is not None else ticket.subject
