"""Business-hours clock: properties (Hypothesis) and the DST cases, against a brute-force reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tierlift.engine.calendar import BusinessCalendar, CalendarError

CALENDARS = {
    "new-york-9-17": BusinessCalendar.from_spec("ny", {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"},
                                                       "holidays": ["2026-11-26", "2026-03-09"]}),
    "berlin-split": BusinessCalendar.from_spec("ber", {"timezone": "Europe/Berlin",
                                                       "hours": {"mon-fri": ["08:00-12:00", "13:00-17:30"], "sat": "10:00-14:00"}}),
    "sydney-all-day": BusinessCalendar.from_spec("syd", {"timezone": "Australia/Sydney", "hours": {"mon-sun": "00:00-24:00"},
                                                         "holidays": ["2026-04-05"]}),
    "new-york-night": BusinessCalendar.from_spec("nyn", {"timezone": "America/New_York", "hours": {"sun": "00:00-04:00", "mon-sat": "01:00-03:00"}}),
    "kolkata": BusinessCalendar.from_spec("kol", {"timezone": "Asia/Kolkata", "hours": {"mon-fri": "09:30-18:00"}}),
    "24x7": BusinessCalendar.always_open(),
}
# Instants around the 2026 DST changes of the zones above, and ordinary weeks.
ANCHORS = [datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 3, 27, tzinfo=UTC),
           datetime(2026, 4, 2, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)]


def brute(cal: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    """Minute by minute in UTC: the reference the fast arithmetic must match."""
    total, t = 0, a
    while t < b:
        if cal.is_open(t):
            total += 60
        t += timedelta(minutes=1)
    return timedelta(seconds=total)


cal_names = st.sampled_from(sorted(CALENDARS))
instants = st.builds(lambda anchor, minutes: anchor + timedelta(minutes=minutes),
                     st.sampled_from(ANCHORS), st.integers(0, 6 * 1440))
spans = st.integers(0, 4 * 1440).map(lambda m: timedelta(minutes=m))


@settings(max_examples=60, deadline=None)
@given(cal_names, instants, spans)
def test_elapsed_matches_the_minute_by_minute_reference(name, a, span):
    cal = CALENDARS[name]
    assert cal.elapsed(a, a + span) == brute(cal, a, a + span)


@settings(max_examples=150, deadline=None)
@given(cal_names, instants, spans, spans)
def test_elapsed_is_additive_over_a_split_and_monotonic(name, a, s1, s2):
    cal = CALENDARS[name]
    b, c = a + s1, a + s1 + s2
    assert cal.elapsed(a, c) == cal.elapsed(a, b) + cal.elapsed(b, c)
    assert cal.elapsed(a, b) <= cal.elapsed(a, c)


@settings(max_examples=150, deadline=None)
@given(cal_names, instants, st.integers(1, 5000).map(lambda m: timedelta(minutes=m, seconds=7)))
def test_add_is_the_earliest_inverse_of_elapsed(name, a, d):
    cal = CALENDARS[name]
    t = cal.add(a, d)
    assert cal.elapsed(a, t) == d
    assert cal.elapsed(a, t - timedelta(seconds=1)) < d


def test_zero_inside_closed_hours():
    ny = CALENDARS["new-york-9-17"]
    sat = datetime(2026, 11, 7, 15, tzinfo=UTC)
    assert ny.elapsed(sat, sat + timedelta(hours=20)) == timedelta(0)
    night = datetime(2026, 11, 3, 2, tzinfo=UTC)  # 21:00 Monday in New York
    assert ny.elapsed(night, night + timedelta(hours=10)) == timedelta(0)
    thanksgiving = datetime(2026, 11, 26, 14, tzinfo=UTC)
    assert ny.elapsed(thanksgiving, thanksgiving + timedelta(hours=8)) == timedelta(0)


@pytest.mark.parametrize("tz,day,hours", [
    ("America/New_York", "2026-03-08", 23), ("America/New_York", "2026-11-01", 25),
    ("Europe/London", "2026-03-29", 23), ("Europe/London", "2026-10-25", 25),
    ("Australia/Sydney", "2026-04-05", 25), ("Australia/Sydney", "2026-10-04", 23),
])
def test_an_all_day_calendar_counts_real_hours_on_dst_days(tz, day, hours):
    from zoneinfo import ZoneInfo

    cal = BusinessCalendar.from_spec("d", {"timezone": tz, "hours": {"mon-sun": "00:00-24:00"}, "holidays": ["2000-01-01"]})
    d = datetime.fromisoformat(day)
    start = d.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    end = (d + timedelta(days=1)).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    assert cal.elapsed(start, end) == timedelta(hours=hours)


def test_nine_to_five_is_eight_real_hours_on_dst_days():
    from zoneinfo import ZoneInfo

    cal = BusinessCalendar.from_spec("d", {"timezone": "America/New_York", "hours": {"mon-sun": "09:00-17:00"}})
    for day in ("2026-03-08", "2026-11-01"):
        d = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo("America/New_York"))
        assert cal.elapsed(d.astimezone(UTC), (d + timedelta(days=1)).astimezone(UTC)) == timedelta(hours=8)


def test_five_years_equals_the_arithmetic_expectation():
    ny = BusinessCalendar.from_spec("ny", {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"},
                                           "holidays": ["2027-12-24", "2028-07-04"]})
    start = datetime(2026, 1, 5, 5, tzinfo=UTC)  # Monday 00:00 New York
    end = start + timedelta(weeks=260)  # 260 whole weeks later: Monday 00:00 again (DST-neutral)
    assert ny.elapsed(start, end) == timedelta(hours=260 * 40 - 2 * 8)


def test_spec_errors_name_the_key():
    cases = [
        ({"timezone": "Mars/Olympus", "hours": {"mon": "09:00-17:00"}}, "timezone"),
        ({"hours": {"funday": "09:00-17:00"}}, "hours.funday"),
        ({"hours": {"mon": "9-5"}}, "hours.mon"),
        ({"hours": {"mon": "17:00-09:00"}}, "hours.mon"),
        ({"hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "hours.mon"),
        ({"hours": {"mon": "closed"}}, "hours"),
        ({"hours": {"mon": "09:00-17:00"}, "holidays": ["christmas"]}, "holidays"),
    ]
    for spec, key in cases:
        with pytest.raises(CalendarError) as exc:
            BusinessCalendar.from_spec("x", spec)
        assert str(exc.value).startswith(key), (spec, str(exc.value))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        BusinessCalendar.always_open().elapsed(datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_next_open():
    ny = CALENDARS["new-york-9-17"]
    fri_evening = datetime(2026, 11, 6, 23, tzinfo=UTC)
    assert ny.next_open(fri_evening) == datetime(2026, 11, 9, 14, tzinfo=UTC)
    assert ny.next_open(datetime(2026, 11, 9, 15, tzinfo=UTC)) == datetime(2026, 11, 9, 15, tzinfo=UTC)
