"""Business-hours calendars: elapsed business time and its inverse, exact across DST.

Invariants:
- opening hours are LOCAL wall-clock times; business time is REAL time (the
  UTC difference) spent inside them. A 09:00-17:00 day lasts 8 real hours on
  a DST change day; an all-day 00:00-24:00 day lasts 23 or 25.
- cost does not grow with the span: the span is cut where the zone's UTC
  offset changes (at most a few times a year; transitions are found once per
  zone and year, then cached), and inside each constant-offset piece whole
  weeks are counted arithmetically, holidays subtracted with bisect over
  prefix sums, and only the partial days at both ends are walked.
- all results are aware UTC datetimes; naive inputs are refused.

Local times that do not exist (the spring-forward gap) have no duration; a
local hour that happens twice (the fall-back fold) counts twice when open.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tierlift.engine.errors import ConfigError

DAY = 86400
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class CalendarError(ConfigError):
    """A calendar specification that cannot be used; the message names the key."""


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("business-time calculations need timezone-aware datetimes")
    return dt


@lru_cache(maxsize=256)
def _transitions(tz_name: str, year: int) -> tuple[int, ...]:
    """UTC epoch seconds at which the zone's offset changes during `year`."""
    tz = ZoneInfo(tz_name)

    def offset(ts: int) -> timedelta:
        return datetime.fromtimestamp(ts, UTC).astimezone(tz).utcoffset() or timedelta(0)

    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
    points = list(range(start, end, 7 * DAY)) + [end]
    out = []
    for a, b in zip(points, points[1:], strict=False):
        if offset(a) != offset(b):
            lo, hi = a, b  # offset(lo) != offset(hi): bisect to the second
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == offset(lo):
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
    return tuple(out)


# Names tzdata knows that do not mean what a team writing them means: EST and MST are a
# fixed offset all year (New York and Denver keep daylight saving), `localtime` is whatever
# the machine running tierlift says, `Factory` is no place.
MISREAD_ZONES = {
    "EST": "is UTC-05:00 all year, without daylight saving: write America/New_York for US Eastern"
           " time (or Etc/GMT+5 if a fixed offset is meant)",
    "MST": "is UTC-07:00 all year, without daylight saving: write America/Denver for US Mountain time,"
           " America/Phoenix for Arizona (or Etc/GMT+7 if a fixed offset is meant)",
    "localtime": "is the zone of whichever machine runs tierlift: write the team's zone by its IANA name",
    "Factory": "is no place: write the team's zone by its IANA name, such as Europe/Berlin",
}


@dataclass(frozen=True)
class BusinessCalendar:
    name: str
    timezone: str
    weekly: tuple[tuple[tuple[int, int], ...], ...]  # weekday -> ((start_min, end_min), ...)
    holidays: frozenset[date] = frozenset()
    _day_secs: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _week_secs: int = field(init=False, repr=False, compare=False)
    _hol_ord: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _hol_prefix: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _hol_set: frozenset[int] = field(init=False, repr=False, compare=False)
    _always: bool = field(init=False, repr=False, compare=False)
    _year_corr: dict[int, float] = field(init=False, repr=False, compare=False)
    _piece_off: dict[float | None, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: `America`, a folder of tzdata
            raise CalendarError(f"timezone: unknown time zone '{self.timezone}'") from None
        if self.timezone in MISREAD_ZONES:
            raise CalendarError(f"timezone: '{self.timezone}' {MISREAD_ZONES[self.timezone]}")
        if len(self.weekly) != 7:
            raise CalendarError("hours: expected opening hours for 7 weekdays")
        day_secs = tuple(sum((e - s) * 60 for s, e in day) for day in self.weekly)
        if not any(day_secs):
            raise CalendarError("hours: the calendar is never open")
        hol = sorted(d.toordinal() for d in self.holidays)
        prefix = [0]
        for o in hol:
            prefix.append(prefix[-1] + day_secs[date.fromordinal(o).weekday()])
        object.__setattr__(self, "_day_secs", day_secs)
        object.__setattr__(self, "_week_secs", sum(day_secs))
        object.__setattr__(self, "_hol_ord", tuple(hol))
        object.__setattr__(self, "_hol_set", frozenset(hol))
        object.__setattr__(self, "_hol_prefix", tuple(prefix))
        object.__setattr__(self, "_always", all(day == ((0, 1440),) for day in self.weekly) and not hol)
        object.__setattr__(self, "_year_corr", {})
        object.__setattr__(self, "_piece_off", {})

    @property
    def day_hours(self) -> float:
        """A business day's length in hours: the usual open day (8.0 for 09:00-17:00, 24.0 for 24x7).

        The most common length among open weekdays (the longest on a tie), so a
        short Saturday does not make every "business day" shorter.
        """
        open_days = [s for s in self._day_secs if s]
        secs = max(open_days, key=lambda s: (open_days.count(s), s))
        return secs / 3600

    # --- construction -----------------------------------------------------------
    @classmethod
    def always_open(cls, name: str = "24x7") -> BusinessCalendar:
        return cls(name, "UTC", tuple(((0, 1440),) for _ in range(7)), frozenset())

    @classmethod
    def from_spec(cls, name: str, spec: Mapping[str, Any]) -> BusinessCalendar:
        for key in spec:
            if key not in ("timezone", "hours", "holidays"):
                raise CalendarError(f"{key}: unknown key (expected timezone, hours, holidays)")
        tz = spec.get("timezone", "UTC")
        if not isinstance(tz, str):
            raise CalendarError(f"timezone: expected an IANA name such as America/New_York, got {tz!r}")
        hours = spec.get("hours")
        if not isinstance(hours, Mapping) or not hours:
            raise CalendarError("hours: expected a mapping such as {mon-fri: '09:00-17:00'}")
        weekly: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for key, value in hours.items():
            days = _parse_days(str(key))
            ranges = _parse_ranges(str(key), value)
            for d in days:
                weekly[d].extend(ranges)
        for d, ranges in enumerate(weekly):
            ranges.sort()
            for (_s1, e1), (s2, _e2) in zip(ranges, ranges[1:], strict=False):
                if s2 < e1:
                    raise CalendarError(f"hours.{DAYS[d]}: opening ranges overlap")
        holidays = frozenset(_parse_holiday(h) for h in _holiday_list(spec.get("holidays")))
        return cls(name, tz, tuple(tuple(r) for r in weekly), holidays)

    # --- queries --------------------------------------------------------------------
    def is_open(self, at: datetime) -> bool:
        local = _aware(at).astimezone(ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(s <= minute < e for s, e in self.weekly[local.weekday()])

    def next_open(self, at: datetime) -> datetime:
        at = _aware(at).astimezone(UTC)
        if self.is_open(at):
            return at
        # The earliest instant after `at` whose business time is positive.
        return self.add(at, timedelta(seconds=1)) - timedelta(seconds=1)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        a, b = _aware(start).timestamp(), _aware(end).timestamp()
        if b <= a:
            return timedelta(0)
        if self._always:
            return timedelta(seconds=b - a)
        # Telescoping over the constant-offset pieces of [a, b): the wall-clock
        # count from a's local time to b's local time, minus, for each offset
        # change inside, the open wall seconds its gap skipped (or its fold
        # repeated, which adds them back). Those corrections depend only on
        # the transition, so they are computed once per zone-year and cached.
        total = self._wall_signed(a + self._piece(a)[0], b + self._piece(b)[0]) - self._corrections(a, b)
        return timedelta(seconds=total)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        a = _aware(start).timestamp()
        need = duration.total_seconds()
        if need <= 0:
            return datetime.fromtimestamp(a, UTC)
        if self._always:
            return datetime.fromtimestamp(a + need, UTC)
        seg_start = a
        while True:
            off, seg_end = self._piece(seg_start)
            wall = self._wall_add(seg_start + off, need)
            if seg_end is None or wall <= seg_end + off:
                return datetime.fromtimestamp(wall - off, UTC)
            # The answer lies past an offset change: use up this piece, go on from there.
            need -= self._wall_secs(seg_start + off, seg_end + off)
            seg_start = seg_end

    # --- internals --------------------------------------------------------------------
    def _piece(self, ts: float) -> tuple[float, float | None]:
        """(UTC offset at `ts`, the next offset change): the offset holds until that change,
        so it is looked up in the zone once per piece, not on every call (engine speed)."""
        nxt = self._next_transition(ts)
        off = self._piece_off.get(nxt)
        if off is None:
            off = self._offset(ts)
            self._piece_off[nxt] = off
        return off, nxt

    def _offset(self, ts: float) -> float:
        dt = datetime.fromtimestamp(ts, UTC).astimezone(ZoneInfo(self.timezone))
        return (dt.utcoffset() or timedelta(0)).total_seconds()

    def _next_transition(self, ts: float) -> float | None:
        year = datetime.fromtimestamp(ts, UTC).year
        for y in range(year, year + 3):
            for t in _transitions(self.timezone, y):
                if t > ts:
                    return float(t)
        return None  # no change within two years: treat as constant (zones without DST)

    def _wall_signed(self, x: float, y: float) -> float:
        return self._wall_secs(x, y) if y >= x else -self._wall_secs(y, x)

    def _correction(self, t: int) -> float:
        corr = self._year_corr.get(-t)  # transitions are keyed by -t, years by year
        if corr is None:
            corr = self._wall_signed(t + self._offset(t - 1), t + self._offset(t))
            self._year_corr[-t] = corr
        return corr

    def _year_correction(self, year: int) -> float:
        corr = self._year_corr.get(year)
        if corr is None:
            corr = sum(self._correction(t) for t in _transitions(self.timezone, year))
            self._year_corr[year] = corr
        return corr

    def _corrections(self, a: float, b: float) -> float:
        """Sum of transition corrections for transitions t with a < t <= b."""
        y0 = datetime.fromtimestamp(a, UTC).year
        y1 = datetime.fromtimestamp(b, UTC).year
        if y0 == y1:
            return sum(self._correction(t) for t in _transitions(self.timezone, y0) if a < t <= b)
        total = sum(self._correction(t) for t in _transitions(self.timezone, y0) if t > a)
        total += sum(self._correction(t) for t in _transitions(self.timezone, y1) if t <= b)
        return total + sum(self._year_correction(y) for y in range(y0 + 1, y1))

    def _day_open(self, ordinal: int) -> int:
        if ordinal in self._hol_set:
            return 0
        return self._day_secs[(ordinal - 1) % 7]

    def _holiday_secs(self, first: int, last: int) -> int:
        """Business seconds of holidays on days first..last-1 (ordinals)."""
        i = bisect.bisect_left(self._hol_ord, first)
        j = bisect.bisect_left(self._hol_ord, last)
        return self._hol_prefix[j] - self._hol_prefix[i]

    def _full_days(self, first: int, last: int) -> int:
        """Business seconds of whole days first..last-1 (ordinals)."""
        n = last - first
        if n <= 0:
            return 0
        weeks, rem = divmod(n, 7)
        wd = (first - 1) % 7
        total = weeks * self._week_secs + sum(self._day_secs[(wd + k) % 7] for k in range(rem))
        return total - self._holiday_secs(first, last)

    def _within_day(self, ordinal: int, from_s: float, to_s: float) -> float:
        """Open seconds between two second-of-day offsets on one local day."""
        if ordinal in self._hol_set:
            return 0.0
        total = 0.0
        for s, e in self.weekly[(ordinal - 1) % 7]:
            lo, hi = max(s * 60, from_s), min(e * 60, to_s)
            if hi > lo:
                total += hi - lo
        return total

    def _wall_secs(self, wa: float, wb: float) -> float:
        """Open seconds between two naive wall-clock instants (as epoch-like seconds)."""
        if wb <= wa:
            return 0.0
        da, sa = divmod(wa, DAY)
        db, sb = divmod(wb, DAY)
        oa, ob = int(da) + _EPOCH_ORD, int(db) + _EPOCH_ORD
        if oa == ob:
            return self._within_day(oa, sa, sb)
        return self._within_day(oa, sa, DAY) + self._full_days(oa + 1, ob) + self._within_day(ob, 0, sb)

    def _wall_add(self, wa: float, need: float) -> float:
        """The wall instant by which `need` open seconds have passed since `wa`."""
        day, sec = divmod(wa, DAY)
        ordinal = int(day) + _EPOCH_ORD
        first = self._within_day(ordinal, sec, DAY)
        if first >= need:
            return self._locate(ordinal, sec, need) + (ordinal - _EPOCH_ORD) * DAY
        need -= first
        ordinal += 1
        # Skip whole weeks arithmetically, then add back what holidays took.
        while need > self._week_secs:
            weeks = int(need // self._week_secs) - 1 or 1
            got = self._full_days(ordinal, ordinal + 7 * weeks)
            if got >= need:
                break
            need -= got
            ordinal += 7 * weeks
        while True:
            today = self._day_open(ordinal)
            if today >= need:
                return self._locate(ordinal, 0.0, need) + (ordinal - _EPOCH_ORD) * DAY
            need -= today
            ordinal += 1

    def _locate(self, ordinal: int, from_s: float, need: float) -> float:
        """Second-of-day at which `need` open seconds after `from_s` have passed."""
        for s, e in self.weekly[(ordinal - 1) % 7]:
            lo, hi = max(s * 60, from_s), e * 60
            if hi <= lo:
                continue
            if hi - lo >= need:
                return lo + need
            need -= hi - lo
        return float(DAY)  # unreachable when the caller checked the day's capacity


_EPOCH_ORD = date(1970, 1, 1).toordinal()


def _parse_days(key: str) -> list[int]:
    out: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            if a not in DAYS or b not in DAYS:
                raise CalendarError(f"hours.{key}: expected days such as mon-fri or sat,sun")
            i, j = DAYS.index(a), DAYS.index(b)
            out.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise CalendarError(f"hours.{key}: expected days such as mon-fri or sat,sun")
    return out


def _parse_ranges(key: str, value: Any) -> list[tuple[int, int]]:
    if value == "closed" or value is None:
        return []
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        m = _RANGE.match(str(v)) if isinstance(v, str) else None
        if not m:
            raise CalendarError(f"hours.{key}: expected 'HH:MM-HH:MM', got {v!r}")
        h1, m1, h2, m2 = map(int, m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 1440:
            raise CalendarError(f"hours.{key}: times must be within 00:00-24:00, got {v!r}")
        if end <= start:
            raise CalendarError(f"hours.{key}: the end must be after the start, got {v!r}")
        out.append((start, end))
    return out


def _holiday_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CalendarError("holidays: expected a list of dates such as [2026-12-25]")
    return value


def _parse_holiday(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise CalendarError(f"holidays: expected a date such as 2026-12-25, got {value!r}") from None
