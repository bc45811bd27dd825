"""Builders for engine tests."""

from __future__ import annotations

from datetime import UTC, datetime

from tierlift.engine.model import Comment, Organization, Ticket


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def make_ticket(**kw) -> Ticket:
    base = dict(
        id="101",
        subject="Cannot export report",
        description="The export button does nothing.",
        status="open",
        created_at=utc(2026, 11, 2, 14, 0),  # Monday 09:00 in New York
        updated_at=utc(2026, 11, 2, 14, 0),
        version="v1",
    )
    base.update(kw)
    return Ticket(**base)


def org(plan: str = "enterprise", arr: float = 120000, health: float = 72) -> Organization:
    return Organization("9", "Acme Corp", plan, arr, health, "jane@acme.com")


def note(body: str, at: datetime, public: bool = False, by_agent: bool = True) -> Comment:
    return Comment("agent@example.com", body, public, at, by_agent)
