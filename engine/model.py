"""The engine's common language: tickets in, decisions and actions out.

Connectors map helpdesk JSON to `Ticket` and `Action` back to API calls; the
service stores `Decision`s in its journal. Everything here is immutable, so a
ticket snapshot can be evaluated twice and give the same answer.

Invariants:
- every datetime is timezone-aware UTC;
- `Ticket.id` is the helpdesk's own id as a string (Zendesk "123", Jira "SUP-7");
- `Ticket.version` is what the helpdesk uses to detect a stale write
  (Zendesk's `updated_at` as sent back in `updated_stamp`, Jira's `updated`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})

# Normalised statuses. Connectors map their own vocabulary onto these.
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
CLOSED_STATUSES = frozenset({"solved", "closed"})
SEVERITIES = ("P0", "P1", "P2", "P3")


@dataclass(frozen=True, slots=True)
class Organization:
    """The customer's account, with the attributes policies route on."""

    id: str
    name: str
    plan: str | None = None  # "basic" | "pro" | "enterprise" (lower-case)
    arr: float | None = None  # annual contract value, in dollars
    health_score: float | None = None
    primary_contact: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # every other organization field


@dataclass(frozen=True, slots=True)
class Comment:
    author: str | None
    body: str
    public: bool
    created_at: datetime
    by_agent: bool = True
    # Written by tierlift's own account, a trigger or an automation: never a
    # tier's first response (Zendesk's first reply time ignores bot and
    # automated actions; JSM counts only an agent's "Comment: For Customers").
    automated: bool = False
    # The policy team the author works in, where the helpdesk says (Zendesk: the agent's
    # default group); None when it does not. Read only by `first_response_by: tier_team`.
    team: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One change on the ticket, with who made it (Zendesk audits, Jira changelog).

    `field` is one of "team" (group, assignee or team field, already mapped to
    a policy team name in `before`/`after` where it maps), "tags" (with
    `added`/`removed`) or "status" (normalised statuses).
    """

    at: datetime
    author: str | None
    field: str
    before: str | None = None
    after: str | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    automated: bool = False  # made by tierlift's own account or an automation


@dataclass(frozen=True, slots=True)
class StatusChange:
    at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class TierMove:
    """One entry of the tier ledger: the ticket moved from one level to another."""

    at: datetime
    from_tier: int
    to_tier: int
    rule: str
    escalation_id: str = ""
    actor: str | None = None  # the person who moved it (human moves, manual escalations)
    human: bool = False  # a person moved it; tierlift never reverts such a move


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    subject: str
    description: str
    status: str
    created_at: datetime
    updated_at: datetime
    version: str = ""
    priority: str | None = None  # "urgent" | "high" | "normal" | "low"
    tags: frozenset[str] = frozenset()
    group: str | None = None
    assignee: str | None = None
    # The policy team that the ticket's group, assignee or team field maps to,
    # as the connector reads it back (None: it maps to no policy team).
    team: str | None = None
    requester: str | None = None
    organization: Organization | None = None
    custom_fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # by name where known, else id
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # type, channel, via, tier_since ...
    # None means "not loaded": Zendesk's export carries no comments, and
    # they are fetched only for tickets whose evaluation needs them.
    comments: tuple[Comment, ...] | None = None
    # Loaded together with the comments (one read: Zendesk audits carry both,
    # a Jira issue with expand=changelog too); None means "not loaded".
    history: tuple[Change, ...] | None = None
    first_reply_at: datetime | None = None  # first public agent reply
    status_history: tuple[StatusChange, ...] = ()
    ledger: tuple[TierMove, ...] = ()  # tierlift's earlier moves of this ticket
    # False: tierlift's state has no record of this ticket although it carries a tier tag (a
    # lost or new state file), so an empty ledger does not prove that it never moved: the
    # markers of its notes tell, read when a threshold is due (issue 21.7).
    ledger_known: bool = True
    reopens: int = 0
    solved_at: datetime | None = None

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES


# --- actions -----------------------------------------------------------------
# One escalation is a list of actions that a connector folds into as few
# writes as the API allows (one Zendesk ticket update; one Jira edit plus one
# comment). The `type` strings are part of `simulate --json`'s contract.


@dataclass(frozen=True, slots=True)
class Reassign:
    team: str  # a policy team name; the connector maps it to a group or user
    type: str = field(default="reassign", init=False)


@dataclass(frozen=True, slots=True)
class AddTags:
    tags: tuple[str, ...]
    type: str = field(default="add_tags", init=False)


@dataclass(frozen=True, slots=True)
class RemoveTags:
    tags: tuple[str, ...]
    type: str = field(default="remove_tags", init=False)


@dataclass(frozen=True, slots=True)
class InternalNote:
    body: str  # ends with the machine-readable marker line
    type: str = field(default="internal_note", init=False)


@dataclass(frozen=True, slots=True)
class PublicReply:
    body: str
    type: str = field(default="public_reply", init=False)


@dataclass(frozen=True, slots=True)
class SetPriority:
    priority: str
    type: str = field(default="set_priority", init=False)


@dataclass(frozen=True, slots=True)
class Notify:
    channel: str
    subject: str
    body: str
    type: str = field(default="notify", init=False)


@dataclass(frozen=True, slots=True)
class Flag:
    """A condition a human must look at (frozen ticket, missing context, review due).

    Written back as the tag `flag`; kept apart from AddTags so that reports
    and plans can tell a flag from routing.
    """

    flag: str
    reason: str
    type: str = field(default="flag", init=False)


Action = Reassign | AddTags | RemoveTags | InternalNote | PublicReply | SetPriority | Notify | Flag
ACTION_TYPES = ("reassign", "add_tags", "remove_tags", "internal_note", "public_reply", "set_priority", "notify",
                "flag")
# Every Decision.kind the engine gives (a policy's fixture cases expect one by name).
DECISION_KINDS = ("none", "escalate", "route", "reroute", "de-escalate", "human-move", "reminder", "refused",
                  "frozen", "review", "fix-not-held", "triage-review", "unknown-tier", "confirmed")


def action_to_dict(action: Action) -> dict[str, Any]:
    """The JSON shape of an action, as `simulate --json` and the journal show it."""
    out: dict[str, Any] = {"type": action.type}
    for name in action.__slots__:
        if name != "type":
            value = getattr(action, name)
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


@dataclass(frozen=True, slots=True)
class Decision:
    ticket_id: str
    tier_before: int
    tier_after: int
    actions: tuple[Action, ...]
    reasons: tuple[str, ...]
    wake_up: datetime | None  # when to evaluate again though nothing changed
    rule: str | None = None  # the rule that moved or touched the ticket
    escalation_id: str | None = None  # idempotency key, also in the note marker
    # one of DECISION_KINDS; unknown-tier: left alone (a tier tag the policy lacks, on a ticket
    # no tier's team holds); confirmed: left alone (the customer said it works, engine.confirm)
    kind: str = "none"
    # The engine could not decide without the ticket's comments (not loaded):
    # the service loads them and evaluates again.
    needs_comments: bool = False
    # Who moved or asked (a human move's author, the agent who applied a
    # manual escalation tag), for the ledger's TierMove.actor; a "human-move"
    # decision's TierMove has human=True and its `at` is the move's time
    # (the marker's at=), not the time the tags were fixed.
    actor: str | None = None
    # What the triage model read, where a reading decided (a review, a move a triage
    # condition fired): an engine.triage.TriageRead. Not part of the decision's identity.
    read: Any = field(default=None, compare=False)

    @property
    def has_actions(self) -> bool:
        return bool(self.actions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket_id,
            "tier_before": self.tier_before,
            "tier_after": self.tier_after,
            "actions": [action_to_dict(a) for a in self.actions],
            "reasons": list(self.reasons),
            "wake_up": self.wake_up.isoformat().replace("+00:00", "Z") if self.wake_up else None,
            "rule": self.rule,
            "escalation_id": self.escalation_id,
            "kind": self.kind,
            "actor": self.actor,
        }
