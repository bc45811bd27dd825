"""The sandbox helpdesk's data: tickets (Zendesk shape) or issues (Jira shape), its clock.

One lock guards everything: the HTTP server is threaded, and a test may read
the store while the daemon writes through the API.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

ISO = "%Y-%m-%dT%H:%M:%SZ"


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime(ISO)


def jira_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class SandboxClock:
    """Helpdesk time: set to an instant, then frozen (speed 0) or running `speed` x real time."""

    def __init__(self, now: datetime | None = None, speed: float = 0.0):
        self._lock = threading.Lock()
        self._base = (now or datetime.now(UTC)).astimezone(UTC)
        self._t0 = time.monotonic()
        self.speed = speed

    def now(self) -> datetime:
        with self._lock:
            return self._base + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def set(self, now: datetime, speed: float | None = None) -> None:
        with self._lock:
            self._base = now.astimezone(UTC)
            self._t0 = time.monotonic()
            if speed is not None:
                self.speed = speed

    def advance(self, delta: timedelta) -> None:
        self.set(self.now() + delta)


# Policy teams of the shipped packs: they exist as Zendesk groups and Jira users.
TEAMS = ["support-generalists", "support-specialists", "engineering-oncall", "Technical Support", "Billing",
         "Product Info", "Senior Technical Specialist", "Billing Manager", "Product Manager", "Support Manager",
         "Engineering Manager", "Finance Director", "VP Customer Success", "CTO", "CEO", "tier1", "tier2"]
REFUND_FIELD, SEVERITY_FIELD = 360000000101, 360000000102

NOISE = [
    ("How do I export a report?", "Where is the export button for monthly reports? I looked in settings."),
    ("Password reset", "I did not receive the password reset email. Can you resend it?"),
    ("Add a user to our team", "How can I add a new user to our workspace and set their role?"),
    ("Dashboard question", "Is there a way to change the default date range on the dashboard?"),
    ("Integration setup", "We are setting up the calendar integration and want to confirm the steps."),
    ("Billing address", "Please update the billing address on our invoice to our new office."),
]
SCENARIOS: list[tuple[str, str, str, list[str], dict[str, Any]]] = [
    # (category, subject, description, tags, extra)
    ("security", "Possible data breach", "We noticed unauthorized access to several accounts last night. Possible data breach.", [], {}),
    ("outage", "API down for everyone", "Complete outage: the API is down and returns 503 for all our users. Service disruption since 9am.", ["p0"], {}),
    ("legal", "Legal notice", "Our attorney has advised us to prepare a lawsuit over the data loss.", [], {}),
    ("refund-big", "Refund request", "Please process a refund of $1,500 for the duplicate charge on our March invoice.", [], {"refund": 1500}),
    ("refund-small", "Small refund", "We request a refund of $200 for the unused seats.", [], {"refund": 200}),
    ("manager", "Unhappy with support", "This is the third time I ask. I want to speak to a manager about this.", [], {}),
    ("churn", "Cancelling", "If this is not fixed we will cancel our subscription and move to a competitor.", [], {}),
    ("p1", "Data integrity issue", "Some rows in the sync are corrupted after the last update.", ["p1"], {}),
    ("p2", "Feature broken for some users", "The CSV import fails for a subset of our users.", ["p2"], {}),
    ("p3", "Minor glitch", "A tooltip overlaps the save button.", ["p3"], {}),
    ("manual-context", "SSO errors", "Users see Invalid SAML response intermittently.", ["escalate"], {"context": True}),
    # (Was "Agent needs backend access to check this account.": the triage model reads that as
    # a security incident at 0.51, a known false positive (docs/triage.md); the scenario is
    # about a manual escalation without context, so its words stay clear of any category.)
    ("manual-bare", "Need a specialist", "Agent needs a specialist to look into why this customer's nightly export "
     "stops halfway.", ["escalate"], {}),
    ("fixed", "Sync bug fixed", "The sync bug was fixed by engineering; follow-up needed.", ["tier_l3", "fix_deployed"], {}),
]


def _plan_org(rng: random.Random, i: int) -> dict[str, Any]:
    plan = ["basic", "pro", "enterprise"][i % 3]
    arr = {"basic": rng.randrange(500, 5000), "pro": rng.randrange(5000, 60000), "enterprise": rng.randrange(40000, 250000)}[plan]
    return {"id": 9000 + i, "name": f"{['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark'][i % 6]} {i}",
            "plan": plan, "arr": arr, "health_score": rng.randrange(20, 100), "primary_contact": f"owner{i}@customer{i}.example"}


def _scenario(rng: random.Random, i: int) -> tuple[str, str, str, list[str], dict[str, Any]]:
    """(category, subject, description, tags, extra): the first rows cycle through SCENARIOS
    (every other row), the rest are noise."""
    if i < len(SCENARIOS) * 2 and i % 2 == 0:
        return SCENARIOS[(i // 2) % len(SCENARIOS)]
    subject, desc = rng.choice(NOISE)
    return "noise", subject, desc, [], {}


def _seed_comments(extra: dict[str, Any], replied: bool) -> list[dict[str, Any]]:
    comments: list[dict[str, Any]] = []
    if extra.get("context"):
        comments.append({"public": False, "by_agent": True, "body": (
            "Steps taken:\n- Verified the IdP metadata\n- Asked the customer to re-upload the certificate\n"
            "Customer impact: 50 users cannot log in reliably\nSuggested next step: check certificate caching")})
    if replied:
        comments.append({"public": True, "by_agent": True, "body": "Thanks, we are looking into it.", "after": 10})
    return comments


def _padded(rng: random.Random, desc: str) -> str:
    """Half the descriptions get 1-39 filler sentences (so bodies vary in length)."""
    if rng.random() < 0.5:
        return desc
    return desc + " " + " ".join(rng.choice(["Please advise.", "Thanks.", "Details attached.", "This blocks our team."])
                                 for _ in range(rng.randrange(1, 40)))


def _row(rng: random.Random, i: int, now: datetime, orgs: list[dict[str, Any]]) -> dict[str, Any]:
    """Row i; the order of the draws from `rng` is fixed (the same seed gives the same data)."""
    cat, subject, desc, tags, extra = _scenario(rng, i)
    noise = cat == "noise"
    age = timedelta(minutes=rng.choice([5, 30, 90, 150, 170, 185, 240, 400, 800, 1500, 2000, 3000]))
    org = rng.choice(orgs) if rng.random() < 0.9 else None
    status = rng.choices(["new", "open", "pending", "hold", "solved"], [2, 10, 2, 1, 1])[0] if noise else "open"
    replied = noise and rng.random() < 0.5
    description = _padded(rng, desc)
    vip = rng.random() < 0.05
    return {
        "id": i + 1, "category": cat, "subject": subject, "description": description,
        "tags": sorted(set(tags) | ({"vip"} if vip else set())),
        "created_at": now - age, "status": status, "org": org, "comments": _seed_comments(extra, replied),
        "priority": rng.choice([None, "low", "normal", "high", "urgent"]) if noise else "normal",
        "refund": extra.get("refund"), "severity": next((t for t in tags if t in ("p0", "p1", "p2", "p3")), None),
        "reopens": 1 if rng.random() < 0.05 else 0, "replied_after": 10 if replied else None,
    }


def generate(n: int, seed: int, now: datetime, spread: int = 0) -> list[dict[str, Any]]:
    """Flavour-neutral ticket scenarios: the same seed gives the same data.

    `spread` (seconds) ages each ticket by a further random amount: the ages
    above come from a dozen values, so thousands of tickets share a creation
    second, which no real helpdesk has (and which makes a Jira poll's overlap
    window hold a whole bucket). Its draws use their own generator, so every
    other field is the same as without it.
    """
    rng = random.Random(seed)
    orgs = [_plan_org(rng, i) for i in range(max(3, n // 8))]
    out = [_row(rng, i, now, orgs) for i in range(n)]
    if spread > 0:
        jitter = random.Random(f"spread-{seed}")
        for s in out:
            s["created_at"] -= timedelta(seconds=jitter.randrange(spread))
    return out


class SeededState:
    """What both flavours' data share: the clock, one lock, and a reset that load() seeds again."""

    def __init__(self, clock: SandboxClock):
        self.clock = clock
        self.lock = threading.RLock()
        # Told of every ticket created or changed (the server's webhook hub): (id, "created" | "updated").
        self.on_change: Callable[[Any, str], None] | None = None
        self._reset("")

    def _changed(self, ticket_id: Any, kind: str) -> None:
        if self.on_change is not None:
            self.on_change(ticket_id, kind)

    def _reset(self, base_url: str) -> None:
        """Empty the helpdesk (load() seeds it again); the clock and the lock stay."""
        self.base_url = base_url
        self.rows: dict[int, dict[str, Any]] = {}  # seeded tickets or issues not built yet
