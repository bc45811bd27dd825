"""What one cycle did, counted as it goes (the runner logs it and feeds the metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tierlift.engine.model import Decision


@dataclass
class CycleStats:
    read: int = 0
    evaluated: int = 0
    due: int = 0
    escalations: int = 0
    planned: int = 0
    quarantined: int = 0
    recovered: int = 0
    dropped: int = 0
    conflicts: int = 0
    held_back: int = 0  # escalations whose customer reply and pages a quiet first sync held back
    capped: int = 0  # escalations left for the next cycle by max_public_replies_per_cycle
    seconds: float = 0.0
    decisions: list[Decision] = field(default_factory=list)
    held: dict[str, list[str]] = field(default_factory=dict)  # ticket -> what the go-live limits held back


class Stop(Exception):
    """Raised between tickets when shutdown was requested."""
