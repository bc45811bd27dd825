"""The reference business-hours clock (tests/refhours.py) against its own definition.

The definition is a plain loop: one UTC minute at a time, open or not by its local
time. The reference keeps those answers per day as running counts and walks by
days; here both are compared, off the minute too, on the packs' own calendars and
on the awkward ones (DST gaps and folds, a half-hour zone, a split day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from refhours import RefHours

SPECS = [
    {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"}, "holidays": [date(2026, 11, 26)]},
    {"timezone": "America/New_York", "hours": {"sun": "00:00-04:00", "mon-sat": "01:00-03:00"}},
    {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["08:00-12:00", "13:00-17:30"], "sat": "10:00-14:00"}},
    {"timezone": "Asia/Kolkata", "hours": {"fri-mon": "22:30-24:00"}},
]
START = [datetime(2026, 3, 7, 12, tzinfo=UTC), datetime(2026, 10, 31, 12, tzinfo=UTC),
         datetime(2026, 11, 25, 3, tzinfo=UTC), datetime(2026, 3, 28, 12, tzinfo=UTC)]


def plain(ref: RefHours, a: datetime, b: datetime) -> timedelta:
    """The definition, literally: each UTC minute counts the part of it inside [a, b) if open."""
    total, m = timedelta(0), a.replace(second=0, microsecond=0)
    while m < b:
        if ref.is_open(m):
            total += min(b, m + timedelta(minutes=1)) - max(a, m)
        m += timedelta(minutes=1)
    return total


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(range(len(SPECS))), st.sampled_from(START), st.integers(0, 3 * 86400),
       st.integers(0, 2 * 86400))
def test_the_day_walk_is_the_minute_loop(i, start, off, span):
    ref = RefHours.from_spec(SPECS[i])
    a = start + timedelta(seconds=off, microseconds=off % 7 * 1000)
    b = a + timedelta(seconds=span)
    assert ref.elapsed(a, b) == plain(ref, a, b)
    d = ref.elapsed(a, b)
    if d:
        t = ref.add(a, d)
        assert t <= b and plain(ref, a, t) == d  # the earliest instant that reaches it
        assert plain(ref, a, t - timedelta(seconds=1)) < d


def test_the_gap_takes_no_time_and_the_fold_counts_twice():
    night = RefHours.from_spec(SPECS[1])  # 01:00-03:00 local on Saturdays, 00:00-04:00 on Sundays
    spring = datetime(2026, 3, 8, 5, tzinfo=UTC)  # Sunday 00:00 EST; 02:00-03:00 does not exist
    assert night.elapsed(spring, spring + timedelta(hours=6)) == timedelta(hours=3)
    autumn = datetime(2026, 11, 1, 4, tzinfo=UTC)  # Sunday 00:00 EDT; 01:00-02:00 happens twice
    assert night.elapsed(autumn, autumn + timedelta(hours=8)) == timedelta(hours=5)


def test_a_pack_reads_its_holidays_from_its_yaml():
    three = RefHours.of_pack("three-tier")
    thanksgiving = datetime(2026, 11, 26, 15, tzinfo=UTC)  # Thursday 10:00 in New York
    assert not three.is_open(thanksgiving) and three.is_open(thanksgiving + timedelta(days=1))
    wednesday_4pm = datetime(2026, 11, 25, 21, tzinfo=UTC)
    assert three.add(wednesday_4pm, timedelta(hours=3)) == datetime(2026, 11, 27, 16, tzinfo=UTC)  # Friday 11:00
    assert RefHours.of_pack("teamflow").always
