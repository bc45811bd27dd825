"""Durations as policies write them (`4h`, `30m`, `1d`, `1h30m`, `90s`, `2w`), and as people read them;
and instants as configurations, fixtures and command lines write them (`parse_instant`).

Two kinds of duration are printed. Business time (SLA targets, clock
readings) is counted in the hours of a calendar, so a business day is the
calendar's open day (8 h for 09:00-17:00), never 24 h: `format_business`
takes the calendar's hours per day as a parameter (the engine stays pure).
Wall-clock spans (the ping-pong window, a de-escalation's minimum stay) use
`format_span`. No function here ever prints a negative duration: an elapsed
target reads as overdue (`format_left`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from tierlift.engine.errors import ConfigError

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
# Longer than any target, poll or look-back worth writing, and short enough that an
# instant plus or minus it stays a date: `99999999999d` overflowed timedelta (a traceback).
MAX_DURATION = timedelta(days=3650)
# The instants anything here is asked about; past them, adding a duration or a day
# overflowed datetime (`--now 9999-12-31T23:59:59Z`: "year 10000 is out of range").
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


class DurationError(ConfigError):
    pass


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 instant ("Z" or an offset; none means UTC), or a datetime as YAML read it.

    ValueError names what was expected; callers add where the value came from."""
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected an ISO 8601 instant such as 2026-11-02T14:00:00Z, got {value!r}") from None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    try:
        within = EARLIEST <= dt < LATEST
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        within = False
    if not within:
        raise ValueError(f"expected an instant between 1970 and 2999, got {value!s}")
    return dt


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, bool) or value is None:
        raise DurationError(f"expected a duration such as '4h', '30m' or '1d', got {value!r}")
    if isinstance(value, int | float):
        raise DurationError(f"expected a duration with a unit such as '{value}h' or '{value}m', got {value!r}")
    text = str(value).strip().lower().replace(" ", "")
    if not text:
        raise DurationError("expected a duration such as '4h', got an empty value")
    pos, seconds = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise DurationError(f"expected a duration such as '4h', '30m', '1d' or '1h30m', got {value!r}")
    if seconds <= 0:
        raise DurationError(f"expected a positive duration, got {value!r}")
    if seconds > MAX_DURATION.total_seconds():
        raise DurationError(f"expected a duration of at most 3650d (ten years), got {value!r}")
    return timedelta(seconds=seconds)


@lru_cache(maxsize=1024)  # a handful of SLA targets, formatted into every quiet ticket's reasons
def format_duration(delta: timedelta) -> str:
    """`2h 05m`, `3d 4h`, `45m`; negative values get a minus sign."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    if days:
        return f"{sign}{days}d {hours}h" if hours else f"{sign}{days}d"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m"


def _plural(n: float, unit: str) -> str:
    text = f"{n:.1f}".rstrip("0").rstrip(".") if n != int(n) else str(int(n))
    return f"{text} {unit}" if text == "1" else f"{text} {unit}s"


def _hours_minutes(minutes: int, unit: str) -> str:
    hours, mins = divmod(minutes, 60)
    if not hours:
        return _plural(mins, f"{unit}minute")
    text = _plural(hours, f"{unit}hour")
    return f"{text} {_plural(mins, 'minute')}" if mins else text


def _minutes(delta: timedelta) -> int:
    return abs(round(delta.total_seconds() / 60))


def _days_hours(minutes: int, day_minutes: int, unit: str = "business ") -> str:
    days, rest = divmod(minutes, day_minutes)
    text = _plural(days, f"{unit}day")
    return f"{text} {_hours_minutes(rest, unit)}" if rest else text


def _unit(day_hours: float) -> str:
    """"business " for a calendar with closed hours; nothing for one open round the clock
    (an on-call tier's 24x7: its 30 minutes are not "30 business minutes")."""
    return "" if day_hours >= 24 else "business "


@lru_cache(maxsize=1024)  # a handful of SLA targets, formatted into every quiet ticket's reasons
def format_business(delta: timedelta, day_hours: float = 24.0) -> str:
    """`24 business hours (3 business days)`, `2 business hours 30 minutes`, `45 business minutes`.

    `day_hours` is the calendar's open day (BusinessCalendar.day_hours); a
    duration of a day or more also says how many of those days it is. A calendar
    open round the clock reads in plain time: `30 minutes`, `48 hours (2 days)`.
    """
    minutes, unit = _minutes(delta), _unit(day_hours)
    text = _hours_minutes(minutes, unit)
    day_minutes = max(1, round(day_hours * 60))
    if minutes >= day_minutes:
        text += f" ({_days_hours(minutes, day_minutes, unit)})"
    return text


def format_business_span(delta: timedelta, day_hours: float = 24.0) -> str:
    """`5 business days 3 business hours`: an elapsed or remaining span, days first
    (`1 day 2 hours` on a calendar open round the clock)."""
    minutes, unit = _minutes(delta), _unit(day_hours)
    day_minutes = max(1, round(day_hours * 60))
    return _days_hours(minutes, day_minutes, unit) if minutes >= day_minutes else _hours_minutes(minutes, unit)


def format_left(left: timedelta, day_hours: float = 24.0) -> str:
    """`3 business hours left`, or `breached 2 business days 1 business hour ago` once past."""
    if left.total_seconds() < 0:
        return f"breached {format_business_span(left, day_hours)} ago"
    return f"{format_business_span(left, day_hours)} left"


def format_span(delta: timedelta) -> str:
    """A wall-clock duration: `1 day`, `2 hours`, `1 hour 30 minutes`, `36 hours`."""
    minutes = _minutes(delta)
    if minutes and minutes % 1440 == 0:
        return _plural(minutes // 1440, "day")
    return _hours_minutes(minutes, "")


def format_elapsed(delta: timedelta) -> str:
    """A long wall-clock span as the calendar counts it: `1 day 9 hours`, `7 days 8 hours`,
    `13 hours 20 minutes` (minutes only under a day: a report's median, a time ago)."""
    minutes = _minutes(delta)
    days, rest = divmod(minutes, 1440)
    if not days:
        return _hours_minutes(rest, "")
    hours = rest // 60
    return f"{_plural(days, 'day')} {_plural(hours, 'hour')}" if hours else _plural(days, "day")
