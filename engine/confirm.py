"""A customer's words that confirm the problem is gone ("Thanks, it works now!").

Narrow on purpose: a short message with a word of things working again and none of doubt,
trouble or a question. Zendesk reopens a solved ticket on the requester's reply, so the
everyday "Thanks, that worked!" reopened it, and the ticket's clocks then escalated it with
a customer email ("has been escalated to our Specialist Support team"), or its update duty
paged on-call again for a fixed outage (QA, a CX lead, both packs, both flavours). What it
misses is read as before; what it takes is left for the agents to solve again.
"""

from __future__ import annotations

import re

from tierlift.engine.model import Comment, Ticket
from tierlift.engine.sla import agent_replies

# English, Spanish, German, French, Portuguese: the languages the shipped model reads best.
_WORKS = re.compile(
    r"\b(works?|worked|working|fixed|resolved|solved|sorted|all good|back to normal|funciona|funcionó|resuelto"
    r"|solucionado|arreglado|funktioniert|geht wieder|gelöst|behoben|fonctionne|résolu|réglé|resolvido|resolveu)\b",
    re.IGNORECASE)
_DOUBT = re.compile(
    r"\?|\b(not|no|nope|n't|never|still|but|however|except|although|though|broke|broken|break|error|errors|fail"
    r"|fails|failed|failing|down|crash|crashed|issue|issues|problem|problems|wrong|slow|yet|partly|partially"
    r"|sometimes|only|nicht|kein|keine|noch|aber|immer|pas|encore|mais|toujours|todavía|aún|pero|nada|ainda|não"
    r"|mas|porém)\b|n't", re.IGNORECASE)
_NEVER_MIND = re.compile(r"\bnever ?mind\b|\bno worries\b|\bno problem\b", re.IGNORECASE)  # idioms, not doubt
SHORT = 240  # characters: a confirmation is a line or two, not a report


def confirms_fixed(text: str) -> bool:
    """Whether `text` is a customer's confirmation that the problem is gone."""
    words = _NEVER_MIND.sub(" ", " ".join(text.split()))
    return 0 < len(words) <= SHORT and _WORKS.search(words) is not None and _DOUBT.search(words) is None


def confirmed_since_reply(ticket: Ticket) -> Comment | None:
    """The customer's last words, when everything they wrote after the last person's public
    reply confirms the problem is gone (None: nothing so, no person has replied, or the
    comments are not loaded)."""
    replied = max(agent_replies(ticket) or (), default=None)
    if replied is None:
        return None
    since = [c for c in ticket.comments or () if c.public and not c.by_agent and c.created_at > replied]
    return since[-1] if since and all(confirms_fixed(c.body) for c in since) else None
