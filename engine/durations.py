"""Durations as policies write them: `4h`, `30m`, `1d`, `1h30m`, `90s`, `2w`."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from typing import Any

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


class DurationError(ValueError):
    pass


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
