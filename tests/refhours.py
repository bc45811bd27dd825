"""The tests' own business-hours clock: minute by minute in UTC with zoneinfo, read from the pack's YAML.

It shares nothing with the clock it judges (engine/calendar.py): the opening
hours and holidays are parsed here from the calendar's spec (a policy file's
`calendars:` entry, read with yaml), and time is walked one UTC minute at a
time, each minute asking zoneinfo for its local wall-clock time.

Why a minute is exact: every opening boundary is a whole local minute, and
every UTC offset in use (and each change of it) falls on a whole minute
(`_open_minutes` refuses a zone where it does not), so the local wall clock,
and with it "open", is the same all through each UTC minute [m, m + 1 min).
A span's business time is then its open whole minutes plus the open parts of
the minutes at its two ends; `add` is the earliest instant at which that
reaches the duration. A local time that does not exist (the spring-forward
gap) is never shown by any UTC minute, so it takes no time; a local hour shown
twice (the fall-back fold) counts twice when open.

Speed: a UTC day's 1,440 answers are computed once per calendar and kept as a
running count, so a walk costs one step per day it crosses, not one per
minute (the floor's oracle asks thousands of times over the same few weeks).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

POLICIES = Path(__file__).resolve().parent.parent / "policies"
MINUTE = timedelta(minutes=1)
DAY_MINUTES = 1440
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _days(key: str) -> list[int]:
    """'mon-fri' -> [0..4]; 'sat,sun' -> [5, 6]; a range may wrap ('fri-mon')."""
    out: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        i = WEEKDAYS.index(first)
        j = WEEKDAYS.index(last or first)
        out += [(i + k) % 7 for k in range((j - i) % 7 + 1)]
    return out


def _ranges(value: Any) -> list[tuple[int, int]]:
    """'09:00-17:00' or a list of them -> [(540, 1020)] in minutes of the local day; 'closed' -> []."""
    if value in (None, "closed"):
        return []
    out = []
    for text in value if isinstance(value, list) else [value]:
        h1, m1, h2, m2 = map(int, _RANGE.match(str(text)).groups())  # type: ignore[union-attr]
        out.append((h1 * 60 + m1, h2 * 60 + m2))
    return out


def _floor_minute(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass
class RefHours:
    """Business time of one calendar: `elapsed(a, b)` and its earliest inverse `add(a, d)`."""

    timezone: str
    weekly: dict[int, list[tuple[int, int]]]  # weekday -> [(start minute, end minute)] of the local day
    holidays: frozenset[date] = frozenset()
    always: bool = False  # 24x7: every minute is open
    _tables: dict[date, list[int]] = field(default_factory=dict, repr=False)

    # --- construction ------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> RefHours:
        """A `calendars:` entry: {timezone, hours: {days: ranges}, holidays: [dates]}."""
        weekly: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
        for key, value in (spec.get("hours") or {}).items():
            for d in _days(str(key)):
                weekly[d] += _ranges(value)
        holidays = frozenset(h if isinstance(h, date) else date.fromisoformat(str(h)) for h in spec.get("holidays") or [])
        return cls(spec.get("timezone", "UTC"), weekly, holidays)

    @classmethod
    def always_open(cls) -> RefHours:
        return cls("UTC", {d: [(0, DAY_MINUTES)] for d in range(7)}, always=True)

    @classmethod
    def of_pack(cls, pack: str, calendar: str | None = None) -> RefHours:
        """The pack's calendar (its `calendar:` key unless `calendar` names another), read from
        policies/<pack>.yaml; a pack without one, or '24x7', is always open."""
        esc = yaml.safe_load((POLICIES / f"{pack}.yaml").read_text(encoding="utf-8"))["escalation"]
        name = calendar or esc.get("calendar") or "24x7"
        spec = (esc.get("calendars") or {}).get(name)
        return cls.from_spec(spec) if spec is not None else cls.always_open()

    # --- the definition ----------------------------------------------------------------------
    def is_open(self, t: datetime) -> bool:
        """Open at `t`: its local date is no holiday and its local minute of the day is in a range."""
        local = t.astimezone(ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        return local.date() not in self.holidays and any(s <= minute < e for s, e in self.weekly[local.weekday()])

    def _open_minutes(self, day: date) -> list[int]:
        """Running count of the open UTC minutes of `day`: [0, open in minute 0, ..., open in the day]."""
        table = self._tables.get(day)
        if table is None:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            table = [0]
            for i in range(DAY_MINUTES):
                t = start + i * MINUTE
                if t.astimezone(ZoneInfo(self.timezone)).utcoffset() % MINUTE:  # type: ignore[operator]
                    raise ValueError(f"{self.timezone}: an offset of seconds; a minute is not exact here")
                table.append(table[-1] + (self.always or self.is_open(t)))
            self._tables[day] = table
        return table

    def _minute_open(self, m: datetime) -> bool:
        table = self._open_minutes(m.date())
        i = m.hour * 60 + m.minute
        return table[i + 1] > table[i]

    # --- the walk ----------------------------------------------------------------------------
    def _count(self, x: datetime, y: datetime) -> int:
        """Open whole minutes in [x, y), both on UTC minutes."""
        n = 0
        while x < y:
            table = self._open_minutes(x.date())
            midnight = datetime(x.year, x.month, x.day, tzinfo=UTC)
            i = (x - midnight) // MINUTE
            j = min(DAY_MINUTES, (y - midnight) // MINUTE)
            n += table[j] - table[i]
            x = midnight + j * MINUTE
        return n

    def _nth_open(self, x: datetime, k: int) -> datetime:
        """The start of the k-th (k >= 1) open minute at or after `x` (on a UTC minute)."""
        for _ in range(3700):  # ten years: a calendar that never opens is an error, not a hang
            table = self._open_minutes(x.date())
            midnight = datetime(x.year, x.month, x.day, tzinfo=UTC)
            i = (x - midnight) // MINUTE
            if table[DAY_MINUTES] - table[i] >= k:
                j = bisect.bisect_left(table, table[i] + k, lo=i + 1)
                return midnight + (j - 1) * MINUTE
            k -= table[DAY_MINUTES] - table[i]
            x = midnight + timedelta(days=1)
        raise ValueError("the calendar does not open within ten years")

    def elapsed(self, a: datetime, b: datetime) -> timedelta:
        """Business time in [a, b) (0 when b <= a)."""
        if b <= a:
            return timedelta(0)
        if self.always:
            return b - a
        m0, m1 = _floor_minute(a), _floor_minute(b)
        if m0 == m1:
            return b - a if self._minute_open(m0) else timedelta(0)
        head = m0 + MINUTE - a if self._minute_open(m0) else timedelta(0)
        tail = b - m1 if self._minute_open(m1) else timedelta(0)
        return head + self._count(m0 + MINUTE, m1) * MINUTE + tail

    def add(self, a: datetime, d: timedelta) -> datetime:
        """The earliest instant t with elapsed(a, t) == d (a itself when d <= 0)."""
        if d <= timedelta(0):
            return a
        if self.always:
            return a + d
        m0 = _floor_minute(a)
        if self._minute_open(m0):
            if m0 + MINUTE - a >= d:
                return a + d
            d -= m0 + MINUTE - a
        full, rest = divmod(d, MINUTE)
        if rest:  # the open part of one more minute
            return self._nth_open(m0 + MINUTE, full + 1) + rest
        return self._nth_open(m0 + MINUTE, full) + MINUTE
